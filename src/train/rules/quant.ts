// Gradients through quantization encodings.
//  1. DequantizeLinear y = (x - zp)·scale: dx = dy·scale (exact for the real-valued x behind the integer
//     one, so a trained weight's integer copy passes it on: straight-through); dScale = Σ dy·(x - zp)
//     over all axes but the quantization axis — the learned-scale (LSQ) gradient, used when the scale is
//     trained.
//  2. QuantizeLinear (fake quantization, Q then DQ): dx = dq / scale where x/scale + zp lies inside the
//     integer range, 0 outside (the clipped straight-through estimator).
//  3. Round: zero gradient, except in a fake-quantized weight's chain (meta.ste), where it is the identity.

import { EdgefitError } from '../../errors.js';
import { attrInt } from '../../ir/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { axisOf, type GradContext, type GradRule } from '../context.js';

const RANGES: Record<number, [number, number]> = {
  [DataType.INT8]: [-128, 127],
  [DataType.UINT8]: [0, 255],
  [DataType.INT16]: [-32768, 32767],
  [DataType.UINT16]: [0, 65535],
  [DataType.INT4]: [-8, 7],
  [DataType.UINT4]: [0, 15],
  [DataType.INT32]: [-(2 ** 31), 2 ** 31 - 1],
};

/** How the quantization parameters broadcast: `along(p)` reshapes a scale or zero point to x's rank. */
function paramsOf(n: Node, ctx: GradContext, x: Value, scale: Value) {
  if (attrInt(n, 'block_size', 0) > 0)
    throw new EdgefitError('UNSUPPORTED', `${n.opType} ${n.name}: blocked quantization has no gradient rule`);
  const xs = ctx.shape(x);
  const ss = ctx.shape(scale);
  const axis = axisOf(attrInt(n, 'axis', 1), xs.length);
  const perTensor = ss.length === 0 || (ss.length === 1 && ss[0] === 1 && xs[axis] !== 1);
  return {
    xs,
    axis: perTensor ? undefined : axis,
    along: (p: Value) =>
      perTensor
        ? p
        : ctx.reshape(
            p,
            xs.map((d, i) => (i === axis ? d : 1)),
          ),
  };
}

const asFloat = (ctx: GradContext, v: Value) => ctx.op('Cast', [v], { to: DataType.FLOAT });

const dequantize: GradRule = (n, [dy], ctx) => {
  const [x, scale, zp] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2]];
  const { xs, axis, along } = paramsOf(n, ctx, x, scale);
  const dx = ctx.needs(x) ? ctx.mul(dy!, along(scale)) : undefined;
  let dScale: Value | undefined;
  if (ctx.needs(scale)) {
    const x0 = asFloat(ctx, x);
    const centered = zp ? ctx.op('Sub', [x0, asFloat(ctx, along(zp))]) : x0;
    const others = xs.map((_, i) => i).filter((i) => i !== axis);
    dScale = ctx.reshape(ctx.reduceSum(ctx.mul(dy!, centered), others, false), ctx.shape(scale));
  }
  return [dx, dScale];
};

const quantize: GradRule = (n, [dq], ctx) => {
  const [x, scale, zp] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2]];
  const { along } = paramsOf(n, ctx, x, scale);
  const [lo, hi] = RANGES[zp ? ctx.dtype(zp) : DataType.UINT8] ?? [0, 255];
  const s = along(scale);
  const q = ctx.op('Div', [x, s]);
  const t = zp ? ctx.op('Add', [q, asFloat(ctx, along(zp))]) : q;
  const inside = ctx.op('And', [
    ctx.op('GreaterOrEqual', [t, ctx.scalar(lo - 0.5)]),
    ctx.op('LessOrEqual', [t, ctx.scalar(hi + 0.5)]),
  ]);
  return [ctx.mul(ctx.op('Div', [dq, s]), ctx.mask(inside))];
};

const round: GradRule = (n, [dy]) => [n.meta.ste ? dy : undefined];

export const QUANT_RULES: Record<string, GradRule> = {
  DequantizeLinear: dequantize,
  QuantizeLinear: quantize,
  Round: round,
};
