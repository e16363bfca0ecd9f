// What a model costs: weights (params, bytes by dtype), multiply-accumulates, activation memory —
// in total and per layer (one row per node, subgraph nodes included), from the shapes inference found.
//
// Rules:
//  1. Weights are initializers (of any graph, If/Loop/Scan bodies included) and the tensors of
//     Constant nodes. Each weight counts once, for the first layer (in execution order) that reads it.
//     Weights reach that layer through weight-only nodes — nodes whose inputs are all weights, such as
//     DequantizeLinear(w_int8, scale, zero_point), Transpose(w) or Cast(w) — so a quantized Conv shows
//     its own weights and the DequantizeLinear row shows none. A weight nobody reads is kept by its
//     Constant node (or the node whose subgraph returns it); an initializer no node reads is not
//     counted (cleanup removes those). Sparse initializers and string constants are not counted.
//  2. MACs (multiply-accumulates), with `out` the output shape:
//       Conv, ConvInteger, QLinearConv   prod(out) · prod(W[1:])   = N·OutC·OH·OW·(InC/group)·KH·KW
//       ConvTranspose                    prod(X) · prod(W[1:])     = N·InC·IH·IW·(OutC/group)·KH·KW
//       Gemm, QGemm                      prod(out) · K             = M·N·K (K from A and transA; bias free)
//       MatMul, MatMulInteger, QLinearMatMul, FusedMatMul   prod(out) · K  = batch·M·N·K (broadcast)
//       MatMulNBits                      prod(out) · K (the K attribute)
//       Einsum                           product of every index's size
//       LSTM / GRU / RNN                 seq · batch · (prod(W) + prod(R))  = seq·batch·dirs·gates·H·(I+H)
//     Everything else (elementwise, normalization, pooling, data movement) counts 0: those ops are
//     memory-bound and a MAC count would mislead more than it informs.
//  3. activationBytes of a layer = bytes of its outputs (Constant nodes: 0, their tensors are weights).
//  4. Peak activation memory: nodes run in graph order; a value is live from its producer (graph
//     inputs: from the start) until its last consumer in the same graph — a read from inside a
//     subgraph counts as a read by the node that holds the subgraph — and graph outputs stay live to
//     the end. Weights are excluded: initializers, Constant outputs and outputs of weight-only nodes
//     (runtimes fold those or fuse them into their consumer). A node with subgraphs adds its
//     largest subgraph's own peak while it runs. `peakAt` names the node running at the peak.
//  5. Unknown shapes never make a number null: what is known is counted, and `unknownShapes` says how
//     many layers had a MAC count or output size that could not be computed (`complete: false`).

import { attrInt, attrString } from '../ir/builder.js';
import type { Dim, Graph, Model, Node, TensorType, Value } from '../ir/graph.js';
import { DataType, dataTypeBits, dataTypeName } from '../onnx/dtype.js';
import { einsumDims, inferShapes, isStaticShape, type ShapeInference } from './shape-inference.js';

export interface LayerCost {
  /** node name; subgraph nodes are prefixed by their parent: `loop/body/MatMul_2` */
  name: string;
  op: string;
  domain: string;
  params: number;
  weightBytes: number;
  weightBytesByDtype: Record<string, number>;
  macs: number;
  activationBytes: number;
  inputShapes: (Dim[] | null)[];
  outputShapes: (Dim[] | null)[];
  /** false when a shape needed for `macs` or `activationBytes` is unknown */
  complete: boolean;
}

export interface ModelCost {
  params: number;
  weightBytes: number;
  weightBytesByDtype: Record<string, number>;
  macs: number;
  peakActivationBytes: number;
  /** the layer running when activation memory peaks (undefined when the inputs alone are the peak) */
  peakAt: string | undefined;
  /** layers whose MACs or output bytes could not be computed */
  unknownShapes: number;
  layers: LayerCost[];
}

