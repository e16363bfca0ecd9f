// edgefit/node's finetune: paths in, the report out (the fine-tuned model written to --output). The
// training data is --data (labels from --labels for .npy/IDX), validation data --val (--val-labels),
// the teacher --teacher (default: the input model as it was).
//  1. --checkpoint DIR: after every epoch the trained tensors and optimizer state go to
//     DIR/checkpoint.npz (a temp file, then rename: a kill never leaves half a checkpoint); --resume
//     continues from it. Its key (train/checkpoint.ts rule 1) adds the sha256 of the model file.
//  2. --finetune on prune, cluster, quantize and decompose (finetuneTransform, called by
//     commands.ts): the training and validation data and the teacher opened here, with the command's
//     preprocessing flags; the rest is commands/finetune.ts's withFinetune.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  buildFinetune,
  finetuneOptions as coreOptions,
  type FinetuneFlags,
  finetuneRequested,
  withFinetune,
} from '../commands/finetune.js';
import { parseOptions } from '../commands/schema.js';
import type { ModelSink, TransformCommand } from '../commands/transform.js';
import { EdgefitError } from '../errors.js';
import { cloneModel } from '../ir/clone.js';
import type { Model } from '../ir/graph.js';
import type { Host } from '../pipeline/transform.js';
import type { TransformReport } from '../report/schema.js';
import { type CheckpointStore, decodeCheckpoint, encodeCheckpoint } from '../train/checkpoint.js';
import { type Hooks, transformFile } from './commands.js';
import { type DataOptions, openDataset } from './data-files.js';
import { loadModel } from './model-io.js';

export const finetuneOptions = coreOptions.extend({
  checkpoint: z
    .string()
    .min(1)
    .optional()
    .describe('folder: save the trained tensors and optimizer state there after every epoch'),
  resume: z.boolean().default(false).describe('continue from the checkpoint in --checkpoint'),
});

export type FinetuneOptions = z.input<typeof finetuneOptions>;

/** Rule 1: DIR/checkpoint.npz, written atomically. */
function folderStore(dir: string, model: string): CheckpointStore {
  const file = join(dir, 'checkpoint.npz');
  return {
    key: createHash('sha256').update(readFileSync(model)).digest('hex'),
    where: dir,
    async load() {
      if (!existsSync(file)) return undefined;
      return decodeCheckpoint(new Uint8Array(readFileSync(file)), file);
    },
    async save(c) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
      try {
        writeFileSync(tmp, encodeCheckpoint(c));
        renameSync(tmp, file);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw new EdgefitError('IO', `cannot write the checkpoint in ${dir}: ${(e as Error).message}`);
      }
    },
  };
}

/** Only the preprocessing flags that were given. */
function preprocessing(o: Partial<Record<keyof DataOptions, unknown>>, labels: string | undefined) {
  const given = { labels, scale: o.scale, mean: o.mean, std: o.std, size: o.size, layout: o.layout };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as DataOptions;
}

/** --val with its labels (accuracy needs them). */
async function openVal(
  model: Model,
  path: string | undefined,
  o: Parameters<typeof preprocessing>[0],
  labels?: string,
) {
  if (!path) return undefined;
  const val = await openDataset(model, path, preprocessing(o, labels));
  if (!val.labels)
    throw new EdgefitError('BAD_DATA', `${path} has no labels to measure accuracy`, 'give --val-labels');
  return val;
}

export async function finetune(
  model: string,
  options: FinetuneOptions,
  hooks?: Hooks,
): Promise<TransformReport> {
  const o = parseOptions(finetuneOptions, options, 'finetune');
  if (o.resume && !o.checkpoint)
    throw new EdgefitError('BAD_ARGUMENT', '--resume needs --checkpoint DIR', 'name the checkpoint folder');
  const val = await openVal(loadModel(model), o.val, o, o.valLabels);
  const teacher = o.teacher ? loadModel(o.teacher) : undefined;
  const checkpoint = o.checkpoint ? { store: folderStore(o.checkpoint, model), resume: o.resume } : undefined;
  const report = await transformFile(
    model,
    { ...o, printRecipe: false },
    (opts, ctx) => {
      if (!ctx.model || !ctx.evalData || !ctx.host)
        throw new Error('finetune needs the model, data and host');
      return buildFinetune(opts, {
        model: ctx.model,
        train: ctx.evalData,
        val,
        teacher,
        host: ctx.host,
        checkpoint,
      });
    },
    hooks,
  );
  return report as TransformReport;
}

/**
 * Rule 2: `cmd` and `sink` of a transform, fine-tuning the result before it is written when the
 * flags ask for it (unchanged otherwise).
 */
export async function finetuneTransform(
  model: Model,
  o: Partial<FinetuneFlags> & Parameters<typeof preprocessing>[0] & { seed: number },
  cmd: TransformCommand,
  sink: ModelSink,
  host: Host,
): Promise<{ cmd: TransformCommand; sink: ModelSink }> {
  if (o.finetune === undefined || !finetuneRequested(o)) return { cmd, sink }; // not a --finetune command
  const flags = o as FinetuneFlags;
  const train = await openDataset(model, flags.train!, preprocessing(o, flags.trainLabels));
  const val = await openVal(model, flags.val, o, flags.valLabels);
  const teacher = flags.teacher ? loadModel(flags.teacher) : undefined;
  // the passes may change `model` in place: the teacher and the reference are a copy taken before
  return withFinetune(cmd, sink, flags, { model: cloneModel(model), train, val, teacher, host });
}
