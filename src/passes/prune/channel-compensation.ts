// What prune-channels does for the layers that read a pruned channel space (its consumers: Conv of
// group 1, Gemm, MatMul), before the channels are sliced away:
//  1. constants without data: a channel is constant when every producer's filter for it is small (L1
//     at most a tenth of that producer's mean filter L1); its value is the producer's bias, carried
//     through the per-channel ops of the space (Relu, Clip,
//     LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, BatchNormalization, depthwise Conv, pooling,
//     per-channel constants, Add/Sub/Mul/Div of two activations of the space) in graph order; any
//     other channel, or one that reaches an op not listed, has no constant (NaN) and is not
//     compensated. (The bias alone is no estimate of a channel that varies: with BatchNorm folded
//     into the conv, the bias holds −γμ/σ + β and the mean pre-activation is β, so ReLU(bias)
//     overstates the mean several times — on cnn-residual it cost 30 points of top-1.)
//  2. with calibration data the constant is the channel's mean at the consumer's input, and a Conv
//     consumer uses the mean of every im2col column (which counts the zero padding exactly as the
//     convolution sees it)
//  3. bias compensation: the removed channels' constant contribution goes into the consumer's bias —
//     Conv: Δb_o = Σ_c Σ_(i,j) W[o, c, i, j] · κ_c (per column mean with data), Gemm/MatMul:
//     Δb = Σ_c κ_c · W[c, :]; a Conv without bias gets one, a Gemm its C (beta 1 when it had none),
//     a MatMul an Add after it. Exact when the channel is constant and the window never reaches the
//     padding (valid convs, 1×1 convs, Gemm)
//  4. reconstruction (AIMET's channel pruning): with H = [X 1]ᵀ[X 1] / M of the consumer's input on the
//     calibration data, the kept rows S of the consumer's weight and its bias are refitted to the
//     original output Y = X W + b: min ||X_S W' + 1 b'ᵀ − Y||² + λ||W'||², solved through the normal
//     equations (kernels/cholesky) with λ = 1e-6 · mean diag (× 100 until H_S + λ factors); products
//     through ctx.matmul
//  5. importance: the consumer's output error when channel c is replaced by its mean,
//     tr(W_cᵀ Cov_cc W_c) over the consumer's output variance tr(Wᵀ Cov W) (Cov from H), summed over
//     the consumers: what bias compensation cannot restore (the same ranking with compensation
//     'none', so the three modes differ only in what they do for the channels removed)

import { attrFloat, setAttr } from '../../ir/builder.js';
import { type Graph, Node, Value } from '../../ir/graph.js';
import { upperCholeskyOfInverse } from '../../kernels/cholesky.js';
import type { GemmFn } from '../../kernels/matmul.js';
import { traceForm } from '../../kernels/sparsegpt.js';
import { linearOf } from '../quantize/gptq.js';
import { constantOf, newFloatWeight, replaceInputWeight } from '../util.js';
import { type InputStats, type LayerMatrix, layerMatrix } from './activations.js';
import { BINARY, type Entry, floatConst, SAME_SPACE, type Spaces } from './channel-spaces.js';

const ACTIVATION: Record<string, (x: number, n: Node) => number> = {
  Relu: (x) => Math.max(0, x),
  LeakyRelu: (x, n) => (x < 0 ? attrFloat(n, 'alpha', 0.01) * x : x),
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  Tanh: (x) => Math.tanh(x),
  HardSigmoid: (x, n) => Math.max(0, Math.min(1, attrFloat(n, 'alpha', 0.2) * x + attrFloat(n, 'beta', 0.5))),
  HardSwish: (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)),
};

/** Clip's bounds: inputs 1 and 2 (opset 11+) or attributes min/max. */
function clipBounds(n: Node): [number, number] {
  const at = (i: number, attr: string, fallback: number) => {
    const t = n.inputs[i] ? constantOf(n.inputs[i]) : undefined;
    if (t) return t.toFloat32()[0]!;
    return n.attributes.has(attr) ? attrFloat(n, attr, fallback) : fallback;
  };
  return [at(1, 'min', Number.NEGATIVE_INFINITY), at(2, 'max', Number.POSITIVE_INFINITY)];
}

