// finetune: the options (keys = CLI flags) and the command the transform engine runs. The result is
// produced by training (train/trainer.ts) instead of passes, then written and measured like every
// transform; the report adds the loss/accuracy curve and what was trained.

import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import type { Host } from '../pipeline/transform.js';
import { roundSig } from '../report/schema.js';
import { accuracyOf, type CurvePoint, type TrainResult, trainModel } from '../train/trainer.js';
import { dataShape, threadsOption, transformShape } from './options.js';
import type { TransformCommand } from './transform.js';

const T = transformShape;

export const finetuneOptions = z
  .object({
    output: T.output,
    force: T.force,
    externalData: T.externalData,
    guard: T.guard,
    shape: T.shape,
    input: T.input,
    seed: T.seed,
    json: T.json,
    data: z.string().min(1).describe('training data: .npz, .npy, IDX file or image folder (labels for ce)'),
    val: z.string().optional().describe('validation data: accuracy before, after each epoch and at the end'),
    valLabels: z.string().optional().describe('labels for .npy or IDX validation data'),
    teacher: z
      .string()
      .optional()
      .describe('teacher model for --loss kd and ce+kd (default: the input model as it was)'),
    loss: z
      .enum(['ce', 'kd', 'ce+kd'])
      .default('ce')
      .describe('ce: cross-entropy with labels; kd: distillation from the teacher (no labels); ce+kd: both'),
    epochs: z.number().int().min(1).max(100_000).optional().describe('passes over the data (default 1)'),
    steps: z.number().int().min(1).max(100_000_000).optional().describe('or exactly this many steps'),
    lr: z.number().gt(0).max(10).default(0.001).describe('peak learning rate'),
    batchSize: z.number().int().min(1).max(65536).default(64).describe('samples per step'),
    optimizer: z.enum(['sgd', 'adamw']).default('adamw').describe('SGD with momentum, or AdamW'),
    momentum: z.number().min(0).lt(1).default(0.9).describe('SGD momentum'),
    weightDecay: z.number().min(0).max(1).default(0).describe('weight decay (weights of rank >= 2 only)'),
    schedule: z
      .enum(['cosine', 'constant'])
      .default('cosine')
      .describe('learning rate over the run: cosine decay to 0, or constant'),
    warmup: z.number().int().min(0).max(1_000_000).default(0).describe('linear warm-up steps'),
    temperature: z.number().gt(0).max(100).default(4).describe('distillation temperature'),
    alpha: z.number().min(0).max(1).default(0.5).describe('weight of the distillation term in ce+kd'),
    keepMasks: z
      .boolean()
      .default(true)
      .describe('keep pruned weights (>= 1% exact zeros) at zero while training'),
    logits: z.string().optional().describe('the output holding the class scores (default: the first)'),
    threads: threadsOption,
    ...dataShape,
  })
  .describe(
    'fine-tune: cross-entropy with labels or distillation from a teacher, keeping masks and encodings',
  );

export type FinetuneOptions = z.input<typeof finetuneOptions>;
type Parsed = z.output<typeof finetuneOptions>;

/** What the shell opens for the command. */
export interface FinetuneInputs {
  model: Model;
  train: Dataset;
  val?: Dataset | undefined;
  teacher?: Model | undefined;
  host: Host;
}

function roundCurve(curve: CurvePoint[]): CurvePoint[] {
  return curve.map((p) => {
    const out: CurvePoint = { step: p.step, loss: Number.isFinite(p.loss) ? roundSig(p.loss, 5) : p.loss };
    if (p.accuracy !== undefined) out.accuracy = roundSig(p.accuracy, 6);
    if (p.trainAccuracy !== undefined) out.trainAccuracy = roundSig(p.trainAccuracy, 6);
    return out;
  });
}

export function buildFinetune(o: Parsed, inputs: FinetuneInputs): TransformCommand {
  if (o.epochs !== undefined && o.steps !== undefined)
    throw new EdgefitError('BAD_ARGUMENT', 'give --epochs or --steps, not both', 'drop one of them');
  let result: TrainResult | undefined;
  let before: number | undefined;
  const { host } = inputs;
  return {
    command: 'finetune',
    plan: {
      steps: [],
      async produce(model) {
        if (inputs.val?.labels) before = await accuracyOf(host.runtime, model, inputs.val);
        result = await trainModel(
          model,
          inputs.train,
          {
            batchSize: o.batchSize,
            ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
            ...(o.steps !== undefined ? { steps: o.steps } : {}),
            lr: o.lr,
            schedule: o.schedule,
            warmupSteps: o.warmup,
            loss: { kind: o.loss, temperature: o.temperature, alpha: o.alpha },
            optimizer: { kind: o.optimizer, momentum: o.momentum, weightDecay: o.weightDecay },
            seed: o.seed,
            threads: o.threads,
            keepMasks: o.keepMasks,
            ...(o.logits ? { output: o.logits } : {}),
          },
          host,
          {
            ...(inputs.teacher ? { teacher: inputs.teacher } : {}),
            ...(inputs.val?.labels ? { val: inputs.val } : {}),
          },
        );
        return result.model;
      },
    },
    async extras() {
      const r = result!;
      const training = {
        loss: o.loss,
        optimizer: o.optimizer,
        lr: o.lr,
        schedule: o.schedule,
        batchSize: r.batchSize,
        steps: r.steps,
        epochs: r.epochs,
        seconds: roundSig(r.seconds, 4),
        stepMs: roundSig(r.stepMs, 4),
        trainedTensors: r.trained.tensors,
        trainedParams: r.trained.params,
        maskedTensors: r.trained.masked,
      };
      const accuracy =
        before !== undefined && r.accuracy !== undefined
          ? {
              before: roundSig(before, 6),
              after: roundSig(r.accuracy, 6),
              dropPt: roundSig(100 * (before - r.accuracy), 4),
            }
          : undefined;
      return { training, ...(accuracy ? { accuracy } : {}), curve: roundCurve(r.curve) };
    },
  };
}
