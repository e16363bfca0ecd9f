// The graph edits of decompose-svd: each factorized layer becomes a chain of thinner layers; the
// original node stays as the chain's last step (its output value, name and readers are unchanged).
//  1. linear  MatMul(A, B)   -> MatMul(MatMul(A, W1 [K, r]), W2 [r, N])
//             Gemm(A, B, C)  -> Gemm(MatMul(A, W1), W2, beta·C)   (alpha and transB folded into W)
//  2. pointwise 1×1 Conv(X, W, b) -> Conv(X, W1ᵀ [r, Cin, 1, 1]; the strides, pads, auto_pad)
//                                    -> Conv(·, W2ᵀ [Cout, r, 1, 1], b)
//     (a padded position reads zeros in both: W2·W1·0 + b = b, as before)
//  3. spatial (Jaderberg et al. 2014) k×k Conv -> Conv(X, V [r, Cin, kh, 1]; strides [sh, 1],
//     dilations [dh, 1], pads [top, 0, bottom, 0]) -> Conv(·, H [Cout, r, 1, kw], b; strides [1, sw],
//     dilations [1, dw], pads [0, left, 0, right]); auto_pad SAME_*/VALID is kept on both: along each
//     dim one of the two convs has kernel 1 and stride 1 (no padding), the other the original geometry.
//  4. tucker Conv -> Conv(X, U1ᵀ [r1, Cin, 1, 1]) -> Conv(·, core [r2, r1, kh, kw]; the original strides,
//     pads, dilations, auto_pad) -> Conv(·, U0 [Cout, r2, 1, 1], b + biasShift).
//  5. a bias shift (centred whitening, data-aware Tucker-2: the mean output the factors drop) goes into
//     the bias when it is absent or a constant per-feature vector (Gemm: beta·C + shift, beta 1; a
//     spatial conv sums the shifts of a channel's horizontal taps); otherwise an Add after the node.
// Factors come in as float32; every new weight is a new initializer (shared tensors are never written).

import { attrFloat, GraphBuilder, setAttr } from '../../ir/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import type { MatrixFactors, Tucker2Factors } from '../../kernels/lowrank.js';
import { constantOf, newFloatWeight, replaceValue } from '../util.js';
import type { ConvShape, Layer } from './layers.js';

export type Factors = MatrixFactors | Tucker2Factors;

const CONV_ATTRS = ['kernel_shape', 'strides', 'pads', 'dilations', 'auto_pad'];

interface Geometry {
  kernel: [number, number];
  strides?: [number, number];
  dilations?: [number, number];
  pads?: [number, number, number, number];
  autoPad?: string;
}

function attrsOf(g: Geometry): Record<string, number[] | string> {
  const a: Record<string, number[] | string> = { kernel_shape: g.kernel };
  if (g.strides) a.strides = g.strides;
  if (g.dilations) a.dilations = g.dilations;
  if (g.autoPad && g.autoPad !== 'NOTSET') a.auto_pad = g.autoPad;
  else if (g.pads) a.pads = g.pads;
  return a;
}

/** A new Conv before `node` reading `x`; returns its output. */
function convBefore(node: Node, x: Value, weight: Value, g: Geometry, tag: string): Value {
  const b = new GraphBuilder(node.graph);
  return b.op('Conv', [x, weight], attrsOf(g), {
    at: node.graph.nodes.indexOf(node),
    name: `${node.name || 'Conv'}_${tag}`,
  });
}

/** Turn `node` into the chain's last Conv: input x, the given weight and geometry (bias kept). */
function becomeConv(node: Node, x: Value, weight: Value, g: Geometry): void {
  node.setInput(0, x);
  node.setInput(1, weight);
  for (const a of CONV_ATTRS) node.attributes.delete(a);
  for (const [k, v] of Object.entries(attrsOf(g))) setAttr(node, k, v);
}

