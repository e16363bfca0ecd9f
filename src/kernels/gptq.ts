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
// block gets scale 1 (its codes are then exact zeros). The quotient is fround(w · (1/scale)) with the
// reciprocal in float64: the same float32 as w / scale, because a quotient of two float32 values is
// never within 2^-49 (relative) of a float32 rounding midpoint, and the float64 product errs < 2^-51.
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
  const inv = new Float64Array(N);
  for (let n = 0; n < N; n++) inv[n] = 1 / scales[so + n]!;
  for (let r = r0; r < r1; r++) {
    const base = r * N;
    if (zeroPoints) {
      for (let n = 0; n < N; n++) {
        const t = Math.fround(w[base + n]! * inv[n]!) + MAGIC - MAGIC + zeroPoints[so + n]!;
        codes[base + n] = Math.max(qmin, Math.min(qmax, t));
      }
    } else {
      for (let n = 0; n < N; n++) {
        const t = Math.fround(w[base + n]! * inv[n]!) + MAGIC - MAGIC;
        codes[base + n] = Math.max(qmin, Math.min(qmax, t));
      }
    }
  }
}

/**
 * Rule 1 for a whole matrix (per column or per tensor), the hot path of int8 weight-only quantization:
 * one pass for max|w| (on the float bits: |w| is bits & 0x7fffffff, ordered like the floats), one to
 * quantize; both four rows at a time. No clamp is needed: |w / scale| <= 127 (1 + 2^-24) rounds to at most 127.
 * Same codes as numpy's clip(rint(w / (max|w| / 127)), -127, 127) in float32.
 */
function quantizeInt8Columns(w: Float32Array, K: number, N: number, qm: QuantizedMatrix): void {
  const bits = new Int32Array(w.buffer, w.byteOffset, K * N);
  const top = new Int32Array(N);
  // four rows at a time, branch-free max of non-negative int32: a - ((a - b) & ((a - b) >> 31))
  let r = 0;
  for (; r + 3 < K; r += 4) {
    const b0 = r * N;
    const b1 = b0 + N;
    const b2 = b1 + N;
    const b3 = b2 + N;
    for (let n = 0; n < top.length; n++) {
      const a = bits[b0 + n]! & 0x7fffffff;
      const b = bits[b1 + n]! & 0x7fffffff;
      const c = bits[b2 + n]! & 0x7fffffff;
      const e = bits[b3 + n]! & 0x7fffffff;
      const d1 = a - b;
      const m1 = a - (d1 & (d1 >> 31));
      const d2 = c - e;
      const m2 = c - (d2 & (d2 >> 31));
      const d3 = m1 - m2;
      const m = m1 - (d3 & (d3 >> 31));
      if (m > top[n]!) top[n] = m;
    }
  }
  for (; r < K; r++)
    for (let n = 0, b = r * N; n < top.length; n++) top[n] = Math.max(top[n]!, bits[b + n]! & 0x7fffffff);
  const maxAbs = new Float32Array(top.buffer);
  if (qm.perTensor) maxAbs.fill(maxAbs.reduce((a, b) => Math.max(a, b), 0));
  const scales = qm.scales;
  const inv = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const s = Math.fround(maxAbs[n]! / 127);
    scales[n] = s >= F32_TINY || Number.isNaN(s) ? s : 1;
    inv[n] = 1 / scales[n]!;
  }
  // four rows at a time: one reciprocal load serves four codes
  const codes = qm.codes;
  for (r = 0; r + 3 < K; r += 4) {
    const b0 = r * N;
    const b1 = b0 + N;
    const b2 = b1 + N;
    const b3 = b2 + N;
    for (let n = 0; n < inv.length; n++) {
      const f = inv[n]!;
      codes[b0 + n] = Math.fround(w[b0 + n]! * f) + MAGIC - MAGIC;
      codes[b1 + n] = Math.fround(w[b1 + n]! * f) + MAGIC - MAGIC;
      codes[b2 + n] = Math.fround(w[b2 + n]! * f) + MAGIC - MAGIC;
      codes[b3 + n] = Math.fround(w[b3 + n]! * f) + MAGIC - MAGIC;
    }
  }
  for (; r < K; r++)
    for (let n = 0, b = r * N; n < inv.length; n++)
      codes[b + n] = Math.fround(w[b + n]! * inv[n]!) + MAGIC - MAGIC;
}

