// Gradients of data movement: Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout (inference),
// Transpose, Concat, Split, Slice, Pad (constant), Expand, Cast.
//  1. Reshapes of any kind: dy reshaped to the input's shape.
//  2. Transpose: dy transposed by the inverse permutation.
//  3. Concat: dy split at the input sizes; Split: the output gradients concatenated (zeros for outputs
//     without one).
//  4. Slice with unit steps: dy zero-padded back to the input (one Pad); other steps: dy scattered to
//     the selected positions (their flat indices are a constant computed here).
//  5. Cast: the gradient cast back to a float input's type; an integer input gets one only as a
//     straight-through estimator (a fake-quantized weight's cast, meta.ste).

import { EdgefitError } from '../../errors.js';
import { attrInt, attrString } from '../../ir/builder.js';
import type { Node } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { axisOf, type GradContext, type GradRule, intsOr, numel } from '../context.js';

const FLOATS = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16]);

const reshapeLike: GradRule = (n, [dy], ctx) => [ctx.reshape(dy!, ctx.shape(n.inputs[0]!))];
const pass: GradRule = (_n, [dy]) => [dy];

const transpose: GradRule = (n, [dy], ctx) => {
  const rank = ctx.shape(n.inputs[0]!).length;
  const perm = intsOr(
    n,
    'perm',
    Array.from({ length: rank }, (_, i) => rank - 1 - i),
  );
  const inverse = new Array<number>(rank);
  perm.forEach((p, i) => {
    inverse[p] = i;
  });
  return [ctx.op('Transpose', [dy], { perm: inverse })];
};

const concat: GradRule = (n, [dy], ctx) => {
  const rank = ctx.shape(n.outputs[0]!).length;
  const axis = axisOf(attrInt(n, 'axis', 0), rank);
  const sizes = n.inputs.map((v) => ctx.shape(v!)[axis]!);
  const pieces = ctx.split(dy!, axis, sizes);
  return n.inputs.map((v, i) => (ctx.needs(v) ? pieces[i] : undefined));
};

const split: GradRule = (n, dys, ctx) => {
  const rank = ctx.shape(n.inputs[0]!).length;
  const axis = axisOf(attrInt(n, 'axis', 0), rank);
  const parts = n.outputs.map((o, i) => dys[i] ?? ctx.zeros(ctx.shape(o)));
  return [ctx.op('Concat', parts, { axis })];
};

/** Per-axis (start, end, step) of a Slice node, normalized as ONNX defines it. */
function sliceRanges(
  n: Node,
  ctx: GradContext,
  xs: number[],
): { start: number; end: number; step: number }[] {
  const ranges = xs.map((d) => ({ start: 0, end: d, step: 1 }));
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (ctx.opset >= 10) {
    [starts, ends] = [ctx.ints(n.inputs[1]), ctx.ints(n.inputs[2])];
    axes = n.inputs[3] ? ctx.ints(n.inputs[3]) : undefined;
    steps = n.inputs[4] ? ctx.ints(n.inputs[4]) : undefined;
    if (!starts || !ends || (n.inputs[3] && !axes) || (n.inputs[4] && !steps))
      throw new EdgefitError(
        'UNSUPPORTED',
        `Slice ${n.name}: its starts/ends/axes/steps must be constants to train through it`,
      );
  } else {
    [starts, ends, axes] = [
      intsOr(n, 'starts', []),
      intsOr(n, 'ends', []),
      n.attributes.has('axes') ? intsOr(n, 'axes', []) : undefined,
    ];
  }
  starts.forEach((s, i) => {
    const a = axisOf(axes ? axes[i]! : i, xs.length);
    const D = xs[a]!;
    const t = steps ? steps[i]! : 1;
    let [b, e] = [s < 0 ? s + D : s, ends![i]! < 0 ? ends![i]! + D : ends![i]!];
    if (t > 0) [b, e] = [Math.min(Math.max(b, 0), D), Math.min(Math.max(e, 0), D)];
    else [b, e] = [Math.min(Math.max(b, 0), D - 1), Math.min(Math.max(e, -1), D - 1)];
    ranges[a] = { start: b, end: e, step: t };
  });
  return ranges;
}

const slice: GradRule = (n, [dy], ctx) => {
  const xs = ctx.shape(n.inputs[0]!);
  const ranges = sliceRanges(n, ctx, xs);
  if (ranges.every((r) => r.step === 1)) {
    const pads = [...ranges.map((r) => r.start), ...ranges.map((r, i) => xs[i]! - Math.max(r.end, r.start))];
    return [ctx.op('Pad', [dy, ctx.i64(pads)], { mode: 'constant' })];
  }
  // rule 4: flat input index of every output element, in output order
  const picks = ranges.map((r) => {
    const out: number[] = [];
    for (let i = r.start; r.step > 0 ? i < r.end : i > r.end; i += r.step) out.push(i);
    return out;
  });
  const strides = xs.map((_, i) => numel(xs.slice(i + 1)));
  let flat = [0];
  picks.forEach((p, a) => {
    const next: number[] = [];
    for (const base of flat) for (const i of p) next.push(base + i * strides[a]!);
    flat = next;
  });
  const idx = ctx.i64Tensor([flat.length], flat);
  const scattered = ctx.op('ScatterElements', [ctx.zeros([numel(xs)]), idx, ctx.reshape(dy!, [-1])], {
    axis: 0,
  });
  return [ctx.reshape(scattered, xs)];
};

const pad: GradRule = (n, [dy], ctx) => {
  const xs = ctx.shape(n.inputs[0]!);
  const pads = ctx.opset >= 11 ? ctx.ints(n.inputs[1]) : intsOr(n, 'pads', []);
  if (attrString(n, 'mode', 'constant') !== 'constant' || !pads || pads.some((p) => p < 0) || n.inputs[3])
    throw new EdgefitError(
      'UNSUPPORTED',
      `Pad ${n.name}: only constant, non-negative, all-axes pads can be trained through`,
    );
  const r = xs.length;
  const starts = pads.slice(0, r);
  const ends = starts.map((s, i) => s + xs[i]!);
  const axes = xs.map((_, i) => i);
  return [ctx.op('Slice', [dy, ctx.i64(starts), ctx.i64(ends), ctx.i64(axes)])];
};

const expand: GradRule = (n, [dy], ctx) => [
  ctx.unbroadcast(dy!, ctx.shape(n.inputs[0]!), ctx.shape(n.outputs[0]!)),
];

const cast: GradRule = (n, [dy], ctx) => {
  const from = ctx.dtype(n.inputs[0]!);
  if (FLOATS.has(from)) return [from === DataType.FLOAT ? dy : ctx.op('Cast', [dy], { to: from })];
  return [n.meta.ste ? dy : undefined];
};

export const SHAPE_RULES: Record<string, GradRule> = {
  Flatten: reshapeLike,
  Reshape: reshapeLike,
  Squeeze: reshapeLike,
  Unsqueeze: reshapeLike,
  Identity: pass,
  Dropout: pass,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: slice,
  Pad: pad,
  Expand: expand,
  Cast: cast,
};
