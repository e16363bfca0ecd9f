// A worker thread of the search's evaluation pool (node/eval-pool.ts): it opens the model and the
// data once, then measures each recipe it is sent with the same LocalEvaluator the main thread uses.

import { parentPort, workerData } from 'node:worker_threads';
import { datasetView } from '../data/dataset.js';
import { decodeModel } from '../ir/serialize.js';
import { parseRecipe } from '../pipeline/recipe.js';
import { nodeRuntime } from '../runtime/node.js';
import { LocalEvaluator, memoryCache } from '../search/evaluator.js';
import { type DataOptions, openDataset } from './data-files.js';
import { transportSizes } from './sizes.js';

export interface WorkerSetup {
  modelBytes: Uint8Array;
  data: string;
  calib?: string | undefined;
  /** without calib: the first `holdout` samples of data calibrate, the rest evaluate */
  holdout: number;
  dataOptions: DataOptions;
  /** drop the labels: measure agreement with the input model */
  agreement: boolean;
  seed: number;
}

const setup = workerData as WorkerSetup;
const model = decodeModel(setup.modelBytes);
const opened = await openDataset(model, setup.data, setup.dataOptions);
const judged = setup.holdout ? datasetView(opened, setup.holdout, opened.size) : opened;
const evalData = setup.agreement ? { ...judged, labels: undefined } : judged;
const calibration = setup.calib
  ? await openDataset(model, setup.calib, setup.dataOptions)
  : setup.holdout
    ? datasetView(opened, 0, setup.holdout)
    : opened;
const evaluator = new LocalEvaluator({
  runtime: nodeRuntime,
  model,
  modelBytes: setup.modelBytes,
  evalData,
  calibration,
  sizer: transportSizes,
  cache: memoryCache(),
  latency: false,
  seed: setup.seed,
});

parentPort!.on('message', async (m: { id: number; recipe: string }) => {
  try {
    const [r] = await evaluator.evaluate([parseRecipe(m.recipe, 'recipe')]);
    parentPort!.postMessage({ id: m.id, metrics: r!.metrics });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
parentPort!.postMessage({ ready: true });
