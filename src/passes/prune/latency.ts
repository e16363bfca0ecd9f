// prune-channels' latency check: the model before and after, batch 1, one intra-op thread, on ONNX
// Runtime (PassContext.runtime). Runs alternate between the two sessions in rounds so that load on a
// shared machine hits both alike; each side's figure is the median over all its runs. The number of
// runs (3 at least, in up to 5 rounds) is chosen from the first timed pair so that the check takes
// about `budgetMs` after three warm-up runs of each.

import type { Dataset } from '../../data/dataset.js';
import type { Model } from '../../ir/graph.js';
import type { HostTensor } from '../../ir/host-tensor.js';
import type { Rng } from '../../kernels/random.js';
import { DataType } from '../../onnx/dtype.js';
import type { Runtime, Session } from '../../runtime/types.js';

/**
 * One batch-1 input per graph input: the first calibration sample, or random floats when every dim
 * but the batch is fixed; undefined otherwise.
 */
export function latencyFeeds(
  model: Model,
  data: Dataset | undefined,
  rng: Rng,
): Record<string, HostTensor> | undefined {
  if (data?.size) return data.slice(0, 1);
  const feeds: Record<string, HostTensor> = {};
  for (const v of model.graph.inputs) {
    if (v.initializer) continue;
    const shape = v.type?.shape;
    // only the batch may be free: a made-up image size would time another model
    if (v.type?.elemType !== DataType.FLOAT || !shape || shape.slice(1).some((d) => typeof d !== 'number'))
      return undefined;
    const dims = shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const size = dims.reduce((a, b) => a * b, 1);
    feeds[v.name] = {
      dtype: DataType.FLOAT,
      dims,
      data: Float32Array.from({ length: size }, () => rng.normal()),
    };
  }
  return feeds;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

/** Median batch-1 latency (ms) of `before` and `after`; undefined when either does not run. */
export async function compareLatency(
  runtime: Runtime,
  before: Uint8Array,
  after: Uint8Array,
  feeds: Record<string, HostTensor>,
  budgetMs = 1000,
): Promise<{ before: number; after: number } | undefined> {
  const sessions: Session[] = [];
  try {
    for (const m of [before, after]) sessions.push(await runtime.createSession(m, { threads: 1 }));
    const time = async (s: Session) => {
      const t0 = performance.now();
      await s.run(feeds);
      return performance.now() - t0;
    };
    for (const s of sessions) for (let i = 0; i < 3; i++) await time(s);
    const first = (await time(sessions[0]!)) + (await time(sessions[1]!));
    const perModel = Math.max(3, Math.min(1000, Math.floor(budgetMs / Math.max(first, 1e-3))));
    const rounds = Math.min(5, perModel);
    const runs = Math.ceil(perModel / rounds);
    const t: number[][] = [[], []];
    for (let round = 0; round < rounds; round++)
      for (const [i, s] of sessions.entries()) for (let r = 0; r < runs; r++) t[i]!.push(await time(s));
    return { before: median(t[0]!), after: median(t[1]!) };
  } catch {
    return undefined;
  } finally {
    for (const s of sessions) await s.release();
  }
}
