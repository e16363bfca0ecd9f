// Gradients of normalizations.
//  1. LayerNormalization: the forward node also returns Mean and InvStdDev (its optional outputs), so
//     the backward reuses them: x̂ = (x - μ)·r, dScale = Σ dy·x̂, dB = Σ dy over the leading axes, and
//     dx = r·(g - mean(g) - x̂·mean(g·x̂)) with g = dy·scale, means over the normalized axes.
//  2. BatchNormalization with frozen statistics (inference mode, the fine-tuning default): a per-channel
//     affine map, dx = dy·scale/√(var+ε); dScale = Σ dy·x̂, dB = Σ dy over all axes but the channel's.
//     Training-mode BatchNormalization (batch statistics) is refused.

import { EdgefitError } from '../../errors.js';
import { attrFloat, attrInt } from '../../ir/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import { axisOf, type GradContext, type GradRule } from '../context.js';

/** Output `i` of `n`, created (or named) when the model left it out. */
function extraOutput(n: Node, i: number, ctx: GradContext): Value {
  while (n.outputs.length <= i) n.addOutput(ctx.b.value(`${n.outputs[0]!.name}_stat`));
  const v = n.outputs[i]!;
  if (!v.name) v.name = ctx.model.uniqueName(`${n.outputs[0]!.name}_stat`);
  return v;
}

const layerNorm: GradRule = (n, [dy], ctx) => {
  const [x, scale, bias] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2]];
  const xs = ctx.shape(x);
  const axis = axisOf(attrInt(n, 'axis', -1), xs.length);
  const normAxes = xs.map((_, i) => i).filter((i) => i >= axis);
  const mean = extraOutput(n, 1, ctx);
  const invStd = extraOutput(n, 2, ctx);
  const xhat = ctx.mul(ctx.op('Sub', [x, mean]), invStd);
  const dScale = ctx.needs(scale) ? ctx.unbroadcast(ctx.mul(dy!, xhat), ctx.shape(scale), xs) : undefined;
  const dB = bias && ctx.needs(bias) ? ctx.unbroadcast(dy!, ctx.shape(bias), xs) : undefined;
  let dx: Value | undefined;
  if (ctx.needs(x)) {
    const g = ctx.mul(dy!, scale);
    const m1 = ctx.reduceMean(g, normAxes, true);
    const m2 = ctx.reduceMean(ctx.mul(g, xhat), normAxes, true);
    dx = ctx.mul(invStd, ctx.op('Sub', [ctx.op('Sub', [g, m1]), ctx.mul(xhat, m2)]));
  }
  return [dx, dScale, dB];
};

const batchNorm: GradRule = (n, [dy], ctx) => {
  if (attrInt(n, 'training_mode', 0) !== 0 || n.outputs.filter((o) => o.name).length > 1)
    throw new EdgefitError(
      'UNSUPPORTED',
      `BatchNormalization ${n.name} is in training mode: fine-tuning keeps batch statistics frozen`,
      'export the model in eval mode',
    );
  const [x, scale, bias, mean, variance] = n.inputs as Value[];
  const xs = ctx.shape(x!);
  const C = xs[1]!;
  const bshape = xs.map((_d, i) => (i === 1 ? C : 1));
  const others = xs.map((_, i) => i).filter((i) => i !== 1);
  const eps = attrFloat(n, 'epsilon', 1e-5);
  const invStd = ctx.op('Reciprocal', [ctx.op('Sqrt', [ctx.op('Add', [variance, ctx.scalar(eps)])])]);
  const dx = ctx.needs(x) ? ctx.mul(dy!, ctx.reshape(ctx.mul(scale!, invStd), bshape)) : undefined;
  let dScale: Value | undefined;
  if (ctx.needs(scale)) {
    const xhat = ctx.mul(ctx.op('Sub', [x, ctx.reshape(mean!, bshape)]), ctx.reshape(invStd, bshape));
    dScale = ctx.reduceSum(ctx.mul(dy!, xhat), others, false);
  }
  const dB = ctx.needs(bias) ? ctx.reduceSum(dy!, others, false) : undefined;
  return [dx, dScale, dB];
};

export const NORM_RULES: Record<string, GradRule> = {
  LayerNormalization: layerNorm,
  BatchNormalization: batchNorm,
};
