// The Conv gradient (TRAINING.md has the measured formulations).
//  1. dX: ConvTranspose with the forward weight, strides, pads, dilations and groups; output_padding
//     from the forward shapes (rules/window.ts). With unit strides it is a plain Conv instead, with the
//     weight transposed per group and flipped in space (pads (k-1)·d - p), which ORT runs faster and
//     the NCHWc rewrite (train/nchwc.ts) can block.
//  2. dW, "c3d": X transposed to [Cin, N, H, W] and reshaped to [Cin, 1, N, H, W]; a Conv of one rank
//     more with a constant identity kernel [k·k, 1, 1, kh, kw] (strides [1, s, s], the same pads and
//     dilations) gives [Cin, k·k, N, H', W'], which is the im2col matrix [Cin·k·k, N·L] without a
//     transpose; then one Gemm(dYᵀ [Cout, N·L], cols, transB=1). Measured 1.12× PyTorch's step.
//  3. Groups: cols viewed as [g, Cin/g·k·k, N·L] against dY as [g, N·L, Cout/g] (one batched MatMul);
//     depthwise (Cout/g = 1) needs no transpose of the result.
//  4. dB: dY summed over batch and space.
//  5. When the graph gets blocked convolutions (train/nchwc.ts), the batch fills whole blocks and the
//     layer has enough input channels, dW is instead one Conv over the batch (batch as channels, dY as
//     the kernel), which the NCHWc rewrite blocks: 4-5% faster per step than c3d + Gemm on
//     cnn-residual (measured, 1 thread; only maps up to 8x8 and layers with enough input channels).

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

/**
 * dW as one Conv over the batch (rule 5): X transposed to [Cin, N, H, W] convolved with dY transposed
 * to [Cout, N, H', W'] as the kernel (dilation = the forward stride, stride = the forward dilation)
 * gives [Cin, Cout, kh, kw]. Undefined when the end pad it needs would be negative.
 */
function batchAsChannels(
  ctx: GradContext,
  x: Value,
  dy: Value,
  xs: number[],
  ys: number[],
  w: Window,
): Value | undefined {
  const spatial = xs.slice(2);
  const outSpatial = ys.slice(2);
  const end = spatial.map(
    (s, i) =>
      (w.kernel[i]! - 1) * w.dilations[i]! + (outSpatial[i]! - 1) * w.strides[i]! + 1 - s - w.begin[i]!,
  );
  if (end.some((p) => p < 0)) return undefined;
  const xt = ctx.op('Transpose', [x], { perm: [1, 0, 2, 3] });
  const kernel = ctx.op('Transpose', [dy], { perm: [1, 0, 2, 3] });
  const out = ctx.op('Conv', [xt, kernel], {
    kernel_shape: outSpatial,
    strides: w.dilations,
    dilations: w.strides,
    pads: [...w.begin, ...end],
  });
  return ctx.op('Transpose', [out], { perm: [1, 0, 2, 3] });
}

/** dX of a unit-stride conv as a Conv of dy with the flipped, group-transposed weight (rule 1). */
function flippedConv(ctx: GradContext, dy: Value, weight: Value, ws: number[], w: Window, group: number) {
  if (w.strides.some((s) => s !== 1)) return undefined;
  const begin = w.kernel.map((k, i) => (k - 1) * w.dilations[i]! - w.begin[i]!);
  const end = w.kernel.map((k, i) => (k - 1) * w.dilations[i]! - w.end[i]!);
  if ([...begin, ...end].some((p) => p < 0)) return undefined;
  const [O, Ig] = [ws[0]!, ws[1]!];
  const k = ws.slice(2);
  // [O, I/g, k] -> [I, O/g, k]: per group, swap the channel axes
  const swapped =
    group === 1
      ? ctx.op('Transpose', [weight], { perm: [1, 0, ...k.map((_, i) => i + 2)] })
      : O === group && Ig === 1
        ? weight
        : ctx.reshape(
            ctx.op('Transpose', [ctx.reshape(weight, [group, O / group, Ig, ...k])], {
              perm: [0, 2, 1, ...k.map((_, i) => i + 3)],
            }),
            [Ig * group, O / group, ...k],
          );
  const axes = k.map((_, i) => i + 2);
  const flipped = ctx.op('Slice', [
    swapped,
    ctx.i64(k.map((d) => d - 1)),
    ctx.i64(k.map((d) => -d - 1)),
    ctx.i64(axes),
    ctx.i64(k.map(() => -1)),
  ]);
  return ctx.op('Conv', [dy, flipped], {
    kernel_shape: k,
    dilations: w.dilations,
    pads: [...begin, ...end],
    group,
  });
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

  const dx = ctx.needs(x)
    ? (flippedConv(ctx, dy!, weight, ws, w, group) ??
      transposedWindow(ctx, dy!, weight, w, spatial, outSpatial, group))
    : undefined;

  let dw: Value | undefined;
  // rule 5: im2col holds Cin·k·k rows; the batch-as-channels conv moves Cin + Cout planes (its kernel
  // reorder is a slow 6-D transpose) and runs a kernel the size of the output map (MLAS's direct conv is
  // slow for big kernels: at 28x28 10x the c3d time, at 14x14 with 128 channels 15% slower per step), so
  // it pays with enough input channels and maps up to 8x8
  const small = numel(outSpatial) <= 64;
  const blocked = !!ctx.block && N % ctx.block === 0 && Cin * kk >= 2 * (Cin + Cout) && small;
  if (ctx.needs(weight) && group === 1 && blocked && spatial.length === 2)
    dw = batchAsChannels(ctx, x, dy!, xs, ys, w);
  if (!dw && ctx.needs(weight)) {
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
