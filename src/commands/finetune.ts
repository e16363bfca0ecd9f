// finetune: the options (keys = CLI flags) and the command the transform engine runs. The result is
// produced by training (train/trainer.ts) instead of passes, then written and measured like every
// transform; the report adds the loss/accuracy curve and what was trained.
//
// `--finetune` on prune, cluster, quantize and decompose (withFinetune): the transform runs as usual,
// then its result is fine-tuned by the same engine before the sink writes it (masks, codebooks, int8
// grids and sparse storage kept: train/step-graph.ts, train/sparse.ts); the report gets a `finetune`
// object (training, top-1 of the original, the transform's result and the fine-tuned one with --val,
// the curve). The teacher for kd is the input model as it was before the transform.

import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import type { Host } from '../pipeline/transform.js';
import { roundSig } from '../report/schema.js';
import {
  accuracyOf,
  type CheckpointStore,
  type CurvePoint,
  type TrainResult,
  trainModel,
} from '../train/trainer.js';
import { dataShape, finetuneShape, threadsOption, transformShape } from './options.js';
import type { ModelSink, TransformCommand } from './transform.js';

const T = transformShape;
const F = finetuneShape;

/** The training settings besides finetuneShape's (defaults shared by finetune and --finetune). */
const trainingShape = {
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
};

const TRAINING_DEFAULTS = z.object(trainingShape).parse({});

export const finetuneOptions = z
  .object({
    output: T.output,
    force: T.force,
    externalData: T.externalData,
    guard: T.guard,
    shape: T.shape,
    input: T.input,
    seed: T.seed,
    runtime: T.runtime,
    json: T.json,
    data: z.string().min(1).describe('training data: .npz, .npy, IDX file or image folder (labels for ce)'),
    val: F.val,
    valLabels: F.valLabels,
    teacher: F.teacher,
    loss: F.loss,
    epochs: F.epochs,
    steps: F.steps,
    lr: F.lr,
    batchSize: F.batchSize,
    ...trainingShape,
    ...dataShape,
  })
  .describe(
    'fine-tune: cross-entropy with labels or distillation from a teacher, keeping masks and encodings',
  );

export type FinetuneOptions = z.input<typeof finetuneOptions>;

/** What one training run needs from the flags (finetune's, or a transform's with --finetune). */
type TrainingFlags = z.output<z.ZodObject<typeof trainingShape>> & {
  loss: 'ce' | 'kd' | 'ce+kd';
  epochs?: number | undefined;
  steps?: number | undefined;
  lr: number;
  batchSize: number;
  seed: number;
};

/** What the shell opens for the command. */
export interface FinetuneInputs {
  model: Model;
  train: Dataset;
  val?: Dataset | undefined;
  teacher?: Model | undefined;
  host: Host;
  /** save every epoch, and resume from it (node: a folder; train/trainer.ts) */
  checkpoint?: { store: CheckpointStore; resume: boolean } | undefined;
}

function roundCurve(curve: CurvePoint[]): CurvePoint[] {
  return curve.map((p) => {
    const out: CurvePoint = { step: p.step, loss: Number.isFinite(p.loss) ? roundSig(p.loss, 5) : p.loss };
    if (p.accuracy !== undefined) out.accuracy = roundSig(p.accuracy, 6);
    if (p.trainAccuracy !== undefined) out.trainAccuracy = roundSig(p.trainAccuracy, 6);
    return out;
  });
}

/** Train `model` as the flags say; validation top-1 before training when there are labelled --val. */
async function train(
  model: Model,
  o: TrainingFlags,
  inputs: Omit<FinetuneInputs, 'model'>,
): Promise<{ result: TrainResult; before?: number }> {
  if (o.epochs !== undefined && o.steps !== undefined)
    throw new EdgefitError('BAD_ARGUMENT', 'give --epochs or --steps, not both', 'drop one of them');
  const { host } = inputs;
  const before = inputs.val?.labels ? await accuracyOf(host.runtime, model, inputs.val) : undefined;
  const result = await trainModel(
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
      ...(inputs.checkpoint ? { checkpoint: inputs.checkpoint } : {}),
    },
    host,
    {
      ...(inputs.teacher ? { teacher: inputs.teacher } : {}),
      ...(inputs.val?.labels ? { val: inputs.val } : {}),
    },
  );
  return { result, ...(before !== undefined ? { before } : {}) };
}

