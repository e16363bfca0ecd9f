// The samples the numerical guard runs a transform's input and result on.
//
// Rules:
//  1. User data first: with calibration data, its first two samples (one per run, so fixed-batch
//     models fit).
//  2. Otherwise synthetic inputs (data/synthetic.ts) at two or more shapes: symbolic dims the user did
//     not fix with --shape take a small set (batch-like leading dims 1 and 2; spatial dims of 4-D
//     inputs 64 and 96, multiples of 32 that strided convnets accept), so a pass that is exact at one
//     size only (a BatchNorm fold with broadcasting, a constant-folded shape) is caught at another.
//  3. Inputs the user set with --input NAME=VALUE keep that value in every sample (e.g. a sample
//     rate `sr` that a model's own STFT checks).
//  4. The original model must run on a sample for it to count: samples it rejects are dropped; when
//     none is left the guard is off for this run, with one warning saying how to give inputs.

import type { Dataset } from '../data/dataset.js';
import { feedInputs, synthesizeInputs } from '../data/synthetic.js';
import { errorLine } from '../errors.js';
import type { Model } from '../ir/graph.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { encodeModel } from '../ir/serialize.js';
import type { Runtime } from '../runtime/types.js';

export type Feeds = Record<string, HostTensor>;

/** Per-input shapes for the synthetic samples: two variants where dims are symbolic. */
function shapeVariants(model: Model, fixed: Record<string, number[]>): Record<string, number[]>[] {
  const variants: Record<string, number[]>[] = [{}, {}];
  let symbolic = false;
  for (const v of feedInputs(model)) {
    if (fixed[v.name] || !v.type?.shape) continue;
    const shape = v.type.shape;
    if (shape.every((d) => typeof d === 'number')) continue;
    symbolic = true;
    const image = shape.length === 4;
    variants.forEach((variant, k) => {
      variant[v.name] = shape.map((d, i) => {
        if (typeof d === 'number') return d;
        if (i === 0) return k + 1;
        return image && i >= 2 ? 64 + 32 * k : k + 1;
      });
    });
  }
  return symbolic ? variants.map((v) => ({ ...v, ...fixed })) : [fixed];
}

export function guardCandidates(
  model: Model,
  options: {
    shapes: Record<string, number[]>;
    seed: number;
    inputs: Feeds;
    calibration?: Dataset | undefined;
  },
): Feeds[] {
  const out: Feeds[] = [];
  const cal = options.calibration;
  if (cal && cal.size > 0) for (let i = 0; i < Math.min(2, cal.size); i++) out.push(cal.slice(i, i + 1));
  const variants = shapeVariants(model, options.shapes);
  // two seeds at the first shape, and one sample at each other shape
  const plans = [
    { shapes: variants[0]!, seed: options.seed },
    { shapes: variants[0]!, seed: options.seed + 1 },
    ...variants.slice(1).map((shapes, k) => ({ shapes, seed: options.seed + 2 + k })),
  ];
  for (const p of plans) {
    try {
      out.push({
        ...synthesizeInputs(model, { shapes: p.shapes, seed: p.seed, batch: 1 }),
        ...options.inputs,
      });
    } catch {
      // an input synthetic data cannot fill (no shape, strings): only user data can guard it
    }
  }
  return out;
}

/** The candidates the original model really runs on (rule 4), and why others were dropped. */
export async function runnableFeeds(
  runtime: Runtime,
  model: Model,
  candidates: Feeds[],
): Promise<{ feeds: Feeds[]; error?: string }> {
  if (!candidates.length) return { feeds: [], error: 'no input could be synthesized' };
  let session: Awaited<ReturnType<Runtime['createSession']>>;
  try {
    session = await runtime.createSession(encodeModel(model), { threads: 1 });
  } catch (e) {
    return { feeds: [], error: errorLine(e) };
  }
  const feeds: Feeds[] = [];
  let error: string | undefined;
  try {
    for (const f of candidates)
      try {
        await session.run(f);
        feeds.push(f);
      } catch (e) {
        error ??= errorLine(e);
      }
  } finally {
    await session.release();
  }
  return error === undefined ? { feeds } : { feeds, error };
}