/** A per-channel vector of a constant operand (scalar broadcast), or undefined. */
function perChannel(v: Value | undefined, channels: number): Float64Array | undefined {
  const t = floatConst(v);
  if (!t) return undefined;
  const d = t.toFloat32();
  if (d.length === 1) return new Float64Array(channels).fill(d[0]!);
  return d.length === channels ? Float64Array.from(d) : undefined;
}

/** Bias of a producer where its filter is small (rule 1), NaN elsewhere; undefined when not constant. */
function constantOutput(n: Node, channels: number): Float64Array | undefined {
  const b = producerBias(n, channels);
  const lm = layerMatrix(n);
  if (!b || !lm || lm.N !== channels) return undefined;
  const w = lm.read()[0]!;
  const l1 = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) l1[i % channels] = l1[i % channels]! + Math.abs(w[i]!);
  const mean = l1.reduce((a, v) => a + v, 0) / channels;
  return b.map((v, c) => (l1[c]! <= 0.1 * mean ? v : Number.NaN));
}

/** Bias of a producer as a vector (Conv B, Gemm beta · C, else 0); undefined when not constant. */
function producerBias(n: Node, channels: number): Float64Array | undefined {
  if (n.opType === 'Conv')
    return n.inputs[2] ? perChannel(n.inputs[2], channels) : new Float64Array(channels);
  if (n.opType === 'MatMul') return new Float64Array(channels);
  const lin = linearOf(n, 0);
  if (!lin || lin.biasValue) return undefined;
  return lin.biasVector ? Float64Array.from(lin.biasVector) : new Float64Array(channels);
}

/** rule 1: each value of space `root` → the constant of every channel (NaN where unknown). */
export function propagateConstants(
  graph: Graph,
  sp: Spaces,
  root: number,
  channels: number,
  entries: Entry[],
): Map<Value, Float64Array> {
  const k = new Map<Value, Float64Array>();
  const inSpace = (v: Value | undefined) => !!v && sp.of.has(v) && sp.find(sp.of.get(v)!) === root;
  const producers = new Set(
    entries.filter((e) => e.role === 'conv-out' || e.role === 'fc-out').map((e) => e.node),
  );
  const unknown = () => new Float64Array(channels).fill(Number.NaN);
  for (const n of graph.nodes) {
    const y = n.outputs[0];
    if (!y || !inSpace(y)) continue;
    if (producers.has(n)) {
      // two producers (a residual Add) keep a channel constant only when both are
      k.set(y, constantOutput(n, channels) ?? unknown());
      continue;
    }
    const inputs = n.inputs.filter(inSpace).map((v) => k.get(v!) ?? unknown());
    const x = inputs[0] ?? unknown();
    let out: Float64Array;
    const f = ACTIVATION[n.opType];
    if (f) out = x.map((v) => f(v, n));
    else if (n.opType === 'Clip') {
      const [lo, hi] = clipBounds(n);
      out = x.map((v) => Math.min(hi, Math.max(lo, v)));
    } else if (SAME_SPACE.has(n.opType) || n.opType === 'Flatten') out = x;
    else if (n.opType === 'BatchNormalization') {
      const [g, b, m, v] = [1, 2, 3, 4].map((i) => perChannel(n.inputs[i], channels));
      const eps = attrFloat(n, 'epsilon', 1e-5);
      out =
        g && b && m && v
          ? x.map((z, c) => (g[c]! * (z - m[c]!)) / Math.sqrt(v[c]! + eps) + b[c]!)
          : unknown();
    } else if (n.opType === 'Conv') {
      // depthwise: a constant plane stays constant (away from the padding)
      const t = floatConst(n.inputs[1]);
      const b = n.inputs[2] ? perChannel(n.inputs[2], channels) : new Float64Array(channels);
      const w = t?.toFloat32();
      const per = w ? w.length / channels : 0;
      out =
        w && b
          ? x.map((z, c) => {
              let s = 0;
              for (let i = 0; i < per; i++) s += w[c * per + i]!;
              return z * s + b[c]!;
            })
          : unknown();
    } else if (BINARY.has(n.opType)) {
      const [a, bb] = n.inputs;
      const va = inSpace(a) ? k.get(a!) : perChannel(a, channels);
      const vb = inSpace(bb) ? k.get(bb!) : perChannel(bb, channels);
      const op = {
        Add: (p: number, q: number) => p + q,
        Sub: (p: number, q: number) => p - q,
        Mul: (p: number, q: number) => p * q,
        Div: (p: number, q: number) => p / q,
      }[n.opType as 'Add'];
      out = va && vb ? va.map((p, c) => op(p, vb[c]!)) : unknown();
    } else out = unknown();
    k.set(y, out);
  }
  return k;
}

