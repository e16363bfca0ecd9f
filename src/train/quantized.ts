// Integer weights behind a DequantizeLinear, trained as float weights (quantization-aware training):
// the step graph holds w = DQ(q) as a float input and quantizes it with QuantizeLinear — the same
// scale, zero point and axis — before the model's own DequantizeLinear, so the forward pass sees exactly
// the integer grid and the gradient passes straight through (train/rules/quant.ts). On export the
// trained w is quantized back to the integer type: the encoding is kept.

import { attrInt } from '../ir/builder.js';
import type { Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { DataType } from '../onnx/dtype.js';

export interface QuantGrid {
  dtype: number;
  /** per-tensor (length 1) or per-channel scales and zero points */
  scale: Float32Array;
  zeroPoint: Float32Array;
  /** the channel axis for per-channel grids */
  axis: number | undefined;
  dims: number[];
}

export const INT_RANGES: Record<number, [number, number]> = {
  [DataType.INT8]: [-128, 127],
  [DataType.UINT8]: [0, 255],
};

/** The grid of integer weight `q` read by `dq` (its constant scale and zero point), when trainable. */
export function gridOf(
  q: Tensor,
  dq: Node,
  scale: Tensor | undefined,
  zp: Tensor | undefined,
): QuantGrid | undefined {
  if (!INT_RANGES[q.dtype] || !scale || (zp && zp.dtype !== q.dtype)) return undefined;
  if (attrInt(dq, 'block_size', 0) > 0) return undefined;
  const s = scale.toFloat32();
  const perChannel = s.length > 1;
  const axis = perChannel ? attrInt(dq, 'axis', 1) : undefined;
  const a = axis !== undefined && axis < 0 ? axis + q.dims.length : axis;
  if (a !== undefined && q.dims[a] !== s.length) return undefined;
  const z = zp ? zp.toFloat32() : new Float32Array(s.length);
  return {
    dtype: q.dtype,
    scale: Float32Array.from(s),
    zeroPoint: Float32Array.from(z),
    axis: a,
    dims: [...q.dims],
  };
}

/** Channel index of flat element i along the grid's axis (0 for per-tensor grids). */
function channelOf(g: QuantGrid): (i: number) => number {
  if (g.axis === undefined) return () => 0;
  const inner = g.dims.slice(g.axis + 1).reduce((x, y) => x * y, 1);
  const size = g.dims[g.axis]!;
  return (i) => Math.floor(i / inner) % size;
}

/** (q - zp)·scale */
export function dequantizeValues(q: Tensor, g: QuantGrid): Float32Array {
  const ints = q.toFloat32();
  const ch = channelOf(g);
  return Float32Array.from(ints, (v, i) => (v - g.zeroPoint[ch(i)]!) * g.scale[ch(i)]!);
}

/** How many of the dequantized values `w` sit one grid step from zero (|w| = scale of their channel). */
export function unitSteps(w: Float32Array, g: QuantGrid): number {
  const ch = channelOf(g);
  let n = 0;
  for (let i = 0; i < w.length; i++) if (Math.abs(Math.abs(w[i]!) / g.scale[ch(i)]! - 1) < 1e-3) n++;
  return n;
}

/** ONNX Round: halves to even. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** saturate(round(w / scale) + zp) as the grid's integer type, as QuantizeLinear computes it. */
export function quantizeValues(w: Float32Array, g: QuantGrid): Int8Array | Uint8Array {
  const [lo, hi] = INT_RANGES[g.dtype]!;
  const out = g.dtype === DataType.INT8 ? new Int8Array(w.length) : new Uint8Array(w.length);
  const ch = channelOf(g);
  for (let i = 0; i < w.length; i++) {
    const c = ch(i);
    out[i] = Math.min(hi, Math.max(lo, roundEven(w[i]! / g.scale[c]!) + g.zeroPoint[c]!));
  }
  return out;
}