/** Cost of `model` under the types of `shapes` (by default, inference with every free dim = 1). */
export function analyzeCost(
  model: Model,
  shapes: Pick<ShapeInference, 'types'> = inferShapes(model),
): ModelCost {
  const walk = walkNodes(model.graph);
  const rows = new Map<Node, LayerCost>();
  const typeOf = (v: Value | undefined): TensorType | undefined =>
    v ? (shapes.types.get(v) ?? v.type) : undefined;

  for (const { node, label } of walk.order) {
    const outputs = node.outputs.filter((v) => v.name !== '');
    let activationBytes = 0;
    let complete = true;
    if (node.opType !== 'Constant')
      for (const v of outputs) {
        const b = bytesOf(typeOf(v));
        if (b === undefined) complete = false;
        else activationBytes += b;
      }
    const macs = macsOf(node, typeOf);
    if (macs === undefined) complete = false;
    rows.set(node, {
      name: label,
      op: node.opType,
      domain: node.domain,
      params: 0,
      weightBytes: 0,
      weightBytesByDtype: {},
      macs: macs ?? 0,
      activationBytes,
      inputShapes: node.inputs.map((v) => typeOf(v)?.shape ?? null),
      outputShapes: node.outputs.map((v) => typeOf(v)?.shape ?? null),
      complete,
    });
  }

  // rule 1: each weight to its first reader
  const total = { params: 0, weightBytes: 0, weightBytesByDtype: {} as Record<string, number> };
  for (const w of weightsOf(model.graph)) {
    const owner = ownerOf(w.value, walk);
    if (!owner) continue;
    for (const target of [rows.get(owner)!, total]) {
      target.params += w.elements;
      target.weightBytes += w.bytes;
      target.weightBytesByDtype[w.dtype] = (target.weightBytesByDtype[w.dtype] ?? 0) + w.bytes;
    }
  }

  const layers = [...rows.values()];
  const peak = simulatePeak(model.graph, walk, (v) => bytesOf(typeOf(v)) ?? 0);
  return {
    ...total,
    macs: layers.reduce((s, l) => s + l.macs, 0),
    peakActivationBytes: peak.bytes,
    peakAt: peak.at,
    unknownShapes: layers.filter((l) => !l.complete).length,
    layers,
  };
}

/** Bytes of a tensor of this type; undefined unless its shape and element width are known. */
export function bytesOf(t: TensorType | undefined): number | undefined {
  if (!t || !isStaticShape(t.shape)) return undefined;
  const bits = dataTypeBits(t.elemType);
  if (bits === 0) return undefined;
  return Math.ceil((t.shape.reduce((a, b) => a * b, 1) * bits) / 8);
}

// ---------------------------------------------------------------------------------------------------
// walking the nodes: execution order, labels, weight-only nodes

interface Walk {
  order: { node: Node; label: string }[];
  index: Map<Node, number>;
  labels: Map<Node, string>;
  /** initializers, Constant outputs and outputs of weight-only nodes */
  weightValues: Set<Value>;
  weightOnly: Set<Node>;
}

function walkNodes(main: Graph): Walk {
  const walk: Walk = {
    order: [],
    index: new Map(),
    labels: new Map(),
    weightValues: new Set(),
    weightOnly: new Set(),
  };
  const visit = (graph: Graph, prefix: string): void => {
    for (const v of graph.initializers) walk.weightValues.add(v);
    graph.nodes.forEach((node, i) => {
      const label = prefix + (node.name || `${node.opType}_${i}`);
      walk.index.set(node, walk.order.length);
      walk.labels.set(node, label);
      walk.order.push({ node, label });
      const present = node.inputs.filter((v): v is Value => v !== undefined);
      const subgraphs = node.subgraphs();
      if (node.opType === 'Constant') for (const v of node.outputs) walk.weightValues.add(v);
      else if (
        subgraphs.length === 0 &&
        present.length > 0 &&
        present.every((v) => walk.weightValues.has(v))
      ) {
        walk.weightOnly.add(node);
        for (const v of node.outputs) walk.weightValues.add(v);
      }
      for (const a of node.attributes.values()) {
        if (a.g) visit(a.g, `${label}/${a.name}/`);
        for (const [k, g] of (a.graphs ?? []).entries()) visit(g, `${label}/${a.name}[${k}]/`);
      }
    });
  };
  visit(main, '');
  return walk;
}