/** The consumer's output bias as a float vector (Conv B, Gemm beta · C, MatMul 0); undefined if not constant. */
export function consumerBias(n: Node, outputs: number): Float64Array | undefined {
  return producerBias(n, outputs);
}

/**
 * rule 3: add delta [N] to the consumer's output bias (creating it where there is none); returns the
 * Add node inserted after a MatMul (or a Gemm whose C is computed), whose constant is input 1.
 */
export function addBias(n: Node, delta: Float64Array): Node | undefined {
  const N = delta.length;
  const lin = n.opType === 'Gemm' ? linearOf(n, 0) : undefined;
  if (n.opType === 'Conv' || (lin && !lin.biasValue)) {
    // Conv B, or Gemm C (stored divided by beta; beta 1 when there was no C)
    const now =
      n.opType === 'Conv'
        ? n.inputs[2]
          ? perChannel(n.inputs[2], N)!
          : new Float64Array(N)
        : lin!.biasVector;
    const beta = lin && n.inputs[2] ? attrFloat(n, 'beta', 1) : 1;
    if (lin && !n.inputs[2]) setAttr(n, 'beta', 1, true);
    const name = `${n.inputs[2]?.name ?? `${n.inputs[1]!.name}_bias`}_compensated`;
    const b = Float32Array.from(delta, (d, i) => ((now?.[i] ?? 0) + d) / beta);
    n.setInput(2, newFloatWeight(n.graph, name, [N], b));
    return undefined;
  }
  // MatMul, or a Gemm whose C is computed: an Add after the node
  const y = n.outputs[0]!;
  const g = n.graph;
  const mid = new Value(g, g.model.uniqueName(`${y.name}_uncompensated`), y.type);
  n.outputs[0] = mid;
  mid.producer = n;
  mid.producerIndex = 0;
  const add = new Node(g, 'Add', '', g.model.uniqueName(`${n.name || n.opType}_compensation`));
  add.addInput(mid);
  add.addInput(newFloatWeight(g, `${n.inputs[1]!.name}_compensation`, [N], Float32Array.from(delta)));
  add.addOutput(y);
  g.insertNode(add, g.nodes.indexOf(n) + 1);
  return add;
}

/** Column means μ̂ = Xᵀ1 / M and the normalized H = XᵀX / M of a consumer's input. */
function moments(s: InputStats): { mu: Float64Array; h: Float64Array } {
  const mu = Float64Array.from(s.sum[0]!, (v) => v / s.rows);
  const h = Float64Array.from(s.xtx[0]!, (v) => v / s.rows);
  return { mu, h };
}

/** rows of channel c in the consumer's [K, N] view: c·S .. c·S + S − 1 */
const rowsPer = (lm: LayerMatrix, channels: number) => lm.K / channels;

/**
 * rules 2, 3 with data, or rule 1's constants: the bias change when `removed` channels go, from the
 * consumer's current weight in its [K, N] view.
 */
export function compensationDelta(
  lm: LayerMatrix,
  channels: number,
  removed: number[],
  constants: Float64Array | undefined,
  stats: InputStats | undefined,
): Float64Array {
  const w = lm.read()[0]!;
  const N = lm.N;
  const S = rowsPer(lm, channels);
  const delta = new Float64Array(N);
  const mu = stats ? moments(stats).mu : undefined;
  for (const c of removed)
    for (let s = 0; s < S; s++) {
      const r = c * S + s;
      const kappa = mu ? mu[r]! : (constants?.[c] ?? Number.NaN);
      if (!Number.isFinite(kappa) || kappa === 0) continue;
      for (let n = 0; n < N; n++) delta[n] = delta[n]! + kappa * w[r * N + n]!;
    }
  return delta;
}

