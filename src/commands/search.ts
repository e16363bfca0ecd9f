// edgefit search: its options, and the search run over an in-memory model (whatever the shell):
// slim once to learn the layers, measure candidates through an Evaluator with a cache, build the
// versioned report (front, candidates, sensitivity, histograms of the chosen layers' weights) and
// re-apply the chosen recipe to produce the output model.

import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { synthesizeInputs } from '../data/synthetic.js';
import { EdgefitError } from '../errors.js';
import { cloneModel } from '../ir/clone.js';
import type { Model, Node } from '../ir/graph.js';
import { constantOf } from '../passes/util.js';
import { runPasses } from '../pipeline/pass-manager.js';
import type { Host } from '../pipeline/transform.js';
import { SCHEMA_VERSION, type SearchReport, type WeightHistogram } from '../report/schema.js';
import { type EvalCache, type Evaluator, evaluatorId, LocalEvaluator } from '../search/evaluator.js';
import { runSearch } from '../search/search.js';
import { layersOf, recipeOf } from '../search/space.js';
import { dataShape, inputOption, jsonOption, seedOption, shapeOption } from './options.js';
import { resolveInputValues, resolveShapes } from './shapes.js';
import type { Sizer } from './transform.js';
import { parseBudget } from './units.js';

export const searchOptions = z
  .object({
    output: z.string().min(1).describe('where to write the chosen model (never the input)'),
    force: z.boolean().default(false).describe('overwrite an existing output file'),
    data: z.string().min(1).describe('evaluation data with labels (.npz, .npy, IDX, image folder)'),
    calib: z
      .string()
      .optional()
      .describe(
        'calibration data for the data-aware candidates (default: the first min(256, n/4) samples of --data, held out of evaluation)',
      ),
    maxDrop: z
      .number()
      .min(0)
      .max(100)
      .describe('accuracy budget: points of top-1 (or of agreement) the result may lose'),
    objective: z.enum(['size', 'latency', 'macs', 'energy']).default('size').describe('what to minimize'),
    metric: z
      .enum(['top1', 'agreement'])
      .optional()
      .describe(
        'top1 needs labels; agreement measures fidelity to the input model (default: top1 when the data has labels)',
      ),
    budget: z
      .string()
      .optional()
      .describe('device budget the file and activations must fit, e.g. flash=256KB,ram=64KB'),
    timeBudget: z
      .number()
      .gt(0)
      .max(24 * 60)
      .default(15)
      .describe('minutes before the search stops proposing'),
    maxEvaluations: z.number().int().min(2).max(100_000).default(400).describe('candidates measured at most'),
    workers: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(2)
      .describe(
        'evaluations measured at once (worker threads; the latency objective measures one at a time)',
      ),
    cache: z
      .string()
      .default('.edgefit-cache')
      .describe('folder of cached evaluations (a rerun skips what it measured)'),
    report: z.string().optional().describe('also write the HTML report here'),
    minElements: z.number().int().min(0).default(1024).describe('layers with fewer weights are left alone'),
    shape: shapeOption,
    input: inputOption,
    seed: seedOption,
    ...dataShape,
    json: jsonOption,
  })
  .describe(
    'find the best combination of every technique within an accuracy budget; always reports the measured Pareto front',
  );

export type SearchOptions = z.input<typeof searchOptions>;

/** A layer's weight as floats: a dense constant, or a codebook expanded by its indices. */
function effectiveWeight(n: Node | undefined): Float32Array | undefined {
  const v = n?.inputs[1];
  if (!v) return undefined;
  const dense = constantOf(v);
  if (dense && dense.dtype === 1) return dense.toFloat32();
  const g = v.producer;
  if (g?.opType !== 'Gather') return undefined;
  const book = constantOf(g.inputs[0]);
  const idx =
    g.inputs[1]?.producer?.opType === 'Cast'
      ? constantOf(g.inputs[1].producer.inputs[0])
      : constantOf(g.inputs[1]);
  if (!book || !idx) return undefined;
  const c = book.toFloat32();
  const i = idx.toNumbers();
  return Float32Array.from(i, (k) => c[k]!);
}

function histogram(layer: string, before: Float32Array, after: Float32Array, bins = 40): WeightHistogram {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of before) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const width = (hi - lo) / bins || 1;
  const count = (xs: Float32Array) => {
    const h = new Array<number>(bins).fill(0);
    for (const x of xs) h[Math.min(bins - 1, Math.max(0, Math.floor((x - lo) / width)))]!++;
    return h;
  };
  const edges = Array.from({ length: bins + 1 }, (_, k) => lo + k * width);
  return { layer, edges, before: count(before), after: count(after) };
}

