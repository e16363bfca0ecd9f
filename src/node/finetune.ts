// edgefit/node's finetune: paths in, the report out (the fine-tuned model written to --output). The
// training data is --data (labels from --labels for .npy/IDX), validation data --val (--val-labels),
// the teacher --teacher (default: the input model as it was).

import { buildFinetune, type FinetuneOptions, finetuneOptions } from '../commands/finetune.js';
import { parseOptions } from '../commands/schema.js';
import { EdgefitError } from '../errors.js';
import type { TransformReport } from '../report/schema.js';
import { type Hooks, transformFile } from './commands.js';
import { type DataOptions, openDataset } from './data-files.js';
import { loadModel } from './model-io.js';

export { type FinetuneOptions, finetuneOptions };

export async function finetune(
  model: string,
  options: FinetuneOptions,
  hooks?: Hooks,
): Promise<TransformReport> {
  const o = parseOptions(finetuneOptions, options, 'finetune');
  let val: Awaited<ReturnType<typeof openDataset>> | undefined;
  if (o.val) {
    const given = {
      labels: o.valLabels,
      scale: o.scale,
      mean: o.mean,
      std: o.std,
      size: o.size,
      layout: o.layout,
    };
    const valOptions = Object.fromEntries(
      Object.entries(given).filter(([, v]) => v !== undefined),
    ) as DataOptions;
    val = await openDataset(loadModel(model), o.val, valOptions);
    if (!val.labels)
      throw new EdgefitError('BAD_DATA', `${o.val} has no labels to measure accuracy`, 'give --val-labels');
  }
  const teacher = o.teacher ? loadModel(o.teacher) : undefined;
  const report = await transformFile(
    model,
    { ...o, printRecipe: false },
    (opts, ctx) => {
      if (!ctx.model || !ctx.evalData || !ctx.host)
        throw new Error('finetune needs the model, data and host');
      return buildFinetune(opts, { model: ctx.model, train: ctx.evalData, val, teacher, host: ctx.host });
    },
    hooks,
  );
  return report as TransformReport;
}
