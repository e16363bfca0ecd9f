// The mutable graph IR. Every Value knows its producer and its uses, so "replace all uses, then
// remove the node" is a complete edit. Subgraphs (If/Loop/Scan attributes) are Graphs like any other:
// their nodes may use values of enclosing graphs, and those uses are recorded on the outer Value.
// Protobuf objects never leak in here except as pass-through extras for fields no pass interprets.

import type {
  AttributeProto,
  FunctionProto,
  SparseTensorProto,
  StringStringEntryProto,
  TensorAnnotation,
  TrainingInfoProto,
  TypeProto,
} from '../onnx/gen/onnx_pb.js';
import type { Tensor } from './tensor.js';

export type Dim = number | string | null;

/** A tensor type; `shape` undefined means rank unknown, a null dim means unknown size. */
export interface TensorType {
  elemType: number;
  shape: Dim[] | undefined;
}

export interface Use {
  node: Node;
  index: number;
}

export class Value {
  name: string;
  /** tensor type when known; non-tensor types (sequence, map, optional) are kept in `typeProto` */
  type: TensorType | undefined;
  /** the original TypeProto, reused on save while `type` is unchanged (keeps denotations etc.) */
  typeProto: TypeProto | undefined;
  producer: Node | undefined = undefined;
  producerIndex = -1;
  readonly uses: Use[] = [];
  /** set when this value is a weight (graph initializer) */
  initializer: Tensor | undefined;
  /** set when this value is a sparse initializer (kept as its proto) */
  sparse: SparseTensorProto | undefined;
  graph: Graph;
  docString = '';
  metadataProps: StringStringEntryProto[] = [];
  /** true when the value_info list carried this value (so it is written back there) */
  hasValueInfo = false;
  /** scratch space for passes; never saved */
  meta: Record<string, unknown> = {};

  constructor(graph: Graph, name: string, type?: TensorType) {
    this.graph = graph;
    this.name = name;
    this.type = type;
    this.typeProto = undefined;
    this.initializer = undefined;
    this.sparse = undefined;
  }

  get isGraphInput(): boolean {
    return this.graph.inputs.includes(this);
  }

  get isGraphOutput(): boolean {
    return this.graph.outputs.includes(this);
  }

  /** Redirect every use (node inputs in this graph and its subgraphs, graph outputs) to `other`. */
  replaceAllUsesWith(other: Value): void {
    for (const use of [...this.uses]) use.node.setInput(use.index, other);
    const outs = this.graph.outputs;
    for (let i = 0; i < outs.length; i++) if (outs[i] === this) outs[i] = other;
  }

  setType(type: TensorType | undefined): void {
    this.type = type;
    this.typeProto = undefined;
  }
}

/** An attribute: scalar fields live in `proto`; tensors and graphs are lifted into the IR. */
export interface Attribute {
  name: string;
  /** AttributeProto.type */
  type: number;
  proto: AttributeProto;
  t?: Tensor;
  g?: Graph;
  tensors?: Tensor[];
  graphs?: Graph[];
}

/** What Node.like copies from a Node or a NodeProto. */
export interface NodeFields {
  opType: string;
  domain: string;
  name: string;
  docString: string;
  overload: string;
  metadataProps: StringStringEntryProto[];
}

export class Node {
  opType: string;
  domain: string;
  name: string;
  readonly inputs: (Value | undefined)[] = [];
  readonly outputs: Value[] = [];
  readonly attributes = new Map<string, Attribute>();
  graph: Graph;
  docString = '';
  overload = '';
  metadataProps: StringStringEntryProto[] = [];
  unknown: unknown = undefined;
  meta: Record<string, unknown> = {};

  constructor(graph: Graph, opType: string, domain = '', name = '') {
    this.graph = graph;
    this.opType = opType;
    this.domain = domain;
    this.name = name;
  }

  /**
   * A node of `graph` with `src`'s op type, domain, name and pass-through fields (a NodeProto has them
   * under the same names; `unknown` is its unknown fields), no edges and no attributes yet.
   */
  static like(graph: Graph, src: NodeFields, unknown: unknown): Node {
    const n = new Node(graph, src.opType, src.domain, src.name);
    n.docString = src.docString;
    n.overload = src.overload;
    n.metadataProps = src.metadataProps;
    n.unknown = unknown;
    return n;
  }

  /** Set input i (undefined = omitted optional input), keeping use lists right. */
  setInput(index: number, value: Value | undefined): void {
    const old = this.inputs[index];
    if (old) {
      const k = old.uses.findIndex((u) => u.node === this && u.index === index);
      if (k >= 0) old.uses.splice(k, 1);
    }
    while (this.inputs.length <= index) this.inputs.push(undefined);
    this.inputs[index] = value;
    if (value) value.uses.push({ node: this, index });
  }

