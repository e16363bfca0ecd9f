// Builder helpers: create values, nodes and weights with unique names, so passes and tests read as
// "add a Conv here" instead of name bookkeeping.

import { create } from '@bufbuild/protobuf';
import { AttributeProto_AttributeType as AT, AttributeProtoSchema } from '../onnx/gen/onnx_pb.js';
import { type Attribute, type Graph, Model, Node, type TensorType, Value } from './graph.js';
import type { Tensor } from './tensor.js';

export type AttributeValue =
  | number
  | bigint
  | string
  | number[]
  | bigint[]
  | string[]
  | Tensor
  | Graph
  | Tensor[]
  | Graph[];

function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && 'dtype' in x && 'dims' in x && 'bytes' in x;
}
function isGraph(x: unknown): x is Graph {
  return typeof x === 'object' && x !== null && 'nodes' in x && 'initializers' in x;
}

const encoder = new TextEncoder();

/** Make an attribute; plain numbers become INT when integral unless `asFloat` lists the name. */
export function makeAttribute(name: string, value: AttributeValue, asFloat = false): Attribute {
  const proto = create(AttributeProtoSchema, { name });
  const attr: Attribute = { name, type: AT.UNDEFINED, proto };
  if (typeof value === 'number') {
    if (Number.isInteger(value) && !asFloat) {
      attr.type = AT.INT;
      proto.i = BigInt(value);
    } else {
      attr.type = AT.FLOAT;
      proto.f = value;
    }
  } else if (typeof value === 'bigint') {
    attr.type = AT.INT;
    proto.i = value;
  } else if (typeof value === 'string') {
    attr.type = AT.STRING;
    proto.s = encoder.encode(value);
  } else if (isTensor(value)) {
    attr.type = AT.TENSOR;
    attr.t = value;
  } else if (isGraph(value)) {
    attr.type = AT.GRAPH;
    attr.g = value;
  } else if (Array.isArray(value)) {
    const first = value[0];
    if (value.length > 0 && isTensor(first)) {
      attr.type = AT.TENSORS;
      attr.tensors = value as Tensor[];
    } else if (value.length > 0 && isGraph(first)) {
      attr.type = AT.GRAPHS;
      attr.graphs = value as Graph[];
    } else if (typeof first === 'string') {
      attr.type = AT.STRINGS;
      proto.strings = (value as string[]).map((s) => encoder.encode(s));
    } else if (
      typeof first === 'bigint' ||
      ((value as number[]).every((x) => Number.isInteger(x)) && !asFloat)
    ) {
      attr.type = AT.INTS;
      proto.ints = (value as (number | bigint)[]).map((x) => BigInt(x));
    } else {
      attr.type = AT.FLOATS;
      proto.floats = value as number[];
    }
  }
  attr.proto.type = attr.type;
  return attr;
}

// --- reading attributes with defaults (numbers as JS numbers)

export function attrInt(node: Node, name: string, fallback: number): number;
export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, fallback?: number): number | undefined {
  const a = node.attributes.get(name);
  return a ? Number(a.proto.i) : fallback;
}

export function attrFloat(node: Node, name: string, fallback: number): number {
  const a = node.attributes.get(name);
  return a ? a.proto.f : fallback;
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const a = node.attributes.get(name);
  return a ? a.proto.ints.map(Number) : undefined;
}

export function attrString(node: Node, name: string, fallback: string): string {
  const a = node.attributes.get(name);
  return a ? new TextDecoder().decode(a.proto.s) : fallback;
}

export function setAttr(node: Node, name: string, value: AttributeValue, asFloat = false): void {
  const attr = makeAttribute(name, value, asFloat);
  // a subgraph belongs to the node that holds it
  if (attr.g) attr.g.parentNode = node;
  for (const g of attr.graphs ?? []) g.parentNode = node;
  node.attributes.set(name, attr);
}

export function attrFloats(node: Node, name: string): number[] | undefined {
  return node.attributes.get(name)?.proto.floats;
}

/** Helpers bound to one graph. Nodes are appended unless `at` gives a position. */
export class GraphBuilder {
  constructor(readonly graph: Graph) {}

  get model(): Model {
    return this.graph.model;
  }

  value(base: string, type?: TensorType): Value {
    return new Value(this.graph, this.model.uniqueName(base), type);
  }

  input(name: string, type: TensorType): Value {
    const v = new Value(this.graph, this.model.uniqueName(name), type);
    this.graph.inputs.push(v);
    return v;
  }

  output(v: Value): Value {
    this.graph.outputs.push(v);
    return v;
  }

  weight(base: string, tensor: Tensor): Value {
    const v = new Value(this.graph, this.model.uniqueName(base), {
      elemType: tensor.dtype,
      shape: [...tensor.dims],
    });
    return this.graph.addInitializer(v, tensor);
  }

  /**
   * Add a node. `outputs` is a count or a list of base names; attributes given as plain values
   * (names listed in `floatAttrs` are written as FLOAT even when integral).
   */
  node(
    opType: string,
    inputs: (Value | undefined)[],
    attributes: Record<string, AttributeValue> = {},
    options: {
      outputs?: number | string[];
      domain?: string;
      name?: string;
      at?: number;
      floatAttrs?: string[];
    } = {},
  ): Node {
    const node = new Node(
      this.graph,
      opType,
      options.domain ?? '',
      this.model.uniqueName(options.name ?? opType),
    );
    for (const v of inputs) node.addInput(v);
    for (const [k, v] of Object.entries(attributes)) setAttr(node, k, v, options.floatAttrs?.includes(k));
    const outs = options.outputs ?? 1;
    const names = typeof outs === 'number' ? Array.from({ length: outs }, () => `${node.name}_out`) : outs;
    for (const n of names) node.addOutput(new Value(this.graph, this.model.uniqueName(n)));
    this.graph.insertNode(node, options.at);
    return node;
  }

  /** Add a single-output node and return its output. */
  op(
    opType: string,
    inputs: (Value | undefined)[],
    attributes: Record<string, AttributeValue> = {},
    options: { domain?: string; name?: string; at?: number; floatAttrs?: string[] } = {},
  ): Value {
    return this.node(opType, inputs, attributes, options).outputs[0]!;
  }
}

/** A new empty model with the given opsets (default: ai.onnx 17). */
export function newModel(opsets: Record<string, number> = { '': 17 }, irVersion = 8): Model {
  const m = new Model();
  m.irVersion = irVersion;
  m.producerName = 'edgefit';
  for (const [d, v] of Object.entries(opsets)) m.opsetImports.set(d, v);
  return m;
}
