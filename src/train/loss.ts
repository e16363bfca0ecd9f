// Loss heads appended to a classifier's logits [N, C]: each returns the scalar loss and its gradient
// with respect to the logits directly (the fused softmax forms, cheaper and more accurate than
// differentiating LogSoftmax node by node).
//  1. 'ce': softmax cross-entropy with integer labels (int64 [N]; one-hot made in the graph by Equal
//     against [0..C)): loss = -mean Σ onehot·log p, dlogits = (p - onehot)/N.
//  2. 'kd': distillation from teacher logits [N, C] (a separate session of the original model), KL on
//     temperature-softened distributions scaled by T² (Hinton et al.): loss = T²/N Σ q(log q - log p_T),
//     dlogits = T/N (p_T - q), with p_T = softmax(z/T), q = softmax(t/T). Needs no labels.
//  3. 'ce+kd': (1 - α)·ce + α·kd.

import { EdgefitError } from '../errors.js';
import type { GraphBuilder } from '../ir/builder.js';
import type { Value } from '../ir/graph.js';
import { DataType } from '../onnx/dtype.js';
import type { GradContext } from './context.js';

export type LossKind = 'ce' | 'kd' | 'ce+kd';

export interface LossOptions {
  kind: LossKind;
  /** KD temperature (default 4) */
  temperature?: number;
  /** weight of the KD term in 'ce+kd' (default 0.5) */
  alpha?: number;
}

export interface LossHead {
  loss: Value;
  dlogits: Value;
  /** int64 [N] class ids, when the loss uses labels */
  labels?: Value;
  /** float [N, C] teacher logits, when the loss distils */
  teacher?: Value;
}

export const LABELS_INPUT = 'train.labels';
export const TEACHER_INPUT = 'train.teacher_logits';

export function lossNeedsLabels(kind: LossKind): boolean {
  return kind !== 'kd';
}

export function lossNeedsTeacher(kind: LossKind): boolean {
  return kind !== 'ce';
}

/** Append the loss head for `logits` [N, C] (see the header). */
export function appendLoss(ctx: GradContext, logits: Value, options: LossOptions): LossHead {
  const b: GraphBuilder = ctx.b;
  const shape = ctx.shape(logits);
  if (shape.length !== 2)
    throw new EdgefitError(
      'UNSUPPORTED',
      `fine-tuning trains classifiers: the output ${logits.name} has shape [${shape.join(',')}], not [batch, classes]`,
      'name a [batch, classes] output',
    );
  const [N, C] = shape as [number, number];
  const T = options.temperature ?? 4;
  const alpha = options.kind === 'ce+kd' ? (options.alpha ?? 0.5) : options.kind === 'kd' ? 1 : 0;
  const head: Partial<LossHead> = {};
  const terms: { loss: Value; grad: Value; weight: number }[] = [];
  if (alpha < 1) {
    const labels = b.input(LABELS_INPUT, { elemType: DataType.INT64, shape: [N] });
    head.labels = labels;
    const range = ctx.i64Tensor(
      [1, C],
      Array.from({ length: C }, (_, i) => i),
    );
    const onehot = ctx.mask(ctx.op('Equal', [ctx.reshape(labels, [N, 1]), range]));
    const logp = ctx.op('LogSoftmax', [logits], { axis: 1 });
    const loss = ctx.mul(ctx.reduceSum(ctx.mul(onehot, logp), [0, 1], false), ctx.scalar(-1 / N));
    const grad = ctx.mul(ctx.op('Sub', [ctx.op('Exp', [logp]), onehot]), ctx.scalar(1 / N));
    terms.push({ loss, grad, weight: 1 - alpha });
  }
  if (alpha > 0) {
    const teacher = b.input(TEACHER_INPUT, { elemType: DataType.FLOAT, shape: [N, C] });
    head.teacher = teacher;
    const invT = ctx.scalar(1 / T);
    const logp = ctx.op('LogSoftmax', [ctx.mul(logits, invT)], { axis: 1 });
    const logq = ctx.op('LogSoftmax', [ctx.mul(teacher, invT)], { axis: 1 });
    const q = ctx.op('Exp', [logq]);
    const kl = ctx.reduceSum(ctx.mul(q, ctx.op('Sub', [logq, logp])), [0, 1], false);
    const loss = ctx.mul(kl, ctx.scalar((T * T) / N));
    const grad = ctx.mul(ctx.op('Sub', [ctx.op('Exp', [logp]), q]), ctx.scalar(T / N));
    terms.push({ loss, grad, weight: alpha });
  }
  const weighted = (v: Value, w: number) => (w === 1 ? v : ctx.mul(v, ctx.scalar(w)));
  const sum = (vs: Value[]) => (vs.length === 1 ? vs[0]! : ctx.op('Add', vs));
  head.loss = b.op(
    'Identity',
    [sum(terms.map((t) => weighted(t.loss, t.weight)))],
    {},
    { name: 'train.loss' },
  );
  head.dlogits = sum(terms.map((t) => weighted(t.grad, t.weight)));
  return head as LossHead;
}
