// Gradients of pooling: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
//  1. MaxPool: the forward node also returns its Indices (flat positions in the input, ONNX's
//     definition); dY is scattered onto them with ScatterElements — with reduction 'add' (opset 16)
//     when windows overlap, since one input can be the maximum of several windows. (Finding the first
//     maximum in the graph instead — SpaceToDepth, Equal, CumSum, DepthToSpace — keeps the faster
//     forward kernel but measured 4% slower per step on cnn-residual.)
//  2. AveragePool: dY times 1/divisor, spread back by a depthwise ConvTranspose with a kernel of ones.
//     The divisor ORT used is recovered without re-deriving its padding rules: AveragePool of a ones
//     tensor (a constant ORT folds at load) is valid/divisor, and the valid count is computed here.
//  3. GlobalAveragePool: dY / (H·W) expanded; GlobalMaxPool: dY where x equals the maximum.

import type { Node, Value } from '../../ir/graph.js';
import { type GradContext, type GradRule, intsOr, numel } from '../context.js';
import { checkSpatial, transposedWindow, type Window, windowOf } from './window.js';

function indicesOf(n: Node, ctx: GradContext): Value {
  if (n.outputs[1]?.name) return n.outputs[1];
  const v = ctx.b.value(`${n.outputs[0]!.name}_indices`);
  n.addOutput(v);
  return v;
}

const maxPool: GradRule = (n, [dy], ctx) => {
  const x = n.inputs[0]!;
  const xs = ctx.shape(x);
  const spatial = xs.slice(2);
  const w = windowOf(n, spatial, intsOr(n, 'kernel_shape', []));
  const overlap = w.kernel.some((k, i) => (k - 1) * w.dilations[i]! + 1 > w.strides[i]!);
  if (overlap) ctx.requireOpset(16, 'MaxPool with overlapping windows');
  const scattered = ctx.op(
    'ScatterElements',
    [ctx.zeros([numel(xs)]), ctx.reshape(indicesOf(n, ctx), [-1]), ctx.reshape(dy!, [-1])],
    overlap ? { axis: 0, reduction: 'add' } : { axis: 0 },
  );
  return [ctx.reshape(scattered, xs)];
};

/** Input positions inside each window along one axis (the divisor without padding). */
function validCounts(size: number, out: number, w: Window, i: number): number[] {
  const counts: number[] = [];
  for (let o = 0; o < out; o++) {
    let c = 0;
    for (let k = 0; k < w.kernel[i]!; k++) {
      const p = o * w.strides[i]! - w.begin[i]! + k * w.dilations[i]!;
      if (p >= 0 && p < size) c++;
    }
    counts.push(c);
  }
  return counts;
}

const averagePool: GradRule = (n, [dy], ctx) => {
  const [x, y] = [n.inputs[0]!, n.outputs[0]!];
  const xs = ctx.shape(x);
  const ys = ctx.shape(y);
  const spatial = xs.slice(2);
  const outSpatial = ys.slice(2);
  checkSpatial(n, spatial.length);
  const w = windowOf(n, spatial, intsOr(n, 'kernel_shape', []));
  const C = xs[1]!;
  // rule 2: valid / divisor from ORT itself, divided by valid
  const per = spatial.map((s, i) => validCounts(s, outSpatial[i]!, w, i));
  const valid = new Float32Array(numel(outSpatial));
  valid.forEach((_, j) => {
    let c = 1;
    let rest = j;
    for (let i = outSpatial.length - 1; i >= 0; i--) {
      c *= per[i]![rest % outSpatial[i]!]!;
      rest = Math.floor(rest / outSpatial[i]!);
    }
    valid[j] = c;
  });
  const ones = ctx.tensor([1, 1, ...spatial], new Float32Array(numel(spatial)).fill(1));
  const pool = ctx.b.node('AveragePool', [ones]);
  for (const [k, a] of n.attributes) pool.attributes.set(k, a); // the forward node's exact attributes
  const ratio = pool.outputs[0]!;
  const inv = ctx.op('Div', [ratio, ctx.tensor([1, 1, ...outSpatial], valid)]);
  const kernel = ctx.tensor([C, 1, ...w.kernel], new Float32Array(C * numel(w.kernel)).fill(1));
  return [transposedWindow(ctx, ctx.mul(dy!, inv), kernel, w, spatial, outSpatial, C)];
};

const globalAveragePool: GradRule = (n, [dy], ctx) => {
  const xs = ctx.shape(n.inputs[0]!);
  const area = numel(xs.slice(2));
  return [ctx.expand(ctx.mul(dy!, ctx.scalar(1 / area)), xs)];
};

const globalMaxPool: GradRule = (n, [dy], ctx) => {
  const [x, y] = [n.inputs[0]!, n.outputs[0]!];
  return [ctx.mul(ctx.mask(ctx.op('Equal', [x, y])), dy!)];
};

export const POOL_RULES: Record<string, GradRule> = {
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  GlobalMaxPool: globalMaxPool,
};
