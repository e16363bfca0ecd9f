// ModelProto -> IR. Names are resolved through the scope chain (a subgraph sees its own values, then
// its enclosing graphs'), so each use is recorded on the exact Value it reads.

import { create } from '@bufbuild/protobuf';
import { EdgefitError } from '../errors.js';
import {
  AttributeProto_AttributeType as AT,
  type AttributeProto,
  AttributeProtoSchema,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TypeProto,
  type ValueInfoProto,
} from '../onnx/gen/onnx_pb.js';
import { type Attribute, type Dim, Graph, Model, Node, type TensorType, Value } from './graph.js';
import { type ExternalDataSource, elementCount, tensorFromProto } from './tensor-proto.js';

export function tensorTypeFromProto(tp: TypeProto | undefined): TensorType | undefined {
  if (tp?.value.case !== 'tensorType') return undefined;
  const t = tp.value.value;
  const shape: Dim[] | undefined = t.shape
    ? t.shape.dim.map((d) =>
        d.value.case === 'dimValue'
          ? // ONNX Runtime reads a negative dim_value (some exporters write -1) as an unknown dim
            d.value.value < 0n
            ? null
            : Number(d.value.value)
          : d.value.case === 'dimParam'
            ? d.value.value
            : null,
      )
    : undefined;
  return { elemType: t.elemType, shape };
}

class Scope {
  private readonly values = new Map<string, Value>();
  constructor(readonly parent: Scope | undefined) {}
  define(v: Value): void {
    this.values.set(v.name, v);
  }
  lookup(name: string): Value | undefined {
    return this.values.get(name) ?? this.parent?.lookup(name);
  }
  has(name: string): boolean {
    return this.values.has(name);
  }
}

function applyValueInfo(v: Value, info: ValueInfoProto): void {
  v.typeProto = info.type;
  v.type = tensorTypeFromProto(info.type);
  v.docString = info.docString;
  v.metadataProps = info.metadataProps;
}

function graphLabel(g: GraphProto): string {
  return g.name ? `graph "${g.name}"` : 'the graph';
}

function convertAttribute(
  a: AttributeProto,
  node: Node,
  scope: Scope,
  source: ExternalDataSource | undefined,
): Attribute {
  const rest = create(AttributeProtoSchema, { ...a, t: undefined, g: undefined, tensors: [], graphs: [] });
  const attr: Attribute = { name: a.name, type: a.type, proto: rest };
  const where = `attribute ${a.name} of node ${node.name || node.opType}`;
  if (a.t) attr.t = tensorFromProto(a.t, source, `tensor in ${where}`);
  if (a.tensors.length) attr.tensors = a.tensors.map((t) => tensorFromProto(t, source, `tensor in ${where}`));
  if (a.g) attr.g = convertGraph(a.g, node.graph.model, node, scope, source);
  if (a.graphs.length)
    attr.graphs = a.graphs.map((g) => convertGraph(g, node.graph.model, node, scope, source));
  if (a.type === AT.UNDEFINED) {
    // IR version 1 files may omit the type: infer it from the field that is set
    if (attr.g) attr.type = AT.GRAPH;
    else if (attr.t) attr.type = AT.TENSOR;
  }
  return attr;
}