/** The report's training fields: settings, what was trained, accuracy before/after, the curve. */
function trainingReport(o: TrainingFlags, r: TrainResult, before: number | undefined) {
  const training = {
    loss: o.loss,
    optimizer: o.optimizer,
    lr: o.lr,
    schedule: o.schedule,
    batchSize: r.batchSize,
    steps: r.steps,
    epochs: r.epochs,
    ...(r.resumedAt !== undefined ? { resumedAt: r.resumedAt } : {}),
    seconds: roundSig(r.seconds, 4),
    stepMs: roundSig(r.stepMs, 4),
    trainedTensors: r.trained.tensors,
    trainedParams: r.trained.params,
    maskedTensors: r.trained.masked,
    sparseTensors: r.trained.sparse,
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
}

export function buildFinetune(o: z.output<typeof finetuneOptions>, inputs: FinetuneInputs): TransformCommand {
  let run: { result: TrainResult; before?: number } | undefined;
  return {
    command: 'finetune',
    plan: {
      steps: [],
      async produce(model) {
        run = await train(model, o, inputs);
        return run.result.model;
      },
    },
    extras: async () => trainingReport(o, run!.result, run!.before),
  };
}

/** A transform's fine-tuning flags (finetuneShape) plus the seed. */
export type FinetuneFlags = z.output<z.ZodObject<typeof finetuneShape>> & { seed: number };

const TRAINING_ONLY = ['train', 'trainLabels', 'epochs', 'steps', 'teacher', 'val', 'valLabels'] as const;

/** Whether a transform fine-tunes its result; flags that make no sense without --finetune are errors. */
export function finetuneRequested(o: Partial<FinetuneFlags>): boolean {
  if (!o.finetune) {
    const stray = TRAINING_ONLY.find((k) => o[k] !== undefined);
    if (stray)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies only with --finetune`,
        'add --finetune (with --train FILE), or drop it',
      );
    return false;
  }
  if (!o.train) throw new EdgefitError('BAD_ARGUMENT', '--finetune needs training data', 'pass --train FILE');
  if (o.epochs !== undefined && o.steps !== undefined)
    throw new EdgefitError('BAD_ARGUMENT', 'give --epochs or --steps, not both', 'drop one of them');
  return true;
}

/**
 * --finetune on a transform (see the header): `sink` saves the fine-tuned result, `cmd`'s report gets
 * `finetune`. `inputs.model` is the input of the transform (the default teacher, the top-1 reference).
 */
export function withFinetune(
  cmd: TransformCommand,
  sink: ModelSink,
  o: FinetuneFlags,
  inputs: FinetuneInputs,
): { cmd: TransformCommand; sink: ModelSink } {
  const flags: TrainingFlags = { ...TRAINING_DEFAULTS, ...o };
  let report: Record<string, unknown> | undefined;
  const tuned: ModelSink = {
    ...sink,
    async save(result) {
      const original = inputs.val?.labels
        ? await accuracyOf(inputs.host.runtime, inputs.model, inputs.val)
        : undefined;
      const run = await train(result, flags, { ...inputs, teacher: inputs.teacher ?? inputs.model });
      const r = trainingReport(flags, run.result, run.before);
      report =
        original !== undefined && r.accuracy
          ? { ...r, accuracy: { original: roundSig(original, 6), ...r.accuracy } }
          : r;
      return sink.save(run.result.model);
    },
  };
  const extras = cmd.extras;
  return {
    cmd: {
      ...cmd,
      extras: async (io) => ({ ...(extras ? await extras(io) : {}), finetune: report }),
    },
    sink: tuned,
  };
}
