// Weight quantizers for weight-only quantization of a matrix W [K, N] (MatMul's B: K inputs, N outputs):
// round-to-nearest (RTN) and GPTQ, on one grid shared by both. A column is cut into blocks of
// `blockSize` consecutive rows (block_size >= K: one block = per channel); each (block, column) has a
// scale and, when asymmetric, a zero point. codes hold the integer levels; w ≈ (code - zp) · scale.
//  1. int8 symmetric: scale = max|w| / 127, code = clip(rne(w / scale), -127, 127), zp 0
//     (ORT's Python quantizer, ORT.md §2.9).
//  2. 4-bit symmetric: ORT's MLAS rule (ORT.md §3.3): m = the block's value of largest magnitude (with
//     its sign), scale = -m / 8, code = clip(rne(w / scale), -8, 7), zp 0. The extreme lands on -8,
//     so all 16 levels are used; scales may be negative (DequantizeLinear and MatMulNBits allow it).
//  3. asymmetric (4-bit): lo = min(min, 0), hi = max(max, 0), scale = (hi - lo) / 15,
//     zp = clip(rne(-lo / scale), 0, 15), code = clip(rne(w / scale) + zp, 0, 15).
// rne = round half to even of the float32 quotient, as numpy and ONNX QuantizeLinear do; an all-zero
// block gets scale 1 (its codes are then exact zeros).
//
// GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers", 2022), written for W [K, N] (the paper's W is [N, K]): with H = 2·XᵀX/M from the
// layer's inputs X [M, K] (dampened by percdamp · mean(diag H)) and U the upper Cholesky factor of
// H⁻¹ (H⁻¹ = UᵀU), quantize rows k = 0..K-1 in order; after row k, spread its error
// e = (w_k - q_k) / U[k,k] over the rows not yet quantized: w_j -= U[k,j] · e. Updates are applied
// lazily: inside a batch of rows at once, to the rest of W with one product through `gemm` (ONNX
// Runtime): W[i2:] -= U[i1:i2, i2:]ᵀ · E. Batches are a multiple of the block size, so a block's
// scales are computed from its current (already updated) rows when the block is entered.

import { computeScaleZeroPoint, RANGES } from './quant.js';

export interface WeightScheme {
  bits: 4 | 8;
  /** rows per block along K; >= K means one block per column (per channel) */
  blockSize: number;
  /** int8 is always symmetric */
  symmetric: boolean;
  /** one scale for the whole matrix (int8 only) */
  perTensor?: boolean;
}

export interface QuantizedMatrix {
  K: number;
  N: number;
  bits: 4 | 8;
  /** effective rows per block (K for per channel) */
  blockSize: number;
  kBlocks: number;
  perTensor: boolean;
  /** [K, N] integer levels: signed (symmetric) or unsigned 0..15 (asymmetric) */
  codes: Int8Array;
  /** [kBlocks, N] */
  scales: Float32Array;
  /** [kBlocks, N], asymmetric only */
  zeroPoints: Uint8Array | undefined;
}

/** y = alpha · op(A) · B + beta · C for row-major float32 matrices; op(A) = Aᵀ when transA. */
export type GemmFn = (
  a: Float32Array,
  aDims: [number, number],
  b: Float32Array,
  bDims: [number, number],
  options: { transA?: boolean; alpha?: number; beta?: number; c?: Float32Array },
) => Promise<Float32Array>;

const MAGIC = 6755399441055744; // 1.5 · 2^52: (t + MAGIC) - MAGIC rounds a double half to even
const F32_TINY = 1.1754943508222875e-38;

function levels(qm: QuantizedMatrix): { qmin: number; qmax: number } {
  if (qm.bits === 8) return { qmin: -127, qmax: 127 };
  return qm.zeroPoints ? { qmin: 0, qmax: 15 } : { qmin: -8, qmax: 7 };
}

function emptyMatrix(K: number, N: number, scheme: WeightScheme): QuantizedMatrix {
  const blockSize = scheme.perTensor || scheme.blockSize >= K ? K : scheme.blockSize;
  const kBlocks = Math.ceil(K / blockSize);
  const asymmetric = scheme.bits === 4 && !scheme.symmetric;
  return {
    K,
    N,
    bits: scheme.bits,
    blockSize,
    kBlocks,
    perTensor: scheme.perTensor === true,
    codes: new Int8Array(K * N),
    scales: new Float32Array(kBlocks * N),
    zeroPoints: asymmetric ? new Uint8Array(kBlocks * N) : undefined,
  };
}

