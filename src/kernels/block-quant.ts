// Block quantization of a weight matrix W [K, N] (MatMul's B: K inputs, N outputs): round-to-nearest
// (RTN), on the grid GPTQ (gptq.ts) shares. A column is cut into blocks of
// `blockSize` consecutive rows (block_size >= K: one block = per channel); each (block, column) has a
// scale and, when asymmetric, a zero point. codes hold the integer levels; w ≈ (code - zp) · scale.
//  1. int8 symmetric: scale = max|w| / 127, code = clip(rne(w / scale), -127, 127), zp 0
//     (ORT's Python quantizer, docs/ORT.md §2.9).
//  2. 4-bit symmetric: ORT's MLAS rule (docs/ORT.md §3.3): m = the block's value of largest magnitude (with
//     its sign), scale = -m / 8, code = clip(rne(w / scale), -8, 7), zp 0. The extreme lands on -8,
//     so all 16 levels are used; scales may be negative (DequantizeLinear and MatMulNBits allow it).
//  3. asymmetric (4-bit): lo = min(min, 0), hi = max(max, 0), scale = (hi - lo) / 15,
//     zp = clip(rne(-lo / scale), 0, 15), code = clip(rne(w / scale) + zp, 0, 15).
// rne = round half to even of the float32 quotient, as numpy and ONNX QuantizeLinear do; an all-zero
// block gets scale 1 (its codes are then exact zeros). The quotient is fround(w · (1/scale)) with the
// reciprocal in float64: the same float32 as w / scale, because a quotient of two float32 values is
// never within 2^-49 (relative) of a float32 rounding midpoint, and the float64 product errs < 2^-51.

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

export const MAGIC = 6755399441055744; // 1.5 · 2^52: (t + MAGIC) - MAGIC rounds a double half to even
const F32_TINY = 1.1754943508222875e-38;

export function levels(qm: QuantizedMatrix): { qmin: number; qmax: number } {
  if (qm.bits === 8) return { qmin: -127, qmax: 127 };
  return qm.zeroPoints ? { qmin: 0, qmax: 15 } : { qmin: -8, qmax: 7 };
}

export function emptyMatrix(K: number, N: number, scheme: WeightScheme): QuantizedMatrix {
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
export function blockParams(
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
