// The Conv gradient (TRAINING.md has the measured formulations).
//  1. dX: ConvTranspose with the forward weight, strides, pads, dilations and groups; output_padding
//     from the forward shapes (rules/window.ts).
//  2. dW, "c3d": X transposed to [Cin, N, H, W] and reshaped to [Cin, 1, N, H, W]; a Conv of one rank
//     more with a constant identity kernel [k·k, 1, 1, kh, kw] (strides [1, s, s], the same pads and
//     dilations) gives [Cin, k·k, N, H', W'], which is the im2col matrix [Cin·k·k, N·L] without a
//     transpose; then one Gemm(dYᵀ [Cout, N·L], cols, transB=1). Measured 1.12× PyTorch's step.
//  3. Groups: cols viewed as [g, Cin/g·k·k, N·L] against dY as [g, N·L, Cout/g] (one batched MatMul);
//     depthwise (Cout/g = 1) needs no transpose of the result.
//  4. dB: dY summed over batch and space.

import { attrInt } from '../../ir/builder.js';
import type { Value } from '../../ir/graph.js';
import { type GradContext, type GradRule, numel } from '../context.js';
import { checkSpatial, transposedWindow, type Window, windowOf } from './window.js';

/** [Cin·k·k, N·L]: the im2col matrix of x [N, Cin, ...spatial] (rule 2), as [Cin, k·k, N, ...out]. */
function im2col(ctx: GradContext, x: Value, xs: number[], w: Window, outSpatial: number[]): Value {
  const [N, C] = [xs[0]!, xs[1]!];
  const spatial = xs.slice(2);
  const kk = numel(w.kernel);
  const perm = [1, 0, ...spatial.map((_, i) => i + 2)];
  const xt = ctx.reshape(ctx.op('Transpose', [x], { perm }), [C, 1, N, ...spatial]);
  const cols =
    kk === 1 && w.strides.every((s) => s === 1) && [...w.begin, ...w.end].every((p) => p === 0)
      ? xt
      : ctx.op('Conv', [xt, identityKernel(ctx, w.kernel)], {
          kernel_shape: [1, ...w.kernel],
          strides: [1, ...w.strides],
          dilations: [1, ...w.dilations],
          pads: [0, ...w.begin, 0, ...w.end],
        });
  return ctx.reshape(cols, [C * kk, N * numel(outSpatial)]);
}

/** [k·k, 1, 1, ...kernel]: output channel j picks kernel position j. */
function identityKernel(ctx: GradContext, kernel: number[]): Value {
  const kk = numel(kernel);
  const values = new Float32Array(kk * kk);
  for (let j = 0; j < kk; j++) values[j * kk + j] = 1;
  return ctx.tensor([kk, 1, 1, ...kernel], values, `identity-kernel:${kernel.join('x')}`);
}

const conv: GradRule = (n, [dy], ctx) => {
  const [x, weight, bias, y] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2], n.outputs[0]!];
  const xs = ctx.shape(x);
  const ws = ctx.shape(weight);
  const ys = ctx.shape(y);
  const spatial = xs.slice(2);
  const outSpatial = ys.slice(2);
  checkSpatial(n, spatial.length);
  const group = attrInt(n, 'group', 1);
  const w = windowOf(n, spatial, ws.slice(2));
  const [N, Cout] = [ys[0]!, ys[1]!];
  const Cin = xs[1]!;
  const NL = N * numel(outSpatial);
  const kk = numel(w.kernel);
  const spatialAxes = outSpatial.map((_, i) => i + 2);

  const dx = ctx.needs(x) ? transposedWindow(ctx, dy!, weight, w, spatial, outSpatial, group) : undefined;

  let dw: Value | undefined;
  if (ctx.needs(weight)) {
    const cols = im2col(ctx, x, xs, w, outSpatial);
    const dyt = ctx.reshape(ctx.op('Transpose', [dy], { perm: [1, 0, ...spatialAxes] }), [Cout, NL]);
    if (group === 1) {
      dw = ctx.reshape(ctx.b.op('Gemm', [dyt, cols], { transB: 1 }), ws);
    } else {
      // rule 3
      const colsG = ctx.reshape(cols, [group, (Cin / group) * kk, NL]);
      const cog = Cout / group;
      const dyg =
        cog === 1
          ? ctx.reshape(dyt, [group, NL, 1])
          : ctx.op('Transpose', [ctx.reshape(dyt, [group, cog, NL])], { perm: [0, 2, 1] });
      const prod = ctx.op('MatMul', [colsG, dyg]); // [g, Cin/g·k·k, Cout/g]
      dw = ctx.reshape(cog === 1 ? prod : ctx.op('Transpose', [prod], { perm: [0, 2, 1] }), ws);
    }
  }

  const db = bias && ctx.needs(bias) ? ctx.reduceSum(dy!, [0, ...spatialAxes], false) : undefined;
  return [dx, dw, db];
};

export const CONV_RULES: Record<string, GradRule> = { Conv: conv };
