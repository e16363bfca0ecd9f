// Gradient of Gather, including the codebook of a clustered weight: W = Gather(codebook [K], indices),
// whose gradient is every weight's gradient added onto its centroid (indices fixed: cluster-preserving).
//  1. 1-D data (a codebook): ScatterElements with reduction 'add' of dy onto a zero [K] (opset 16).
//  2. Any other data: the gathered axis moved to the front, ScatterND with reduction 'add' (opset 16).
//  3. Below opset 16: a one-hot matrix [M, K] of the indices and one Gemm (onehotᵀ · dy).
//  4. Negative indices count from the end (normalized first); int32 indices are cast to int64.

import { attrInt } from '../../ir/builder.js';
import type { Value } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { axisOf, type GradContext, type GradRule, numel } from '../context.js';

/** int64 indices with negative ones normalized (rule 4). */
function normalizedIndices(ctx: GradContext, indices: Value, size: number): Value {
  const known = ctx.ints(indices);
  if (known) {
    const fixed = known.map((i) => (i < 0 ? i + size : i));
    return ctx.i64Tensor(ctx.shape(indices), fixed);
  }
  const i64 =
    ctx.dtype(indices) === DataType.INT64 ? indices : ctx.op('Cast', [indices], { to: DataType.INT64 });
  const k = ctx.i64Tensor([], [size]);
  return ctx.op('Where', [ctx.op('Less', [i64, ctx.i64Tensor([], [0])]), ctx.op('Add', [i64, k]), i64]);
}

const gather: GradRule = (n, [dy], ctx) => {
  const [data, indices] = [n.inputs[0]!, n.inputs[1]!];
  if (!ctx.needs(data)) return [];
  const ds = ctx.shape(data);
  const is = ctx.shape(indices);
  const a = axisOf(attrInt(n, 'axis', 0), ds.length);
  const K = ds[a]!;
  const M = numel(is);
  const idx = normalizedIndices(ctx, indices, K);
  if (ds.length === 1 && ctx.opset >= 16) {
    // rule 1
    const g = ctx.op('ScatterElements', [ctx.zeros([K]), ctx.reshape(idx, [-1]), ctx.reshape(dy!, [-1])], {
      axis: 0,
      reduction: 'add',
    });
    return [g];
  }
  const pre = ds.slice(0, a);
  const post = ds.slice(a + 1);
  // dy [pre, is, post] -> [is, pre, post] -> [M, pre, post]
  const perm = [
    ...is.map((_, i) => pre.length + i),
    ...pre.map((_, i) => i),
    ...post.map((_, i) => pre.length + is.length + i),
  ];
  const moved = perm.every((p, i) => p === i) ? dy! : ctx.op('Transpose', [dy], { perm });
  let front: Value; // [K, pre, post]
  if (ctx.opset >= 16) {
    front = ctx.op(
      'ScatterND',
      [ctx.zeros([K, ...pre, ...post]), ctx.reshape(idx, [M, 1]), ctx.reshape(moved, [M, ...pre, ...post])],
      { reduction: 'add' },
    );
  } else {
    // rule 3
    const range = ctx.i64Tensor(
      [1, K],
      Array.from({ length: K }, (_, i) => i),
    );
    const onehot = ctx.mask(ctx.op('Equal', [ctx.reshape(idx, [M, 1]), range]));
    const rest = numel(pre) * numel(post);
    const g = ctx.b.op('Gemm', [onehot, ctx.reshape(moved, [M, rest])], { transA: 1 });
    front = ctx.reshape(g, [K, ...pre, ...post]);
  }
  if (a === 0) return [front];
  const back = [...pre.map((_, i) => i + 1), 0, ...post.map((_, i) => pre.length + 1 + i)];
  return [ctx.op('Transpose', [front], { perm: back })];
};

export const INDEXING_RULES: Record<string, GradRule> = { Gather: gather };
