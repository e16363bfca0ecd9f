// Evaluation: run a model over a dataset in batches and measure task accuracy (with labels) and,
// given a reference model, fidelity per output (top-1 agreement, cosine, SQNR, max abs error).
// Only running sums are kept, so memory stays bounded whatever the dataset size. A batch of several
// samples that ORT rejects is rerun one sample at a time, and so is the rest (models whose batch dim is
// fixed to 1, e.g. openWakeWord's heads).

import type { Dataset } from '../data/dataset.js';
import { AccuracyAccumulator, argmax, FidelityAccumulator, type FidelityResult } from '../data/metrics.js';
import { EdgefitError, errorLine } from '../errors.js';
import type { HostTensor, Runtime, Session } from '../runtime/types.js';

export interface EvalOptions {
  /** a reference model to compare outputs with */
  reference?: Uint8Array | string;
  batchSize?: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
  /** return the first output's top-1 class per sample (`classes`) */
  classes?: boolean;
  /**
   * the top-1 classes of a reference, per sample (a reference's `classes`): `agreement` is measured
   * against them without running the reference again
   */
  referenceClasses?: Int32Array;
}

export interface EvalResult {
  samples: number;
  top1?: number;
  top5?: number;
  /** per output name, with --reference */
  fidelity?: Record<string, FidelityResult>;
  agreement?: number;
  cosine?: number;
  sqnr?: number;
  /** with `classes`: the first output's top-1 class per sample (-1 for a row of NaN) */
  classes?: Int32Array;
}

function asFloat(t: HostTensor, name: string): Float32Array | Float64Array {
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) return t.data;
  if (Array.isArray(t.data))
    throw new EdgefitError('UNSUPPORTED', `output ${name} holds strings; it cannot be scored`);
  return Float32Array.from(t.data as ArrayLike<number>, Number);
}

/** rows × cols view of an output whose first axis is the sample axis */
function rowsCols(t: HostTensor): [number, number] {
  const rows = t.dims[0] ?? 1;
  const total = t.dims.reduce((a, b) => a * b, 1);
  return [rows, rows ? total / rows : 0];
}

export async function openSession(
  runtime: Runtime,
  model: Uint8Array | string,
  threads?: number,
): Promise<Session> {
  return runtime.createSession(model, { threads: threads ?? 1 });
}

async function runChecked(
  session: Session,
  feeds: Record<string, HostTensor>,
  source: string,
): Promise<Record<string, HostTensor>> {
  try {
    return await session.run(feeds);
  } catch (e) {
    const msg = errorLine(e);
    throw new EdgefitError(
      'BAD_DATA',
      `ONNX Runtime rejected the data from ${source}: ${msg}`,
      'check the data matches the model inputs',
    );
  }
}

export async function evaluate(
  runtime: Runtime,
  model: Uint8Array | string,
  data: Dataset,
  options: EvalOptions = {},
): Promise<EvalResult> {
  // data whose samples cannot be stacked (per-sample scalars that differ) says so with maxBatch
  const batch = Math.max(1, Math.min(options.batchSize ?? 64, data.maxBatch ?? Number.POSITIVE_INFINITY));
  const session = await openSession(runtime, model, options.threads);
  const reference = options.reference
    ? await openSession(runtime, options.reference, options.threads)
    : undefined;
  const accuracy = data.labels ? new AccuracyAccumulator() : undefined;
  const fidelity = new Map<string, FidelityAccumulator>();
  const scored = session.outputNames[0]!;
  const refClasses = options.referenceClasses;
  const classes = options.classes || refClasses ? new Int32Array(data.size).fill(-1) : undefined;
  try {
    let step = batch;
    for (let start = 0; start < data.size; start += step) {
      let end = Math.min(data.size, start + step);
      let feeds = data.slice(start, end);
      let out: Record<string, HostTensor>;
      try {
        out = await runChecked(session, feeds, data.source);
      } catch (e) {
        // a model whose batch dim is fixed (to 1) rejects a batch of several samples: one at a time
        if (end - start === 1) throw e;
        step = 1;
        end = start + 1;
        feeds = data.slice(start, end);
        out = await runChecked(session, feeds, data.source);
      }
      if (accuracy && data.labels) {
        const logits = out[scored]!;
        const [rows, cols] = rowsCols(logits);
        accuracy.add(asFloat(logits, scored), rows, cols, data.labels.subarray(start, end));
      }
      if (classes) {
        const [rows, cols] = rowsCols(out[scored]!);
        if (rows === end - start) classes.set(argmax(asFloat(out[scored]!, scored), rows, cols), start);
      }
      if (reference) {
        const ref = await runChecked(reference, feeds, data.source);
        for (const name of session.outputNames) {
          const r = ref[name];
          const c = out[name];
          if (!r || !c || Array.isArray(r.data)) continue;
          let acc = fidelity.get(name);
          if (!acc) {
            acc = new FidelityAccumulator();
            fidelity.set(name, acc);
          }
          const [rows, cols] = rowsCols(r);
          acc.add(asFloat(r, name), asFloat(c, name), rows, cols);
        }
      }
      options.onProgress?.(end, data.size);
    }
  } finally {
    await session.release();
    await reference?.release();
  }
  const result: EvalResult = { samples: data.size };
  if (classes && options.classes) result.classes = classes;
  if (classes && refClasses) {
    let same = 0;
    for (let i = 0; i < data.size; i++) if (classes[i] !== -1 && classes[i] === refClasses[i]) same++;
    result.agreement = same / data.size;
  }
  if (accuracy) {
    const a = accuracy.result();
    result.top1 = a.top1;
    result.top5 = a.top5;
  }
  if (reference) {
    result.fidelity = Object.fromEntries([...fidelity].map(([k, v]) => [k, v.result()]));
    const main = result.fidelity[scored];
    if (main) {
      result.agreement = main.agreement;
      result.cosine = main.cosine;
      result.sqnr = main.sqnr;
    }
  }
  return result;
}
