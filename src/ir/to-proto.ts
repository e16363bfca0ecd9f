// IR -> ModelProto. Every pass-through field (doc strings, metadata, functions, training info,
// unknown fields) is written back, so a load -> save round trip changes nothing a runtime can see.

import { create } from '@bufbuild/protobuf';
import {
  type AttributeProto,
  AttributeProtoSchema,
  type GraphProto,
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  type TypeProto,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from '../onnx/gen/onnx_pb.js';
import type { Attribute, Graph, Model, Node, TensorType, Value } from './graph.js';
import type { Tensor } from './tensor.js';
import { type TensorToProtoOptions, tensorToProto } from './tensor-proto.js';

/** Decides, per tensor, whether its data goes inline or to external data (default: inline). */
export type TensorPlacement = (tensor: Tensor) => TensorToProtoOptions;

export function typeToProto(t: TensorType): TypeProto {
  const tensor = create(TypeProto_TensorSchema, { elemType: t.elemType });
  if (t.shape)
    tensor.shape = create(TensorShapeProtoSchema, {
      dim: t.shape.map((d) =>
        create(TensorShapeProto_DimensionSchema, {
          value:
            typeof d === 'number' && Number.isSafeInteger(d)
              ? { case: 'dimValue', value: BigInt(d) }
              : typeof d === 'string'
                ? { case: 'dimParam', value: d }
                : { case: undefined },
        }),
      ),
    });
  return create(TypeProtoSchema, { value: { case: 'tensorType', value: tensor } });
}

function valueInfo(v: Value): ValueInfoProto {
  const type = v.typeProto ?? (v.type ? typeToProto(v.type) : undefined);
  const info = create(ValueInfoProtoSchema, {
    name: v.name,
    docString: v.docString,
    metadataProps: v.metadataProps,
  });
  if (type) info.type = type;
  return info;
}

function attributeToProto(a: Attribute, place: TensorPlacement): AttributeProto {
  const p = create(AttributeProtoSchema, { ...a.proto, name: a.name, type: a.type });
  if (a.t) p.t = tensorToProto(a.t, place(a.t));
  if (a.tensors) p.tensors = a.tensors.map((t) => tensorToProto(t, place(t)));
  if (a.g) p.g = graphToProto(a.g, place);
  if (a.graphs) p.graphs = a.graphs.map((g) => graphToProto(g, place));
  return p;
}

function nodeToProto(n: Node, place: TensorPlacement): NodeProto {
  const p = create(NodeProtoSchema, {
    input: n.inputs.map((v) => v?.name ?? ''),
    output: n.outputs.map((v) => v.name),
    name: n.name,
    opType: n.opType,
    domain: n.domain,
    overload: n.overload,
    docString: n.docString,
    metadataProps: n.metadataProps,
    attribute: [...n.attributes.values()].map((a) => attributeToProto(a, place)),
  });
  if (n.unknown) (p as { $unknown?: unknown }).$unknown = n.unknown;
  return p;
}

export interface GraphToProtoOptions {
  /** leave the initializers out (the caller encodes them separately, see onnx/encode.ts) */
  omitInitializers?: boolean;
}

export function graphToProto(
  g: Graph,
  place: TensorPlacement,
  options: GraphToProtoOptions = {},
): GraphProto {
  const p = create(GraphProtoSchema, {
    name: g.name,
    docString: g.docString,
    node: g.nodes.map((n) => nodeToProto(n, place)),
    input: g.inputs.map(valueInfo),
    output: g.outputs.map(valueInfo),
    valueInfo: g.valueInfos.map(valueInfo),
    sparseInitializer: g.sparseInitializers.map((v) => v.sparse!),
    quantizationAnnotation: g.quantizationAnnotation,
    metadataProps: g.metadataProps,
  });
  if (!options.omitInitializers)
    p.initializer = g.initializers.map((v) => tensorToProto(v.initializer!, place(v.initializer!)));
  if (g.unknown) (p as { $unknown?: unknown }).$unknown = g.unknown;
  return p;
}

export interface ModelToProtoOptions extends GraphToProtoOptions {
  place?: TensorPlacement;
  /** leave the main graph out (the caller encodes it separately) */
  omitGraph?: boolean;
}

export function modelToProto(m: Model, options: ModelToProtoOptions = {}): ModelProto {
  const place = options.place ?? (() => ({}));
  const p = create(ModelProtoSchema, {
    irVersion: BigInt(m.irVersion),
    producerName: m.producerName,
    producerVersion: m.producerVersion,
    domain: m.domain,
    modelVersion: m.modelVersion,
    docString: m.docString,
    opsetImport: [...m.opsetImports].map(([domain, version]) =>
      create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }),
    ),
    metadataProps: m.metadataProps,
    functions: m.functions,
    trainingInfo: m.trainingInfo,
  });
  if (!options.omitGraph) p.graph = graphToProto(m.graph, place, options);
  if (m.unknown) (p as { $unknown?: unknown }).$unknown = m.unknown;
  return p;
}
