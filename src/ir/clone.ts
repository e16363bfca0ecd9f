// Deep copy of a model whose tensors share data with the original until one side writes
// (Tensor.setData replaces a buffer, never mutates it). Pass-through protos are shared: nothing edits them.

import { type Attribute, Graph, Model, Node, Value } from './graph.js';

export function cloneModel(src: Model): Model {
  const m = new Model();
  m.irVersion = src.irVersion;
  m.producerName = src.producerName;
  m.producerVersion = src.producerVersion;
  m.domain = src.domain;
  m.modelVersion = src.modelVersion;
  m.docString = src.docString;
  for (const [d, v] of src.opsetImports) m.opsetImports.set(d, v);
  m.metadataProps = [...src.metadataProps];
  m.functions = [...src.functions];
  m.trainingInfo = [...src.trainingInfo];
  m.unknown = src.unknown;
  m.graph = cloneGraph(src.graph, m, undefined, new Map());
  return m;
}

function cloneValue(v: Value, graph: Graph): Value {
  const c = new Value(
    graph,
    v.name,
    v.type ? { elemType: v.type.elemType, shape: v.type.shape ? [...v.type.shape] : undefined } : undefined,
  );
  c.typeProto = v.typeProto;
  c.docString = v.docString;
  c.metadataProps = v.metadataProps;
  c.hasValueInfo = v.hasValueInfo;
  c.sparse = v.sparse;
  return c;
}

function cloneGraph(src: Graph, model: Model, parentNode: Node | undefined, outer: Map<Value, Value>): Graph {
  const g = new Graph(model, parentNode);
  g.name = src.name;
  g.docString = src.docString;
  g.quantizationAnnotation = src.quantizationAnnotation;
  g.metadataProps = src.metadataProps;
  g.unknown = src.unknown;
  const map = new Map(outer);
  const get = (v: Value): Value => {
    let c = map.get(v);
    if (!c) {
      c = cloneValue(v, g);
      map.set(v, c);
    }
    return c;
  };
  for (const v of src.initializers) g.addInitializer(get(v), v.initializer!.clone());
  for (const v of src.sparseInitializers) g.sparseInitializers.push(get(v));
  for (const v of src.inputs) g.inputs.push(get(v));
  const pairs: [Node, Node][] = [];
  for (const n of src.nodes) {
    const c = Node.like(g, n, n.unknown);
    for (const o of n.outputs) c.addOutput(get(o));
    g.nodes.push(c);
    pairs.push([n, c]);
  }
  for (const [n, c] of pairs) {
    for (const v of n.inputs) c.addInput(v ? get(v) : undefined);
    for (const [k, a] of n.attributes) {
      const ca: Attribute = { name: a.name, type: a.type, proto: a.proto };
      if (a.t) ca.t = a.t.clone();
      if (a.tensors) ca.tensors = a.tensors.map((t) => t.clone());
      if (a.g) ca.g = cloneGraph(a.g, model, c, map);
      if (a.graphs) ca.graphs = a.graphs.map((sg) => cloneGraph(sg, model, c, map));
      c.attributes.set(k, ca);
    }
  }
  for (const v of src.outputs) g.outputs.push(get(v));
  for (const v of src.valueInfos) g.valueInfos.push(get(v));
  return g;
}