interface Weight {
  value: Value;
  elements: number;
  bytes: number;
  dtype: string;
}

function weightsOf(main: Graph): Weight[] {
  const out: Weight[] = [];
  for (const g of main.allGraphs()) {
    for (const v of g.initializers) {
      const t = v.initializer!;
      out.push({ value: v, elements: t.size, bytes: t.byteLength, dtype: dataTypeName(t.dtype) });
    }
    for (const n of g.nodes) {
      if (n.opType !== 'Constant' || !n.outputs[0]) continue;
      const w = constantWeight(n);
      if (w) out.push({ value: n.outputs[0], ...w });
    }
  }
  return out;
}

function constantWeight(n: Node): Omit<Weight, 'value'> | undefined {
  const a = n.attributes;
  const t = a.get('value')?.t;
  if (t)
    return t.isString ? undefined : { elements: t.size, bytes: t.byteLength, dtype: dataTypeName(t.dtype) };
  const scalar = (dtype: number, count: number) => ({
    elements: count,
    bytes: (count * dataTypeBits(dtype)) / 8,
    dtype: dataTypeName(dtype),
  });
  if (a.has('value_float')) return scalar(DataType.FLOAT, 1);
  if (a.has('value_floats')) return scalar(DataType.FLOAT, a.get('value_floats')!.proto.floats.length);
  if (a.has('value_int')) return scalar(DataType.INT64, 1);
  if (a.has('value_ints')) return scalar(DataType.INT64, a.get('value_ints')!.proto.ints.length);
  return undefined;
}

