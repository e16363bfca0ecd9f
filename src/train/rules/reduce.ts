// Gradients of ReduceMean and ReduceSum: dy reshaped to the kept-dims shape and expanded back over the
// reduced axes (divided by the count for the mean). Axes are an attribute before opset 18 (ReduceMean)
// or 13 (ReduceSum) and an input from then on; none given reduces every axis unless
// noop_with_empty_axes says the op is an identity.

import { EdgefitError } from '../../errors.js';
import { attrInt } from '../../ir/builder.js';
import type { Node } from '../../ir/graph.js';
import { axisOf, type GradContext, type GradRule, intsOr, numel } from '../context.js';

function reducedAxes(n: Node, ctx: GradContext, inputFrom: number, rank: number): number[] | undefined {
  let axes: number[] | undefined;
  if (ctx.opset >= inputFrom) {
    if (n.inputs[1]) {
      axes = ctx.ints(n.inputs[1]);
      if (!axes)
        throw new EdgefitError(
          'UNSUPPORTED',
          `${n.opType} ${n.name}: its axes must be a constant to train through it`,
        );
    }
  } else if (n.attributes.has('axes')) axes = intsOr(n, 'axes', []);
  if (!axes || axes.length === 0) {
    if (attrInt(n, 'noop_with_empty_axes', 0)) return undefined;
    return Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => axisOf(a, rank));
}

function reduceRule(inputFrom: number, mean: boolean): GradRule {
  return (n, [dy], ctx) => {
    const xs = ctx.shape(n.inputs[0]!);
    const axes = reducedAxes(n, ctx, inputFrom, xs.length);
    if (!axes) return [dy];
    const kept = xs.map((d, i) => (axes.includes(i) ? 1 : d));
    let g = ctx.reshape(dy!, kept);
    if (mean) g = ctx.mul(g, ctx.scalar(1 / numel(axes.map((a) => xs[a]!))));
    return [ctx.expand(g, xs)];
  };
}

export const REDUCE_RULES: Record<string, GradRule> = {
  ReduceMean: reduceRule(18, true),
  ReduceSum: reduceRule(13, false),
};
