// Optimizer updates as ONNX nodes, one block per trained tensor, with the same arithmetic as PyTorch's
// SGD and AdamW. The per-step scalars (learning rate, bias corrections) are graph inputs computed on
// the host, so a schedule changes nothing in the graph.
//  1. SGD with momentum μ and weight decay λ: g ← g + λw; v ← μv + g; w ← w - lr·v.
//  2. AdamW: w ← w(1 - lr·λ); m ← β1 m + (1-β1) g; v ← β2 v + (1-β2) g²;
//     w ← w - (lr/(1-β1^t)) · m / (√(v/(1-β2^t)) + ε). The scalars fed are decay = 1 - lr·λ,
//     stepSize = lr/(1-β1^t) and bc2 = 1/(1-β2^t).
//  3. A mask (pruned weight) multiplies the gradient first: masked elements get no gradient, no
//     momentum and no decay (λ·0), so zeros stay exactly zero.
//  4. Weight decay applies to tensors of rank ≥ 2 only (not biases, norms or codebooks).

import type { Value } from '../ir/graph.js';
import { DataType } from '../onnx/dtype.js';
import type { GradContext } from './context.js';

export type OptimizerKind = 'sgd' | 'adamw';

export interface OptimizerOptions {
  kind: OptimizerKind;
  /** SGD momentum (default 0.9) */
  momentum?: number;
  /** decoupled (AdamW) or L2 (SGD) weight decay (default 0) */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** The scalar inputs an optimizer's graph takes, by name. */
export const SCALAR_INPUTS: Record<OptimizerKind, string[]> = {
  sgd: ['train.lr'],
  adamw: ['train.decay', 'train.step_size', 'train.bc2'],
};

/** Values of the scalar inputs for step t (1-based) at learning rate lr (rule 2). */
export function optimizerScalars(o: OptimizerOptions, t: number, lr: number): Record<string, number> {
  if (o.kind === 'sgd') return { 'train.lr': lr };
  const [b1, b2] = [o.beta1 ?? 0.9, o.beta2 ?? 0.999];
  return {
    'train.decay': 1 - lr * (o.weightDecay ?? 0),
    'train.step_size': lr / (1 - b1 ** t),
    'train.bc2': 1 / (1 - b2 ** t),
  };
}

export interface StateSlot {
  /** graph input holding the state before the step (zeros at the start) */
  input: Value;
  /** graph output holding it after */
  output: Value;
}

export interface Update {
  next: Value;
  states: StateSlot[];
}

/** The scalar inputs of the graph, created once. */
export function scalarInputs(ctx: GradContext, o: OptimizerOptions): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const name of SCALAR_INPUTS[o.kind])
    out[name] = ctx.b.input(name, { elemType: DataType.FLOAT, shape: [] });
  return out;
}

/** Append the update of weight `w` (shape `dims`) with gradient `g` (see the header). */
export function appendUpdate(
  ctx: GradContext,
  o: OptimizerOptions,
  scalars: Record<string, Value>,
  w: Value,
  dims: number[],
  g: Value,
  mask: Value | undefined,
): Update {
  const b = ctx.b;
  const state = (suffix: string) => b.input(`${w.name}.${suffix}`, { elemType: DataType.FLOAT, shape: dims });
  const decay = dims.length >= 2 ? (o.weightDecay ?? 0) : 0;
  const grad = mask ? ctx.mul(g, mask) : g;
  const s = (x: number) => ctx.scalar(x);
  if (o.kind === 'sgd') {
    const mu = o.momentum ?? 0.9;
    const gd = decay ? ctx.op('Add', [grad, ctx.mul(w, s(decay))]) : grad;
    const v = mu ? state('momentum') : undefined;
    const vNext = v ? ctx.op('Add', [ctx.mul(v, s(mu)), gd]) : gd;
    const next = ctx.op('Sub', [w, ctx.mul(vNext, scalars['train.lr']!)]);
    return { next, states: v ? [{ input: v, output: vNext }] : [] };
  }
  const [b1, b2, eps] = [o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.eps ?? 1e-8];
  const m = state('adam_m');
  const v = state('adam_v');
  const mNext = ctx.op('Add', [ctx.mul(m, s(b1)), ctx.mul(grad, s(1 - b1))]);
  const vNext = ctx.op('Add', [ctx.mul(v, s(b2)), ctx.mul(ctx.mul(grad, grad), s(1 - b2))]);
  const denom = ctx.op('Add', [ctx.op('Sqrt', [ctx.mul(vNext, scalars['train.bc2']!)]), s(eps)]);
  const stepDir = ctx.mul(ctx.op('Div', [mNext, denom]), scalars['train.step_size']!);
  const decayed = decay ? ctx.mul(w, scalars['train.decay']!) : w;
  const next = ctx.op('Sub', [decayed, stepDir]);
  return {
    next,
    states: [
      { input: m, output: mNext },
      { input: v, output: vNext },
    ],
  };
}