/** The first node (in execution order) reading `value`, looking through weight-only nodes. */
function ownerOf(value: Value, walk: Walk): Node | undefined {
  let best: Node | undefined;
  const consider = (n: Node) => {
    if (!best || walk.index.get(n)! < walk.index.get(best)!) best = n;
  };
  const seen = new Set<Value>();
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    let read = false;
    for (const use of v.uses) {
      read = true;
      if (walk.weightOnly.has(use.node)) stack.push(...use.node.outputs);
      else consider(use.node);
    }
    // nobody reads it: its producer keeps it, or the node whose subgraph returns it
    if (!read && v.producer && v.producer.opType === 'Constant') consider(v.producer);
    else if (!read && v.graph.parentNode && v.graph.outputs.includes(v)) consider(v.graph.parentNode);
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------
// MACs (rule 2)

type MacsRule = (
  node: Node,
  shape: (i: number) => number[] | undefined,
  out: number[] | undefined,
) => number | undefined;

const product = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const convMacs =
  (w: number): MacsRule =>
  (_, shape, out) => {
    const weights = shape(w);
    return out && weights ? product(out) * product(weights.slice(1)) : undefined;
  };

/** batch·M·N·K = prod(out) · K, K being A's last dim (second-to-last when FusedMatMul transposes A). */
const matmulMacs: MacsRule = (node, shape, out) => {
  const a = shape(0);
  const transA = node.opType === 'FusedMatMul' && attrInt(node, 'transA', 0) === 1;
  const k = a?.[a.length - (transA ? 2 : 1)];
  return out && k !== undefined ? product(out) * k : undefined;
};

const gemmMacs: MacsRule = (node, shape, out) => {
  const a = shape(0);
  const k = a?.[attrInt(node, 'transA', 0) === 1 ? 0 : 1];
  return out && k !== undefined ? product(out) * k : undefined;
};

const recurrentMacs: MacsRule = (_node, shape) => {
  const x = shape(0);
  const w = shape(1);
  const r = shape(2);
  if (!x || !w || !r || x.length < 2) return undefined;
  // x is [seq, batch, I] or, with layout 1, [batch, seq, I]: either way the first two multiply
  return x[0]! * x[1]! * (product(w) + product(r));
};

const MACS = new Map<string, MacsRule>([
  ['Conv', convMacs(1)],
  ['ConvInteger', convMacs(1)],
  ['QLinearConv', convMacs(3)],
  [
    'ConvTranspose',
    (_, shape) => {
      const x = shape(0);
      const w = shape(1);
      return x && w ? product(x) * product(w.slice(1)) : undefined;
    },
  ],
  ['Gemm', gemmMacs],
  ['MatMul', matmulMacs],
  ['MatMulInteger', matmulMacs],
  ['QLinearMatMul', matmulMacs],
  [
    'Einsum',
    (node, shape) => {
      const e = einsumDims(
        attrString(node, 'equation', ''),
        node.inputs.map((_, i) => shape(i)),
      );
      if (!e) return undefined;
      const sizes = [...e.letters.values(), ...e.ellipsis];
      return isStaticShape(sizes) ? product(sizes) : undefined;
    },
  ],
  ['LSTM', recurrentMacs],
  ['GRU', recurrentMacs],
  ['RNN', recurrentMacs],
]);

const MS_MACS = new Map<string, MacsRule>([
  ['FusedConv', convMacs(1)],
  ['FusedGemm', gemmMacs],
  ['QGemm', gemmMacs],
  ['FusedMatMul', matmulMacs],
  ['MatMulInteger16', matmulMacs],
  ['MatMulIntegerToFloat', matmulMacs],
  ['DynamicQuantizeMatMul', matmulMacs],
  ['MatMulNBits', (node, _, out) => (out ? product(out) * attrInt(node, 'K', 0) : undefined)],
]);

/** MACs of one node; 0 for ops that are not counted, undefined when a needed shape is unknown. */
function macsOf(node: Node, typeOf: (v: Value | undefined) => TensorType | undefined): number | undefined {
  const table =
    node.domain === '' || node.domain === 'ai.onnx'
      ? MACS
      : node.domain === 'com.microsoft'
        ? MS_MACS
        : undefined;
  const rule = table?.get(node.opType);
  if (!rule) return 0;
  const shape = (i: number) => {
    const s = typeOf(node.inputs[i])?.shape;
    return isStaticShape(s) ? s : undefined;
  };
  const out = typeOf(node.outputs[0])?.shape;
  return rule(node, shape, isStaticShape(out) ? out : undefined);
}

// ---------------------------------------------------------------------------------------------------
// peak activation memory (rule 4)

function simulatePeak(
  graph: Graph,
  walk: Walk,
  bytes: (v: Value) => number,
): { bytes: number; at: string | undefined } {
  // the last node of this graph reading each value (reads from subgraphs count for their holder)
  const lastUse = new Map<Value, number>();
  graph.nodes.forEach((node, i) => {
    for (const v of node.inputs) if (v?.graph === graph) lastUse.set(v, i);
    for (const g of node.subgraphs())
      for (const inner of g.allNodes())
        for (const v of inner.inputs) if (v?.graph === graph) lastUse.set(v, i);
  });
  const frees: Value[][] = graph.nodes.map(() => []);
  for (const [v, i] of lastUse) frees[i]!.push(v);
  const outputs = new Set(graph.outputs);
  const counted = (v: Value) => !walk.weightValues.has(v) && v.name !== '';

  let live = 0;
  for (const v of graph.inputs) if (counted(v)) live += bytes(v);
  let peak = { bytes: live, at: undefined as string | undefined };
  graph.nodes.forEach((node, i) => {
    for (const v of node.outputs) if (counted(v)) live += bytes(v);
    let inner = { bytes: 0, at: undefined as string | undefined };
    for (const g of node.subgraphs()) {
      const p = simulatePeak(g, walk, bytes);
      if (p.bytes > inner.bytes) inner = p;
    }
    if (live + inner.bytes > peak.bytes)
      peak = { bytes: live + inner.bytes, at: inner.at ?? walk.labels.get(node) };
    for (const v of frees[i]!) if (counted(v) && !outputs.has(v)) live -= bytes(v);
    for (const v of node.outputs) if (counted(v) && !outputs.has(v) && !lastUse.has(v)) live -= bytes(v);
  });
  return peak;
}