/** Round-to-nearest quantization of w [K, N] (row-major). */
export function quantizeRtn(w: Float32Array, K: number, N: number, scheme: WeightScheme): QuantizedMatrix {
  const qm = emptyMatrix(K, N, scheme);
  if (qm.bits === 8 && qm.kBlocks === 1 && w.byteOffset % 4 === 0) {
    quantizeInt8Columns(w, K, N, qm);
    return qm;
  }
  for (let b = 0; b < qm.kBlocks; b++) {
    const r0 = b * qm.blockSize;
    const r1 = Math.min(K, r0 + qm.blockSize);
    blockParams(w, N, r0, r1, b, qm);
    quantizeRows(w, N, r0, r1, b, qm);
  }
  return qm;
}

/** Per-row quantization of w [M, R] (a Conv weight: one scale per output channel m), RTN. */
export function quantizeRowsRtn(w: Float32Array, M: number, scheme: WeightScheme): QuantizedMatrix {
  const R = w.length / M;
  const t = new Float32Array(w.length); // rows become columns of [R, M]
  for (let m = 0; m < M; m++) for (let r = 0; r < R; r++) t[r * M + m] = w[m * R + r]!;
  const qm = quantizeRtn(t, R, M, { ...scheme, blockSize: R });
  const codes = new Int8Array(w.length);
  for (let m = 0; m < M; m++) for (let r = 0; r < R; r++) codes[m * R + r] = qm.codes[r * M + m]!;
  return { ...qm, codes };
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

// Both factorizations work on blocks of ROWS rows: every earlier row is read once per block instead of
// once per row, which keeps the K×K triangle's traffic (not the arithmetic) from dominating.
const ROWS = 16;

/** Σ a[i0 + p] · a[j0 + p] for p < len, with four accumulators (an add's latency bounds one). */
function dot(a: Float64Array, i0: number, j0: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let p = 0;
  for (; p + 3 < len; p += 4) {
    s0 += a[i0 + p]! * a[j0 + p]!;
    s1 += a[i0 + p + 1]! * a[j0 + p + 1]!;
    s2 += a[i0 + p + 2]! * a[j0 + p + 2]!;
    s3 += a[i0 + p + 3]! * a[j0 + p + 3]!;
  }
  for (; p < len; p++) s0 += a[i0 + p]! * a[j0 + p]!;
  return s0 + s1 + (s2 + s3);
}

/** In-place lower Cholesky factor of a symmetric positive definite a; false if not positive definite. */
export function choleskyLower(a: Float64Array, n: number): boolean {
  for (let i0 = 0; i0 < n; i0 += ROWS) {
    const i1 = Math.min(n, i0 + ROWS);
    // L[i][j] = (A[i][j] - L[i][:j] · L[j][:j]) / L[j][j]; row j is final once column j is done
    for (let j = 0; j < i1; j++) {
      const rj = j * n;
      for (let i = Math.max(i0, j); i < i1; i++) {
        const ri = i * n;
        const s = a[ri + j]! - dot(a, ri, rj, j);
        if (i > j) a[ri + j] = s / a[rj + j]!;
        else if (s > 0 && Number.isFinite(s)) a[ri + i] = Math.sqrt(s);
        else return false;
      }
    }
    for (let i = i0; i < i1; i++) a.fill(0, i * n + i + 1, (i + 1) * n);
  }
  return true;
}

/** Inverse of a lower triangular l (row-major n×n), lower triangular. */
export function invertLower(l: Float64Array, n: number): Float64Array {
  const x = new Float64Array(n * n);
  // row i of X = (e_i - Σ_{p<i} L[i][p] · X[p]) / L[i][i], X[p] zero beyond column p
  const subtract = (i: number, p: number) => {
    const f = l[i * n + p]!;
    if (f === 0) return;
    const ri = i * n;
    const rp = p * n;
    let j = 0;
    for (; j + 3 <= p; j += 4) {
      x[ri + j] = x[ri + j]! - f * x[rp + j]!;
      x[ri + j + 1] = x[ri + j + 1]! - f * x[rp + j + 1]!;
      x[ri + j + 2] = x[ri + j + 2]! - f * x[rp + j + 2]!;
      x[ri + j + 3] = x[ri + j + 3]! - f * x[rp + j + 3]!;
    }
    for (; j <= p; j++) x[ri + j] = x[ri + j]! - f * x[rp + j]!;
  };
  for (let i0 = 0; i0 < n; i0 += ROWS) {
    const i1 = Math.min(n, i0 + ROWS);
    for (let p = 0; p < i0; p++) for (let i = i0; i < i1; i++) subtract(i, p);
    for (let p = i0; p < i1; p++) {
      const rp = p * n;
      const d = 1 / l[rp + p]!;
      for (let j = 0; j < p; j++) x[rp + j] = x[rp + j]! * d;
      x[rp + p] = d;
      for (let i = p + 1; i < i1; i++) subtract(i, p);
    }
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
        q = Math.max(qmin, Math.min(qmax, q));
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