export interface SearchEnv extends Host {
  sizer: Sizer;
  cache: EvalCache;
  evalData: Dataset;
  calibration?: Dataset | undefined;
  name: string;
  /**
   * An evaluator measuring on several cores (Node: worker threads), given the evaluator id its
   * cache keys must use and whether the metric is agreement; absent = measure in this thread
   */
  parallel?: (id: string, agreement: boolean) => (Evaluator & { close(): Promise<void> }) | undefined;
}

export async function searchCore(
  model: Model,
  modelBytes: Uint8Array,
  o: z.output<typeof searchOptions>,
  env: SearchEnv,
): Promise<{ report: SearchReport; model: Model }> {
  const labels = env.evalData.labels !== undefined;
  const metric = o.metric ?? (labels ? 'top1' : undefined);
  if (!metric)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `${env.evalData.source} has no labels, so top-1 cannot be measured`,
      'give data with labels, or pass --metric agreement to budget fidelity to the input model',
    );
  if (metric === 'top1' && !labels)
    throw new EdgefitError('BAD_ARGUMENT', '--metric top1 needs labels in --data', 'use --metric agreement');
  const budget = o.budget ? parseBudget(o.budget) : undefined;
  const evalData = metric === 'agreement' && labels ? { ...env.evalData, labels: undefined } : env.evalData;
  const { model: slimmed } = await runPasses(
    cloneModel(model),
    recipeOf({ layers: {}, quant: 'none' }, { calibration: false }),
    {
      runtime: env.runtime,
    },
  );
  const layers = layersOf(slimmed, o.minElements);
  const latencyFeeds =
    o.objective === 'latency'
      ? {
          ...synthesizeInputs(model, { shapes: resolveShapes(model, o.shape), batch: 1 }),
          ...resolveInputValues(model, o.input),
        }
      : undefined;
  const local = new LocalEvaluator({
    runtime: env.runtime,
    model,
    modelBytes,
    evalData,
    calibration: env.calibration,
    sizer: env.sizer,
    cache: env.cache,
    latency: o.objective === 'latency',
    ...(latencyFeeds ? { latencyFeeds } : {}),
    seed: o.seed,
  });
  const pool =
    o.objective === 'latency'
      ? undefined
      : env.parallel?.(
          evaluatorId({ evalData, calibration: env.calibration, latency: false, seed: o.seed }),
          metric === 'agreement',
        );
  const evaluator = pool ?? local;
  const outcome = await runSearch(layers, evaluator, {
    objective: o.objective,
    maxDropPt: o.maxDrop,
    calibration: env.calibration !== undefined,
    timeBudgetS: o.timeBudget * 60,
    maxEvaluations: o.maxEvaluations,
    budget,
    progress: env.progress,
  }).finally(() => pool?.close());
  for (const w of outcome.warnings) env.log?.warn(w);
  const { model: chosen } = await runPasses(
    cloneModel(model),
    recipeOf(outcome.chosenChoice, {
      calibration: env.calibration !== undefined,
      layers: layers.map((l) => l.name),
    }),
    {
      runtime: env.runtime,
      calibration: env.calibration,
      seed: o.seed,
    },
  );
  const histograms: WeightHistogram[] = [];
  for (const name of Object.keys(outcome.chosenChoice.layers).filter((n) => outcome.chosenChoice.layers[n])) {
    const before = effectiveWeight(slimmed.graph.nodes.find((n) => n.name === name));
    const after = effectiveWeight(chosen.graph.nodes.find((n) => n.name === name));
    if (before && after && before.length === after.length) histograms.push(histogram(name, before, after));
  }
  const report: SearchReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'search',
    model: env.name,
    objective: o.objective,
    maxDropPt: o.maxDrop,
    ...(budget ? { budget } : {}),
    metric,
    data: {
      evaluation: { source: env.evalData.source, samples: env.evalData.size },
      ...(env.calibration && {
        calibration: { source: env.calibration.source, samples: env.calibration.size },
      }),
    },
    baseline: outcome.baseline,
    chosen: outcome.chosen,
    front: outcome.front,
    candidates: outcome.candidates,
    sensitivity: outcome.sensitivity,
    histograms,
    evaluations: outcome.evaluations,
    warnings: outcome.warnings,
  };
  return { report, model: chosen };
}