/** Scale (and zero point) of each column of rows [r0, r1) of w [*, N], written at block `b`. */
function blockParams(
  w: Float32Array,
  N: number,
  r0: number,
  r1: number,
  b: number,
  qm: QuantizedMatrix,
): void {
  const lo = new Float32Array(N).fill(Number.POSITIVE_INFINITY);
  const hi = new Float32Array(N).fill(Number.NEGATIVE_INFINITY);
  for (let r = r0; r < r1; r++) {
    const base = r * N;
    for (let n = 0; n < N; n++) {
      const v = w[base + n]!;
      if (v < lo[n]!) lo[n] = v;
      if (v > hi[n]!) hi[n] = v;
    }
  }
  if (qm.perTensor) {
    let l = Number.POSITIVE_INFINITY;
    let h = Number.NEGATIVE_INFINITY;
    for (let n = 0; n < N; n++) {
      l = Math.min(l, lo[n]!);
      h = Math.max(h, hi[n]!);
    }
    lo.fill(l);
    hi.fill(h);
  }
  const so = b * N;
  for (let n = 0; n < N; n++) {
    const l = lo[n]!;
    const h = hi[n]!;
    if (qm.bits === 8) {
      qm.scales[so + n] = computeScaleZeroPoint(l, h, RANGES.int8Symmetric, true).scale;
    } else if (!qm.zeroPoints) {
      const m = Math.abs(h) > Math.abs(l) ? h : l; // rule 2
      const s = Math.fround(-m / 8);
      qm.scales[so + n] = Math.abs(s) >= F32_TINY ? s : 1;
    } else {
      const { scale, zeroPoint } = computeScaleZeroPoint(l, h, RANGES.uint4, false); // rule 3
      qm.scales[so + n] = scale;
      qm.zeroPoints[so + n] = zeroPoint;
    }
  }
}

/** Quantize rows [r0, r1) of w [*, N] with block b's parameters into qm.codes (same rows). */
function quantizeRows(
  w: Float32Array,
  N: number,
  r0: number,
  r1: number,
  b: number,
  qm: QuantizedMatrix,
): void {
  const { qmin, qmax } = levels(qm);
  const { codes, scales, zeroPoints } = qm;
  const so = b * N;
  for (let r = r0; r < r1; r++) {
    const base = r * N;
    if (zeroPoints) {
      for (let n = 0; n < N; n++) {
        const t = Math.fround(w[base + n]! / scales[so + n]!) + MAGIC - MAGIC + zeroPoints[so + n]!;
        codes[base + n] = t < qmin ? qmin : t > qmax ? qmax : t;
      }
    } else {
      for (let n = 0; n < N; n++) {
        const t = Math.fround(w[base + n]! / scales[so + n]!) + MAGIC - MAGIC;
        codes[base + n] = t < qmin ? qmin : t > qmax ? qmax : t;
      }
    }
  }
}

/** Round-to-nearest quantization of w [K, N] (row-major). */
export function quantizeRtn(w: Float32Array, K: number, N: number, scheme: WeightScheme): QuantizedMatrix {
  const qm = emptyMatrix(K, N, scheme);
  for (let b = 0; b < qm.kBlocks; b++) {
    const r0 = b * qm.blockSize;
    const r1 = Math.min(K, r0 + qm.blockSize);
    blockParams(w, N, r0, r1, b, qm);
    quantizeRows(w, N, r0, r1, b, qm);
  }
  return qm;
}

/** w ≈ (code - zp) · scale, as a float32 [K, N] matrix. */
export function dequantize(qm: QuantizedMatrix): Float32Array {
  const { K, N, codes, scales, zeroPoints, blockSize } = qm;
  const out = new Float32Array(K * N);
  for (let k = 0; k < K; k++) {
    const so = Math.floor(k / blockSize) * N;
    for (let n = 0; n < N; n++)
      out[k * N + n] = (codes[k * N + n]! - (zeroPoints ? zeroPoints[so + n]! : 0)) * scales[so + n]!;
  }
  return out;
}

// --- small dense factorizations (float64, row-major n×n)

/** In-place lower Cholesky factor of a symmetric positive definite a; false if not positive definite. */
export function choleskyLower(a: Float64Array, n: number): boolean {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j]!;
      for (let p = 0; p < j; p++) s -= a[ri + p]! * a[rj + p]!;
      if (j < i) a[ri + j] = s / a[rj + j]!;
      else if (s > 0 && Number.isFinite(s)) a[ri + i] = Math.sqrt(s);
      else return false;
    }
    for (let j = i + 1; j < n; j++) a[ri + j] = 0;
  }
  return true;
}

/** Inverse of a lower triangular l (row-major n×n), lower triangular. */
export function invertLower(l: Float64Array, n: number): Float64Array {
  const x = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    // row i of X: (e_i - Σ_{p<i} L[i][p] · X[p]) / L[i][i]; X[p] is zero beyond column p
    for (let p = 0; p < i; p++) {
      const f = l[ri + p]!;
      if (f === 0) continue;
      const rp = p * n;
      for (let j = 0; j <= p; j++) x[ri + j] = x[ri + j]! - f * x[rp + j]!;
    }
    const d = 1 / l[ri + i]!;
    for (let j = 0; j < i; j++) x[ri + j] = x[ri + j]! * d;
    x[ri + i] = d;
  }
  return x;
}

