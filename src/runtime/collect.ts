// Calibration: run a model over data with chosen intermediate values exposed, and hand each batch of
// those values to a callback. Nothing is kept between batches, so memory stays bounded however much
// data there is (ORT's Python calibrator kept every activation: ORT #10503 needed > 256 GB). A model
// with a fixed batch dim gets exactly that many samples per run (fixedBatch).

import type { Dataset } from '../data/dataset.js';
import { EdgefitError, errorLine } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/serialize.js';
import { exposeValues } from './expose.js';
import type { HostTensor, Runtime } from './types.js';

/** What collection hands over, batch by batch: the exposed values by name, and the sample range. */
export type BatchFn = (
  values: Record<string, HostTensor>,
  start: number,
  end: number,
) => void | Promise<void>;

export interface CollectOptions {
  batchSize?: number;
  /** stop after this many samples */
  limit?: number;
}

/**
 * Run `model` on `data`, exposing `names` (main-graph values), and call `onBatch` with each batch's
 * values (graph inputs included when named). Returns the number of samples seen.
 */
export async function collectActivations(
  model: Model,
  names: readonly string[],
  data: Dataset,
  runtime: Runtime,
  onBatch: BatchFn,
  options: CollectOptions = {},
): Promise<number> {
  const exposed = exposeValues(model, names);
  const inputNames = new Set(model.graph.inputs.map((v) => v.name));
  const session = await runtime.createSession(encodeModel(exposed), { optimization: 'basic' });
  const batch =
    fixedBatch(model) ??
    Math.max(1, Math.min(options.batchSize ?? 32, data.maxBatch ?? Number.POSITIVE_INFINITY));
  let total = Math.min(data.size, options.limit ?? data.size);
  if (fixedBatch(model) !== undefined) total -= total % batch; // only whole batches fit
  try {
    for (let start = 0; start < total; start += batch) {
      const end = Math.min(total, start + batch);
      const feeds = data.slice(start, end);
      let out: Record<string, HostTensor>;
      try {
        // ORT refuses an empty fetch list: when only inputs are wanted, fetch a graph output too
        const fetch = names.filter((n) => !inputNames.has(n));
        out = await session.run(feeds, fetch.length ? fetch : [session.outputNames[0]!]);
      } catch (e) {
        throw new EdgefitError(
          'BAD_DATA',
          `calibration data from ${data.source} does not fit the model: ${errorLine(e)}`,
          'give data shaped like the model inputs',
        );
      }
      for (const n of names) if (inputNames.has(n) && feeds[n]) out[n] = feeds[n]!;
      await onBatch(out, start, end);
    }
  } finally {
    await session.release();
  }
  return total;
}

/**
 * The batch a model takes when every fed input has the same fixed leading dim (openWakeWord's
 * [1, 16, 96]: calibration then feeds one sample per run); undefined when any is symbolic (a dynamic
 * batch; Silero's state [2, batch, 128] leads with its layer count, its audio input with the batch).
 */
export function fixedBatch(model: Model): number | undefined {
  const inputs = model.graph.inputs.filter((v) => !v.initializer);
  const lead = new Set(inputs.map((v) => v.type?.shape?.[0]));
  if (lead.size !== 1) return undefined;
  const d = [...lead][0];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

/** collectActivations over one runtime and dataset, as data-aware passes get it (PassContext.collect). */
export type Collect = (
  model: Model,
  names: readonly string[],
  onBatch: BatchFn,
  options?: CollectOptions,
) => Promise<number>;

export function bindCollect(runtime: Runtime, data: Dataset): Collect {
  return (model, names, onBatch, options) =>
    collectActivations(model, names, data, runtime, onBatch, options);
}