function convertGraph(
  gp: GraphProto,
  model: Model,
  parentNode: Node | undefined,
  parentScope: Scope | undefined,
  source: ExternalDataSource | undefined,
): Graph {
  const graph = new Graph(model, parentNode);
  graph.name = gp.name;
  graph.docString = gp.docString;
  graph.quantizationAnnotation = gp.quantizationAnnotation;
  graph.metadataProps = gp.metadataProps;
  graph.unknown = (gp as { $unknown?: unknown }).$unknown;
  const scope = new Scope(parentScope);

  for (const init of gp.initializer) {
    const v = new Value(graph, init.name);
    graph.addInitializer(v, tensorFromProto(init, source));
    v.type = { elemType: init.dataType, shape: init.dims.map(Number) };
    scope.define(v);
  }
  for (const sp of gp.sparseInitializer) {
    const name = sp.values?.name ?? '';
    elementCount(sp.dims, `sparse initializer ${name}`);
    const v = new Value(graph, name);
    v.sparse = sp;
    v.type = { elemType: sp.values?.dataType ?? 0, shape: sp.dims.map(Number) };
    graph.sparseInitializers.push(v);
    scope.define(v);
  }
  for (const inp of gp.input) {
    // IR < 4: initializers are also listed as inputs; then input and initializer are one Value
    let v = scope.has(inp.name) ? scope.lookup(inp.name)! : undefined;
    if (!v) {
      v = new Value(graph, inp.name);
      scope.define(v);
    }
    applyValueInfo(v, inp);
    graph.inputs.push(v);
  }

  // pass 1: every node and its outputs, so names resolve whatever the node order
  const pending: [Node, NodeProto][] = [];
  for (const np of gp.node) {
    const node = Node.like(graph, np, (np as { $unknown?: unknown }).$unknown);
    for (const out of np.output) {
      const v = new Value(graph, out);
      node.addOutput(v);
      if (out !== '') scope.define(v);
    }
    graph.nodes.push(node);
    pending.push([node, np]);
  }
  // pass 2: inputs and attributes (subgraphs see every value of this graph)
  for (const [node, np] of pending) {
    for (const name of np.input) {
      if (name === '') {
        node.addInput(undefined);
        continue;
      }
      const v = scope.lookup(name);
      if (!v)
        throw new EdgefitError(
          'BAD_GRAPH',
          `node ${np.name || np.opType} reads "${name}", which no node, input or initializer of ${graphLabel(gp)} defines`,
          'the model is incomplete or corrupt; re-export it',
        );
      node.addInput(v);
    }
    for (const a of np.attribute) node.attributes.set(a.name, convertAttribute(a, node, scope, source));
  }

  for (const out of gp.output) {
    const v = scope.lookup(out.name);
    if (!v)
      throw new EdgefitError(
        'BAD_GRAPH',
        `output "${out.name}" of ${graphLabel(gp)} is defined nowhere`,
        'the model is incomplete or corrupt; re-export it',
      );
    applyValueInfo(v, out);
    graph.outputs.push(v);
  }
  for (const info of gp.valueInfo) {
    const own = scope.has(info.name) ? scope.lookup(info.name)! : undefined;
    const v = own && !own.hasValueInfo ? own : new Value(graph, info.name);
    if (!v.type || !own) applyValueInfo(v, info);
    else {
      v.typeProto = info.type;
      v.type = tensorTypeFromProto(info.type) ?? v.type;
      v.docString = info.docString;
      v.metadataProps = info.metadataProps;
    }
    v.hasValueInfo = true;
    graph.valueInfos.push(v);
  }
  return graph;
}

export function modelFromProto(mp: ModelProto, source?: ExternalDataSource): Model {
  if (!mp.graph)
    throw new EdgefitError('BAD_MODEL', 'the file holds no graph', 'is this an ONNX model file?');
  const model = new Model();
  model.irVersion = Number(mp.irVersion);
  model.producerName = mp.producerName;
  model.producerVersion = mp.producerVersion;
  model.domain = mp.domain;
  model.modelVersion = mp.modelVersion;
  model.docString = mp.docString;
  for (const o of mp.opsetImport)
    model.opsetImports.set(o.domain === 'ai.onnx' ? '' : o.domain, Number(o.version));
  model.metadataProps = mp.metadataProps;
  model.functions = mp.functions;
  model.trainingInfo = mp.trainingInfo;
  model.unknown = (mp as { $unknown?: unknown }).$unknown;
  model.graph = convertGraph(mp.graph, model, undefined, undefined, source);
  return model;
}