function transposed(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

function rewriteLinear(l: Layer, w1: Float32Array, w2: Float32Array, r: number): void {
  const node = l.node;
  const graph = node.graph;
  const base = node.inputs[1]!.name;
  const first = new GraphBuilder(graph).op(
    'MatMul',
    [node.inputs[0], newFloatWeight(graph, `${base}_u`, [l.k, r], w1)],
    {},
    { at: graph.nodes.indexOf(node), name: `${node.name || 'MatMul'}_lowrank_u` },
  );
  node.setInput(0, first);
  node.setInput(1, newFloatWeight(graph, `${base}_v`, [r, l.n], w2));
  if (node.opType === 'Gemm') {
    setAttr(node, 'transB', 0);
    setAttr(node, 'alpha', 1.0, true);
  }
}

function rewritePointwise(l: Layer, c: ConvShape, w1: Float32Array, w2: Float32Array, r: number): void {
  const node = l.node;
  const base = node.inputs[1]!.name;
  const w = (tag: string, dims: number[], data: Float32Array) =>
    newFloatWeight(node.graph, `${base}_${tag}`, dims, data);
  const mid = convBefore(
    node,
    node.inputs[0]!,
    w('u', [r, c.cin, 1, 1], transposed(w1, c.cin, r)),
    { kernel: [1, 1], strides: c.strides, pads: c.pads, autoPad: c.autoPad },
    'lowrank_u',
  );
  becomeConv(node, mid, w('v', [c.cout, r, 1, 1], transposed(w2, r, c.cout)), { kernel: [1, 1] });
}

function rewriteSpatial(l: Layer, c: ConvShape, w1: Float32Array, w2: Float32Array, r: number): void {
  const node = l.node;
  const base = node.inputs[1]!.name;
  // w1 [(ci, i), t] -> V [t, ci, i, 1]; w2 [t, (o, j)] -> H [o, t, 1, j]
  const v = new Float32Array(r * c.cin * c.kh);
  for (let ci = 0; ci < c.cin; ci++)
    for (let i = 0; i < c.kh; i++)
      for (let t = 0; t < r; t++) v[(t * c.cin + ci) * c.kh + i] = w1[(ci * c.kh + i) * r + t]!;
  const h = new Float32Array(c.cout * r * c.kw);
  for (let t = 0; t < r; t++)
    for (let o = 0; o < c.cout; o++)
      for (let j = 0; j < c.kw; j++) h[(o * r + t) * c.kw + j] = w2[t * c.cout * c.kw + o * c.kw + j]!;
  const [pt, pl, pb, pr] = c.pads;
  const mid = convBefore(
    node,
    node.inputs[0]!,
    newFloatWeight(node.graph, `${base}_vertical`, [r, c.cin, c.kh, 1], v),
    {
      kernel: [c.kh, 1],
      strides: [c.strides[0], 1],
      dilations: [c.dilations[0], 1],
      pads: [pt, 0, pb, 0],
      autoPad: c.autoPad,
    },
    'spatial_v',
  );
  becomeConv(node, mid, newFloatWeight(node.graph, `${base}_horizontal`, [c.cout, r, 1, c.kw], h), {
    kernel: [1, c.kw],
    strides: [1, c.strides[1]],
    dilations: [1, c.dilations[1]],
    pads: [0, pl, 0, pr],
    autoPad: c.autoPad,
  });
}

/** Add `shift` [n] to the node's output (header, rule 5). */
function addShift(node: Node, shift: Float32Array, n: number): void {
  if (!shift.some((x) => x !== 0)) return;
  const graph = node.graph;
  const base = node.inputs[1]!.name;
  const bias = node.inputs[2];
  const gemm = node.opType === 'Gemm';
  const beta = gemm ? attrFloat(node, 'beta', 1) : 1;
  const c = bias && beta !== 0 ? constantOf(bias) : undefined;
  const perFeature = c && (c.size === 1 || (c.size === n && c.dims.at(-1) === n));
  if (node.opType !== 'MatMul' && (!bias || beta === 0 || perFeature)) {
    const old = c?.toFloat32() ?? new Float32Array(1);
    const next = Float32Array.from({ length: n }, (_, i) => shift[i]! + beta * old[i % old.length]!);
    node.setInput(2, newFloatWeight(graph, `${bias?.name ?? base}_shifted`, [n], next));
    if (gemm) setAttr(node, 'beta', 1.0, true);
    return;
  }
  // an Add after the node: the node's readers (and graph output name) move to the Add
  const y = node.outputs[0]!;
  const add = new GraphBuilder(graph).node(
    'Add',
    [y, newFloatWeight(graph, `${base}_shift`, node.opType === 'Conv' ? [n, 1, 1] : [n], shift)],
    {},
    { at: graph.nodes.indexOf(node) + 1, name: `${node.name || node.opType}_shift` },
  );
  replaceValue(y, add.outputs[0]!);
  add.setInput(0, y);
}

function rewriteTucker(l: Layer, c: ConvShape, f: Tucker2Factors): void {
  const node = l.node;
  const graph = node.graph;
  const base = node.inputs[1]!.name;
  const r1 = f.first.length / c.cin;
  const r2 = f.last.length / c.cout;
  const a = convBefore(
    node,
    node.inputs[0]!,
    newFloatWeight(graph, `${base}_tucker_in`, [r1, c.cin, 1, 1], f.first),
    { kernel: [1, 1] },
    'tucker_in',
  );
  const core = convBefore(
    node,
    a,
    newFloatWeight(graph, `${base}_tucker_core`, [r2, r1, c.kh, c.kw], f.core),
    { kernel: [c.kh, c.kw], strides: c.strides, dilations: c.dilations, pads: c.pads, autoPad: c.autoPad },
    'tucker_core',
  );
  becomeConv(node, core, newFloatWeight(graph, `${base}_tucker_out`, [c.cout, r2, 1, 1], f.last), {
    kernel: [1, 1],
  });
  if (f.biasShift) addShift(node, f.biasShift, c.cout);
}

/** Replace the layer's node by its factorized chain (header). */
export function rewriteLayer(l: Layer, f: Factors): void {
  if ('core' in f) {
    rewriteTucker(l, l.conv!, f);
    return;
  }
  const r = f.w1.length / l.k;
  if (l.kind === 'linear') rewriteLinear(l, f.w1, f.w2, r);
  else if (l.kind === 'pointwise') rewritePointwise(l, l.conv!, f.w1, f.w2, r);
  else rewriteSpatial(l, l.conv!, f.w1, f.w2, r);
  if (!f.shift) return;
  if (l.kind !== 'spatial') {
    addShift(l.node, f.shift, l.n);
    return;
  }
  const c = l.conv!;
  const perChannel = new Float32Array(c.cout);
  for (let o = 0; o < c.cout; o++) for (let j = 0; j < c.kw; j++) perChannel[o]! += f.shift[o * c.kw + j]!;
  addShift(l.node, perChannel, c.cout);
}
