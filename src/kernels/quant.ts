// Quantization math over typed arrays (docs/ORT.md §2.1, §2.9; the ONNX spec of QuantizeLinear wins):
//   q = saturate(round_half_even(x / scale) + zero_point),   x ≈ scale * (q - zero_point)
// Ranges: uint8 [0,255]; int8 [-128,127] (symmetric weights use [-127,127]; reduced range [-64,64]);
// int4 [-8,7]; uint4 [0,15]. Scales are float32 as stored in the model.

/** Round half to even, as ONNX QuantizeLinear and numpy do (JS Math.round rounds half up). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QRange {
  qmin: number;
  qmax: number;
}

export const RANGES = {
  uint8: { qmin: 0, qmax: 255 },
  int8: { qmin: -128, qmax: 127 },
  int8Symmetric: { qmin: -127, qmax: 127 },
  int8Reduced: { qmin: -64, qmax: 64 },
  uint16: { qmin: 0, qmax: 65535 },
  int16: { qmin: -32768, qmax: 32767 },
  int4: { qmin: -8, qmax: 7 },
  uint4: { qmin: 0, qmax: 15 },
} as const satisfies Record<string, QRange>;

export interface ScaleZeroPoint {
  scale: number;
  zeroPoint: number;
}

const F32_TINY = 1.1754943508222875e-38;

/**
 * Scale and zero point for the real range [rmin, rmax] (ORT's compute_scale_zp): zero is always
 * representable; symmetric ranges are centred on zero.
 */
export function computeScaleZeroPoint(
  rmin: number,
  rmax: number,
  range: QRange,
  symmetric: boolean,
): ScaleZeroPoint {
  let lo = Math.min(rmin, 0);
  let hi = Math.max(rmax, 0);
  if (symmetric) {
    const a = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -a;
    hi = a;
  }
  const scale = Math.fround((hi - lo) / (range.qmax - range.qmin));
  if (!(scale >= F32_TINY)) return { scale: 1, zeroPoint: 0 };
  const zeroPoint = symmetric
    ? roundHalfEven((range.qmin + range.qmax) / 2)
    : roundHalfEven(range.qmin - lo / scale);
  return { scale, zeroPoint: Math.min(range.qmax, Math.max(range.qmin, zeroPoint)) };
}

function quantizeValue(x: number, scale: number, zeroPoint: number, range: QRange): number {
  const q = roundHalfEven(Math.fround(x / scale)) + zeroPoint;
  return q < range.qmin ? range.qmin : Math.min(q, range.qmax);
}

/**
 * Quantize a weight per channel along `axis` (or per tensor when axis is undefined).
 * w: [...dims] row-major; returns q (same layout) and one scale/zero point per channel.
 */
export function quantizeWeight(
  w: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
  range: QRange,
  symmetric: boolean,
): { q: Int32Array; scales: Float32Array; zeroPoints: Int32Array } {
  const q = new Int32Array(w.length);
  if (axis === undefined) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const v of w) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const { scale, zeroPoint } = computeScaleZeroPoint(lo, hi, range, symmetric);
    for (let i = 0; i < w.length; i++) q[i] = quantizeValue(w[i]!, scale, zeroPoint, range);
    return { q, scales: Float32Array.of(scale), zeroPoints: Int32Array.of(zeroPoint) };
  }
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const lo = new Float64Array(channels).fill(Number.POSITIVE_INFINITY);
  const hi = new Float64Array(channels).fill(Number.NEGATIVE_INFINITY);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      let l = lo[c]!;
      let h = hi[c]!;
      for (let i = 0; i < inner; i++) {
        const v = w[base + i]!;
        if (v < l) l = v;
        if (v > h) h = v;
      }
      lo[c] = l;
      hi[c] = h;
    }
  const scales = new Float32Array(channels);
  const zeroPoints = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    const sz = computeScaleZeroPoint(lo[c]!, hi[c]!, range, symmetric);
    scales[c] = sz.scale;
    zeroPoints[c] = sz.zeroPoint;
  }
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const s = scales[c]!;
      const z = zeroPoints[c]!;
      for (let i = 0; i < inner; i++) q[base + i] = quantizeValue(w[base + i]!, s, z, range);
    }
  return { q, scales, zeroPoints };
}

/** Quantize w per channel along `axis` (or per tensor) with the given scales, zero point 0. */
export function requantizeWeight(
  w: Float32Array,
  dims: number[],
  axis: number | undefined,
  scales: Float32Array,
  range: QRange,
): Int32Array {
  const q = new Int32Array(w.length);
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? w.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < w.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    q[i] = Math.max(range.qmin, Math.min(range.qmax, roundHalfEven(Math.fround(w[i]! / scales[c]!))));
  }
  return q;
}

/** q · scale per channel along `axis` (or per tensor), zero point 0. */
export function dequantizeWeight(
  q: Int32Array,
  dims: number[],
  axis: number | undefined,
  scales: Float32Array,
): Float32Array {
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? q.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  return Float32Array.from(
    q,
    (v, i) => v * scales[axis === undefined ? 0 : Math.floor(i / inner) % channels]!,
  );
}

/** Pack signed/unsigned 4-bit codes two per byte, low nibble first (ONNX INT4/UINT4 raw layout). */
export function packNibbles(q: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(q.length / 2));
  for (let i = 0; i < q.length; i++) out[i >> 1]! |= (q[i]! & 0xf) << ((i & 1) * 4);
  return out;
}