/** rule 5: per channel, the consumer's relative output error when the channel is replaced by its mean. */
export async function channelErrors(
  lm: LayerMatrix,
  channels: number,
  stats: InputStats,
  gemm: GemmFn,
): Promise<Float64Array> {
  const w = lm.read()[0]!;
  const { K, N } = lm;
  const S = rowsPer(lm, channels);
  const { mu, h } = moments(stats);
  const m = new Float32Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) m[i * K + j] = h[i * K + j]! - mu[i]! * mu[j]!;
  const energy = await traceForm(m, K, w, w, N, gemm);
  const err = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let e = 0;
    for (let a = 0; a < S; a++)
      for (let b = 0; b < S; b++) {
        const ra = c * S + a;
        const rb = c * S + b;
        const mab = m[ra * K + rb]!;
        if (mab === 0) continue;
        let d = 0;
        for (let n = 0; n < N; n++) d += w[ra * N + n]! * w[rb * N + n]!;
        e += mab * d;
      }
    err[c] = energy > 0 ? e / energy : 0;
  }
  return err;
}

/**
 * rule 4: refit the consumer's kept rows and bias to its original output; returns the new [K, N]
 * weight (removed rows zero) and bias, or undefined when the system cannot be solved.
 */
export async function reconstruct(
  lm: LayerMatrix,
  channels: number,
  keep: number[],
  bias: Float64Array,
  stats: InputStats,
  gemm: GemmFn,
): Promise<{ weight: Float32Array; bias: Float64Array } | undefined> {
  const w = lm.read()[0]!;
  const { K, N } = lm;
  const S = rowsPer(lm, channels);
  const { mu, h } = moments(stats);
  const rows = keep.flatMap((c) => Array.from({ length: S }, (_, s) => c * S + s));
  const R = rows.length;
  const D = R + 1; // the ones column last
  const A = new Float64Array(D * D);
  let meanDiag = 0;
  for (const r of rows) meanDiag += h[r * K + r]! / R;
  for (let i = 0; i < R; i++) {
    for (let j = 0; j < R; j++) A[i * D + j] = h[rows[i]! * K + rows[j]!]!;
    A[i * D + R] = A[R * D + i] = mu[rows[i]!]!;
  }
  A[R * D + R] = 1;
  // right side [H_S,: · W + μ̂_S bᵀ ; μ̂ᵀ W + bᵀ]
  const hs = new Float32Array(D * K);
  for (let i = 0; i < R; i++) for (let j = 0; j < K; j++) hs[i * K + j] = h[rows[i]! * K + j]!;
  for (let j = 0; j < K; j++) hs[R * K + j] = mu[j]!;
  const rhs = await gemm(hs, [D, K], w, [K, N]);
  for (let i = 0; i < D; i++) {
    const m = i < R ? mu[rows[i]!]! : 1;
    for (let n = 0; n < N; n++) rhs[i * N + n] = rhs[i * N + n]! + m * bias[n]!;
  }
  // λ as small as the factorization allows (rank-deficient inputs need more)
  let U: Float64Array | undefined;
  for (let lambda = 1e-6 * meanDiag; !U && lambda <= meanDiag; lambda *= 100) {
    const Ad = Float64Array.from(A);
    for (let i = 0; i < R; i++) Ad[i * D + i] = Ad[i * D + i]! + lambda;
    U = upperCholeskyOfInverse(Ad, D);
  }
  if (!U) return undefined;
  const u = Float32Array.from(U);
  const ub = await gemm(u, [D, D], rhs, [D, N]);
  const x = await gemm(u, [D, D], ub, [D, N], { transA: true });
  const weight = new Float32Array(K * N);
  for (let i = 0; i < R; i++) weight.set(x.subarray(i * N, (i + 1) * N), rows[i]! * N);
  return { weight, bias: Float64Array.from(x.subarray(R * N, (R + 1) * N)) };
}

/** Write a consumer's new [K, N] weight (rule 4), in its own layout. */
export function writeWeight(lm: LayerMatrix, weight: Float32Array): void {
  const t = constantOf(lm.node.inputs[1])!;
  replaceInputWeight(lm.node, 1, [...t.dims], lm.fromMats([weight]), 'reconstructed');
}

/** Set the consumer's bias to `bias` (rule 4), through addBias of the difference. */
export function setBias(n: Node, bias: Float64Array): Node | undefined {
  const now = consumerBias(n, bias.length) ?? new Float64Array(bias.length);
  return addBias(
    n,
    Float64Array.from(bias, (v, i) => v - now[i]!),
  );
}