/**
 * U upper triangular with UᵀU = H⁻¹ (H symmetric positive definite). With J the reversal
 * permutation: JHJ = L'L'ᵀ gives H = VVᵀ with V = JL'J upper, so H⁻¹ = V⁻ᵀV⁻¹ and U = V⁻¹ = J L'⁻¹ J.
 * Returns undefined when H is not positive definite.
 */
export function upperCholeskyOfInverse(h: Float64Array, n: number): Float64Array | undefined {
  const r = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) r[(n - 1 - i) * n + (n - 1 - j)] = h[i * n + j]!;
  if (!choleskyLower(r, n)) return undefined;
  const li = invertLower(r, n);
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) u[(n - 1 - i) * n + (n - 1 - j)] = li[i * n + j]!;
  return u;
}

export interface GptqOptions {
  /** dampening, as a fraction of the mean diagonal of H (GPTQ's percdamp) */
  percdamp?: number;
  /** rows per lazy update batch (rounded up to a multiple of the block size) */
  lazyBatch?: number;
}

/**
 * GPTQ quantization of w [K, N] given h [K, K] (a multiple of XᵀX over the calibration rows; only
 * its shape matters). `gemm` does the big products (ONNX Runtime through kernels/ort-matmul.ts).
 */
export async function quantizeGptq(
  w: Float32Array,
  K: number,
  N: number,
  h: Float64Array,
  scheme: WeightScheme,
  gemm: GemmFn,
  options: GptqOptions = {},
): Promise<QuantizedMatrix> {
  const W = Float32Array.from(w);
  const H = Float64Array.from(h);
  // inputs that never fire carry no information: quantize their (zeroed) rows exactly
  let meanDiag = 0;
  for (let k = 0; k < K; k++) {
    if (H[k * K + k] === 0) {
      H[k * K + k] = 1;
      W.fill(0, k * N, (k + 1) * N);
    }
    meanDiag += H[k * K + k]! / K;
  }
  let damp = (options.percdamp ?? 0.01) * meanDiag;
  let U: Float64Array | undefined;
  for (let attempt = 0; attempt < 6 && !U; attempt++) {
    const Hd = attempt === 0 && damp === 0 ? H : Float64Array.from(H);
    for (let k = 0; k < K; k++) Hd[k * K + k] = Hd[k * K + k]! + damp;
    U = upperCholeskyOfInverse(Hd, K);
    damp = Math.max(damp * 10, 1e-8 * meanDiag);
  }
  if (!U) return quantizeRtn(w, K, N, scheme); // numerically hopeless: fall back to RTN

  const qm = emptyMatrix(K, N, scheme);
  const bs = qm.blockSize;
  const grouped = bs < K;
  // per channel / per tensor: the grid comes from the original weights, as GPTQ does without groups
  if (!grouped) blockParams(W, N, 0, K, 0, qm);
  const batch = grouped
    ? Math.ceil(Math.max(options.lazyBatch ?? 128, bs) / bs) * bs
    : (options.lazyBatch ?? 128);
  const { qmin, qmax } = levels(qm);
  const { codes, scales, zeroPoints } = qm;
  const err = new Float32Array(batch * N);
  for (let i1 = 0; i1 < K; i1 += batch) {
    const i2 = Math.min(K, i1 + batch);
    for (let k = i1; k < i2; k++) {
      const b = Math.floor(k / bs);
      if (grouped && k % bs === 0) blockParams(W, N, k, Math.min(K, k + bs), b, qm);
      const so = b * N;
      const d = U[k * K + k]!;
      const row = k * N;
      const e = (k - i1) * N;
      for (let n = 0; n < N; n++) {
        const v = W[row + n]!;
        const s = scales[so + n]!;
        const z = zeroPoints ? zeroPoints[so + n]! : 0;
        let q = Math.fround(v / s) + MAGIC - MAGIC + z;
        q = q < qmin ? qmin : q > qmax ? qmax : q;
        codes[row + n] = q;
        err[e + n] = (v - Math.fround((q - z) * s)) / d;
      }
      // spread the error over the rest of this batch (the rows below wait for the batch product)
      for (let j = k + 1; j < i2; j++) {
        const f = U[k * K + j]!;
        if (f === 0) continue;
        const rj = j * N;
        for (let n = 0; n < N; n++) W[rj + n] = W[rj + n]! - f * err[e + n]!;
      }
    }
    if (i2 < K) {
      // W[i2:] -= U[i1:i2, i2:]ᵀ · E  (one ORT Gemm: alpha -1, beta 1, C = W[i2:])
      const rows = i2 - i1;
      const rest = K - i2;
      const u = new Float32Array(rows * rest);
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < rest; j++) u[i * rest + j] = U[(i1 + i) * K + i2 + j]!;
      const updated = await gemm(u, [rows, rest], err.subarray(0, rows * N), [rows, N], {
        transA: true,
        alpha: -1,
        beta: 1,
        c: W.subarray(i2 * N),
      });
      W.set(updated, i2 * N);
    }
  }
  return qm;
}
