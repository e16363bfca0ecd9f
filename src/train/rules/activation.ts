// Gradients of activations: Relu, LeakyRelu, Clip (Relu6), Sigmoid, Tanh, HardSigmoid, HardSwish,
// Gelu (exact and tanh), Softmax, LogSoftmax.
//  1. Relu's gradient is dy times a Cast of the Greater(y, 0) mask (TRAINING.md: slightly cheaper than
//     Where); the mask reads the output, so ORT can still fuse Conv+Relu in the forward pass.
//  2. Clip passes the gradient where min < x < max (PyTorch's hardtanh).
//  3. Softmax before opset 13 normalizes over every axis from `axis` on; from 13 over `axis` only.

import { attrFloat, attrInt, attrString } from '../../ir/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import { axisOf, type GradContext, type GradRule } from '../context.js';

const relu: GradRule = (n, [dy], ctx) => [
  ctx.mul(dy!, ctx.mask(ctx.op('Greater', [n.outputs[0]!, ctx.scalar(0)]))),
];

const leakyRelu: GradRule = (n, [dy], ctx) => {
  const alpha = attrFloat(n, 'alpha', 0.01);
  const pos = ctx.op('Greater', [n.inputs[0]!, ctx.scalar(0)]);
  return [ctx.op('Where', [pos, dy, ctx.mul(dy!, ctx.scalar(alpha))])];
};

/** Clip's bounds: inputs from opset 11, attributes before. */
function clipBounds(n: Node, ctx: GradContext): { lo: Value | undefined; hi: Value | undefined } {
  if (ctx.opset >= 11) return { lo: n.inputs[1], hi: n.inputs[2] };
  const lo = n.attributes.has('min') ? ctx.scalar(attrFloat(n, 'min', 0)) : undefined;
  const hi = n.attributes.has('max') ? ctx.scalar(attrFloat(n, 'max', 0)) : undefined;
  return { lo, hi };
}

const clip: GradRule = (n, [dy], ctx) => {
  const x = n.inputs[0]!;
  const { lo, hi } = clipBounds(n, ctx);
  const above = lo ? ctx.op('Greater', [x, lo]) : undefined;
  const below = hi ? ctx.op('Less', [x, hi]) : undefined;
  const inside = above && below ? ctx.op('And', [above, below]) : (above ?? below);
  return [inside ? ctx.mul(dy!, ctx.mask(inside)) : dy];
};

// dy · y · (1 - y)
const sigmoid: GradRule = (n, [dy], ctx) => {
  const y = n.outputs[0]!;
  return [ctx.mul(dy!, ctx.mul(y, ctx.op('Sub', [ctx.scalar(1), y])))];
};

// dy · (1 - y²)
const tanh: GradRule = (n, [dy], ctx) => {
  const y = n.outputs[0]!;
  return [ctx.mul(dy!, ctx.op('Sub', [ctx.scalar(1), ctx.mul(y, y)]))];
};

// y = clip(αx + β, 0, 1): dy · α where 0 < αx + β < 1
const hardSigmoid: GradRule = (n, [dy], ctx) => {
  const alpha = attrFloat(n, 'alpha', 0.2);
  const beta = attrFloat(n, 'beta', 0.5);
  const t = ctx.op('Add', [ctx.mul(n.inputs[0]!, ctx.scalar(alpha)), ctx.scalar(beta)]);
  const inside = ctx.op('And', [ctx.op('Greater', [t, ctx.scalar(0)]), ctx.op('Less', [t, ctx.scalar(1)])]);
  return [ctx.mul(dy!, ctx.mul(ctx.mask(inside), ctx.scalar(alpha)))];
};