  addInput(value: Value | undefined): void {
    this.setInput(this.inputs.length, value);
  }

  /** Drop trailing inputs from `count` on. */
  truncateInputs(count: number): void {
    for (let i = this.inputs.length - 1; i >= count; i--) {
      this.setInput(i, undefined);
      this.inputs.pop();
    }
  }

  addOutput(value: Value): void {
    value.producer = this;
    value.producerIndex = this.outputs.length;
    this.outputs.push(value);
  }

  /** Subgraphs held in attributes (If branches, Loop/Scan bodies). */
  subgraphs(): Graph[] {
    const out: Graph[] = [];
    for (const a of this.attributes.values()) {
      if (a.g) out.push(a.g);
      if (a.graphs) out.push(...a.graphs);
    }
    return out;
  }
}

export class Graph {
  name = '';
  docString = '';
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  /** weights in declaration order (each Value has `initializer` set) */
  readonly initializers: Value[] = [];
  readonly sparseInitializers: Value[] = [];
  /** values listed in value_info that are neither inputs nor outputs, in order */
  readonly valueInfos: Value[] = [];
  quantizationAnnotation: TensorAnnotation[] = [];
  metadataProps: StringStringEntryProto[] = [];
  unknown: unknown = undefined;
  /** the node whose attribute holds this graph (undefined for the main graph) */
  parentNode: Node | undefined;
  model: Model;

  constructor(model: Model, parentNode?: Node) {
    this.model = model;
    this.parentNode = parentNode;
  }

  /** Insert a node at `index` (default: end). The caller keeps topological order. */
  insertNode(node: Node, index = this.nodes.length): Node {
    node.graph = this;
    this.nodes.splice(index, 0, node);
    return node;
  }

  /** Remove a node; its outputs must be unused (or `force` to detach anyway). */
  removeNode(node: Node, force = false): void {
    if (!force) {
      for (const out of node.outputs)
        if (out.uses.length > 0 || out.isGraphOutput)
          throw new Error(`cannot remove node ${node.name || node.opType}: output ${out.name} is still used`);
    }
    for (let i = 0; i < node.inputs.length; i++) node.setInput(i, undefined);
    const k = this.nodes.indexOf(node);
    if (k >= 0) this.nodes.splice(k, 1);
  }

  addInitializer(value: Value, tensor: Tensor): Value {
    value.initializer = tensor;
    tensor.name = value.name;
    this.initializers.push(value);
    return value;
  }

  removeInitializer(value: Value): void {
    const k = this.initializers.indexOf(value);
    if (k >= 0) this.initializers.splice(k, 1);
    value.initializer = undefined;
    const j = this.inputs.indexOf(value);
    if (j >= 0) this.inputs.splice(j, 1);
  }

  /** Nodes of this graph and, recursively, of every subgraph. */
  *allNodes(): Generator<Node> {
    for (const n of this.nodes) {
      yield n;
      for (const g of n.subgraphs()) yield* g.allNodes();
    }
  }

  /** This graph and every nested subgraph. */
  *allGraphs(): Generator<Graph> {
    yield this;
    for (const n of this.nodes) for (const g of n.subgraphs()) yield* g.allGraphs();
  }
}

export class Model {
  irVersion = 8;
  producerName = '';
  producerVersion = '';
  domain = '';
  modelVersion = 0n;
  docString = '';
  /** domain ('' = ai.onnx) -> opset version */
  readonly opsetImports = new Map<string, number>();
  metadataProps: StringStringEntryProto[] = [];
  /** kept as protos: no pass rewrites them, and they survive a round trip */
  functions: FunctionProto[] = [];
  trainingInfo: TrainingInfoProto[] = [];
  unknown: unknown = undefined;
  graph: Graph;
  private nameCounter = 0;
  private usedNames: Set<string> | undefined;

  constructor() {
    this.graph = new Graph(this);
  }

  opset(domain = ''): number | undefined {
    return this.opsetImports.get(domain === 'ai.onnx' ? '' : domain);
  }

  /** A value or node name not used anywhere in the model, derived from `base`. */
  uniqueName(base: string): string {
    if (!this.usedNames) {
      this.usedNames = new Set();
      for (const g of this.graph.allGraphs()) {
        for (const v of [...g.inputs, ...g.initializers, ...g.sparseInitializers]) this.usedNames.add(v.name);
        for (const n of g.nodes) {
          if (n.name) this.usedNames.add(n.name);
          for (const o of n.outputs) this.usedNames.add(o.name);
        }
      }
    }
    let name = base;
    while (this.usedNames.has(name)) name = `${base}_${++this.nameCounter}`;
    this.usedNames.add(name);
    return name;
  }
}
