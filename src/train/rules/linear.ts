// Gradients of Gemm and MatMul (batched, broadcast, 1-D operands).
//  1. Gemm: Y = α·A'·B' + β·C with A' = transA ? Aᵀ : A (B' likewise); each input gradient is one Gemm
//     whose transpose flags absorb every transpose; C's gradient is β·dY summed to C's shape.
//  2. MatMul: dA = dY·Bᵀ and dB = Aᵀ·dY over the broadcast batch, summed back to each input's shape.
//     A 2-D weight under a batched input takes one Gemm over the flattened batch instead of a batched
//     product and a ReduceSum. 1-D operands are lifted to matrices first (numpy's rules).

import { attrFloat, attrInt } from '../../ir/builder.js';
import type { Value } from '../../ir/graph.js';
import type { GradContext, GradRule } from '../context.js';

function gemm(ctx: GradContext, a: Value, b: Value, transA: number, transB: number, alpha: number): Value {
  return ctx.b.op('Gemm', [a, b], { transA, transB, alpha }, { floatAttrs: ['alpha'] });
}

const gemmRule: GradRule = (n, [dy], ctx) => {
  const [a, b, c] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2]];
  const alpha = attrFloat(n, 'alpha', 1);
  const beta = attrFloat(n, 'beta', 1);
  const ta = attrInt(n, 'transA', 0);
  const tb = attrInt(n, 'transB', 0);
  let da: Value | undefined;
  let db: Value | undefined;
  let dc: Value | undefined;
  if (ctx.needs(a)) da = ta ? gemm(ctx, b, dy!, tb, 1, alpha) : gemm(ctx, dy!, b, 0, tb ? 0 : 1, alpha);
  if (ctx.needs(b)) db = tb ? gemm(ctx, dy!, a, 1, ta, alpha) : gemm(ctx, a, dy!, ta ? 0 : 1, 0, alpha);
  if (c && ctx.needs(c)) {
    const scaled = beta === 1 ? dy! : ctx.mul(dy!, ctx.scalar(beta));
    dc = ctx.unbroadcast(scaled, ctx.shape(c), ctx.shape(n.outputs[0]!));
  }
  return [da, db, dc];
};

/** Transpose of the last two axes. */
function swapLast(ctx: GradContext, v: Value, rank: number): Value {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return ctx.op('Transpose', [v], { perm });
}

const matmul: GradRule = (n, [dy], ctx) => {
  const [a, b, y] = [n.inputs[0]!, n.inputs[1]!, n.outputs[0]!];
  let as = ctx.shape(a);
  let bs = ctx.shape(b);
  // lift 1-D operands: A [K] -> [1, K]; B [K] -> [K, 1]
  const a1 = as.length === 1;
  const b1 = bs.length === 1;
  let A = a;
  let B = b;
  if (a1) {
    as = [1, as[0]!];
    A = ctx.reshape(a, as);
  }
  if (b1) {
    bs = [bs[0]!, 1];
    B = ctx.reshape(b, bs);
  }
  const [M, K, N] = [as[as.length - 2]!, as[as.length - 1]!, bs[bs.length - 1]!];
  const batch = ctx.shape(y).slice(0, ctx.shape(y).length - (a1 ? 0 : 1) - (b1 ? 0 : 1));
  const ys = [...batch, M, N];
  const dY = a1 || b1 ? ctx.reshape(dy!, ys) : dy!;
  const r = ys.length;
  let da: Value | undefined;
  let db: Value | undefined;
  if (ctx.needs(a)) {
    let g: Value;
    if (bs.length === 2 && as.length === r)
      g = ctx.op('MatMul', [dY, ctx.op('Transpose', [B], { perm: [1, 0] })]);
    else {
      const Bt = swapLast(ctx, B, bs.length);
      g = ctx.unbroadcast(ctx.op('MatMul', [dY, Bt]), as, [...batch, M, K]);
    }
    da = a1 ? ctx.reshape(g, [K]) : g;
  }
  if (ctx.needs(b)) {
    let g: Value;
    if (bs.length === 2 && r > 2) {
      // one Gemm over the flattened batch (rule 2)
      g = gemm(ctx, ctx.reshape(A, [-1, K]), ctx.reshape(dY, [-1, N]), 1, 0, 1);
    } else if (bs.length === 2) g = gemm(ctx, A, dY, 1, 0, 1);
    else {
      const At = swapLast(ctx, A, as.length);
      g = ctx.unbroadcast(ctx.op('MatMul', [At, dY]), bs, [...batch, K, N]);
    }
    db = b1 ? ctx.reshape(g, [K]) : g;
  }
  return [da, db];
};

export const LINEAR_RULES: Record<string, GradRule> = {
  Gemm: gemmRule,
  MatMul: matmul,
};