// y = x · clip(x/6 + 1/2, 0, 1): dy/dx = x/3 + 1/2 on (-3, 3), 0 below, 1 above
const hardSwish: GradRule = (n, [dy], ctx) => {
  const x = n.inputs[0]!;
  const t = ctx.op('Add', [ctx.mul(x, ctx.scalar(1 / 3)), ctx.scalar(0.5)]);
  const above = ctx.op('GreaterOrEqual', [x, ctx.scalar(3)]);
  const inside = ctx.op('And', [ctx.op('Greater', [x, ctx.scalar(-3)]), ctx.op('Not', [above])]);
  return [ctx.mul(dy!, ctx.op('Where', [inside, t, ctx.mask(above)]))];
};

const gelu: GradRule = (n, [dy], ctx) => {
  const x = n.inputs[0]!;
  const approximate = attrString(n, 'approximate', 'none');
  if (approximate === 'tanh') {
    // u = √(2/π)(x + 0.044715x³), t = tanh(u): d = ½(1 + t) + ½x(1 - t²)·√(2/π)(1 + 3·0.044715x²)
    const k = Math.sqrt(2 / Math.PI);
    const x2 = ctx.mul(x, x);
    const u = ctx.mul(ctx.op('Add', [x, ctx.mul(ctx.mul(x2, x), ctx.scalar(0.044715))]), ctx.scalar(k));
    const t = ctx.op('Tanh', [u]);
    const du = ctx.op('Add', [ctx.scalar(k), ctx.mul(x2, ctx.scalar(3 * 0.044715 * k))]);
    const sech2 = ctx.op('Sub', [ctx.scalar(1), ctx.mul(t, t)]);
    const left = ctx.mul(ctx.op('Add', [ctx.scalar(1), t]), ctx.scalar(0.5));
    const right = ctx.mul(ctx.mul(ctx.mul(x, ctx.scalar(0.5)), sech2), du);
    return [ctx.mul(dy!, ctx.op('Add', [left, right]))];
  }
  // Φ(x) + x·φ(x)
  const cdf = ctx.mul(
    ctx.op('Add', [ctx.scalar(1), ctx.op('Erf', [ctx.mul(x, ctx.scalar(Math.SQRT1_2))])]),
    ctx.scalar(0.5),
  );
  const pdf = ctx.mul(
    ctx.op('Exp', [ctx.mul(ctx.mul(x, x), ctx.scalar(-0.5))]),
    ctx.scalar(1 / Math.sqrt(2 * Math.PI)),
  );
  return [ctx.mul(dy!, ctx.op('Add', [cdf, ctx.mul(x, pdf)]))];
};

/** The axes Softmax/LogSoftmax normalize over (rule 3). */
function softmaxAxes(n: Node, ctx: GradContext): number[] {
  const rank = ctx.shape(n.inputs[0]!).length;
  const axis = axisOf(attrInt(n, 'axis', ctx.opset >= 13 ? -1 : 1), rank);
  if (ctx.opset >= 13) return [axis];
  return Array.from({ length: rank - axis }, (_, i) => axis + i);
}

// dx = y · (dy - Σ dy·y)
const softmax: GradRule = (n, [dy], ctx) => {
  const y = n.outputs[0]!;
  const s = ctx.reduceSum(ctx.mul(dy!, y), softmaxAxes(n, ctx), true);
  return [ctx.mul(y, ctx.op('Sub', [dy, s]))];
};

// dx = dy - exp(y) · Σ dy
const logSoftmax: GradRule = (n, [dy], ctx) => {
  const y = n.outputs[0]!;
  const s = ctx.reduceSum(dy!, softmaxAxes(n, ctx), true);
  return [ctx.op('Sub', [dy, ctx.mul(ctx.op('Exp', [y]), s)])];
};

export const ACTIVATION_RULES: Record<string, GradRule> = {
  Relu: relu,
  LeakyRelu: leakyRelu,
  Clip: clip,
  Sigmoid: sigmoid,
  Tanh: tanh,
  HardSigmoid: hardSigmoid,
  HardSwish: hardSwish,
  Gelu: gelu,
  'com.microsoft:Gelu': gelu,
  Softmax: softmax,
  LogSoftmax: logSoftmax,
};
