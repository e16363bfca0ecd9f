// The pass manager: runs recipe steps in order (or a rule set to a fixed point), verifies the IR after
// each pass, times it, records the history, and guards the numbers:
//  - a lossless pass whose result differs from the model before it by more than 1e-5 (relative to
//    the largest output magnitude) on a guard sample is rolled back, with a warning naming it; the
//    bar of each sample is raised to 8x the model's own float32 noise there (its outputs' change
//    when every float input moves by one ulp): a detector whose sigmoid outputs are all ~1e-5 on
//    synthetic inputs changes by 1e-3 of its largest output under any reordering of float32 sums,
//    so a fixed 1e-5 would judge rounding, not the pass
//  - a lossless pass never increases the weight bytes (an error naming the pass: a bug)
//  - a lossy pass gets its fidelity (SQNR, agreement) against the original recorded
// An error inside a pass is re-thrown naming the pass and the passes that ran before it.

import type { Dataset } from '../data/dataset.js';
import { FidelityAccumulator } from '../data/metrics.js';
import { EdgefitError, isEdgefitError } from '../errors.js';
import { cloneModel } from '../ir/clone.js';
import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/serialize.js';
import { modelCounts } from '../ir/stats.js';
import { verifyModel } from '../ir/verify.js';
import { Rng } from '../kernels/random.js';
import { encodingWarnings, exposeEncodings, reencodeWeights } from '../passes/encoding.js';
import type { Logger, PassStats, ProgressSink } from '../passes/pass.js';
import { removeUnused } from '../passes/util.js';
import type { Fidelity, PassRecord } from '../report/schema.js';
import { bindCollect, type Collect } from '../runtime/collect.js';
import { OrtMatMul } from '../runtime/ort-matmul.js';
import type { HostTensor, Runtime } from '../runtime/types.js';
import { nodeSelector, type RecipeStep } from './recipe.js';

export type { PassRecord };
/** How far a result's outputs are from the reference's (a fidelity record). */
export type OutputDiff = Fidelity;

export interface RunOptions {
  runtime?: Runtime;
  /** samples the guard runs; none = no numerical guard */
  guardFeeds?: Record<string, HostTensor>[];
  log?: Logger;
  seed?: number;
  calibration?: Dataset;
  /** rerun the whole sequence until no pass changes anything (rule sets) */
  fixedPoint?: boolean;
  maxIterations?: number;
  /** where long steps report progress (each step; calibration batches) */
  progress?: ProgressSink | undefined;
  /** relative tolerance of lossless passes */
  tolerance?: number;
}

export interface RunResult {
  model: Model;
  history: PassRecord[];
}

const silent: Logger = { info() {}, warn() {} };

type Outputs = Record<string, HostTensor>[];

async function runAll(runtime: Runtime, model: Model, feeds: Record<string, HostTensor>[]): Promise<Outputs> {
  const session = await runtime.createSession(encodeModel(model), { threads: 1 });
  try {
    const out: Outputs = [];
    for (const f of feeds) out.push(await session.run(f));
    return out;
  } finally {
    await session.release();
  }
}

/** Every float input moved by one ulp up or down (alternating), the rest unchanged. */
function nudged(feeds: Record<string, HostTensor>): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    if (!(t.data instanceof Float32Array)) {
      out[name] = t;
      continue;
    }
    const d = t.data.slice();
    for (let i = 0; i < d.length; i++) d[i] = d[i]! * (1 + (i & 1 ? 2 ** -23 : -(2 ** -24)));
    out[name] = { ...t, data: d };
  }
  return out;
}

/** How far a model's outputs move on each sample when its inputs move by one ulp (its own noise). */
export async function outputNoise(
  runtime: Runtime,
  model: Model,
  feeds: Record<string, HostTensor>[],
  ref: Outputs,
) {
  const moved = await runAll(runtime, model, feeds.map(nudged));
  return ref.map((r, k) => compareOutputs([r], [moved[k]!]).maxRelError);
}

/** Weight bytes once what nothing reads is gone (passes leave that to dead-code). */
function liveWeightBytes(model: Model): number {
  const m = cloneModel(model);
  for (const g of [...m.graph.allGraphs()].reverse()) removeUnused(g);
  return modelCounts(m).weightBytes;
}

/** The noise factor: a lossless pass may move a sample's outputs by this many times its noise. */
const NOISE_FACTOR = 8;

const asNumbers = (d: ArrayLike<number | bigint>) =>
  d instanceof Float32Array || d instanceof Float64Array
    ? d
    : Float64Array.from(d as ArrayLike<number>, Number);

/**
 * maxRelError: max |a - b| over every output relative to the largest reference magnitude (an output
 * missing, of another size, or string outputs that differ count as infinite); SQNR and top-1
 * agreement of the first output, from the same accumulator eval uses (data/metrics.ts).
 */
export function compareOutputs(ref: Outputs, cand: Outputs): OutputDiff {
  let maxAbs = 0;
  let maxRef = 0;
  const first = new FidelityAccumulator();
  let firstSeen = false;
  for (let s = 0; s < ref.length; s++)
    Object.keys(ref[s]!).forEach((name, k) => {
      const a = ref[s]![name]!;
      const b = cand[s]?.[name];
      if (!b || a.data.length !== b.data.length || Array.isArray(a.data) !== Array.isArray(b.data)) {
        maxAbs = Number.POSITIVE_INFINITY;
        return;
      }
      if (Array.isArray(a.data)) {
        if ((a.data as string[]).some((x, i) => x !== (b.data as string[])[i]))
          maxAbs = Number.POSITIVE_INFINITY;
        return;
      }
      const x = asNumbers(a.data as ArrayLike<number>);
      const y = asNumbers(b.data as ArrayLike<number>);
      for (let i = 0; i < x.length; i++) {
        const u = x[i]!;
        const v = y[i]!;
        if (Number.isNaN(u) || Number.isNaN(v)) {
          if (Number.isNaN(u) !== Number.isNaN(v)) maxAbs = Number.POSITIVE_INFINITY;
          continue;
        }
        if (u !== v) maxAbs = Math.max(maxAbs, Math.abs(u - v));
        maxRef = Math.max(maxRef, Math.abs(u));
      }
      if (k === 0 && a.dims.length >= 1 && x.length) {
        const rows = a.dims[0]!;
        if (rows > 0) {
          first.add(x, y, rows, x.length / rows);
          firstSeen = true;
        }
      }
    });
  const f = firstSeen ? first.result() : undefined;
  return {
    maxRelError: maxAbs === 0 ? 0 : maxAbs / Math.max(maxRef, 1e-30),
    sqnr: f && f.maxAbsError > 0 ? f.sqnr : Number.POSITIVE_INFINITY,
    agreement: f ? f.agreement : 1,
  };
}

/** Calibration collection that reports its batches as progress ("quantize-static-int8: calibration 128/256"). */
function withProgress(collect: Collect, options: RunOptions, passId: string): Collect {
  const sink = options.progress;
  if (!sink) return collect;
  return async (model, names, onBatch, o) => {
    const total = Math.min(options.calibration!.size, o?.limit ?? options.calibration!.size);
    const task = sink.start(`${passId}: calibration`, total);
    try {
      return await collect(
        model,
        names,
        async (values, start, end) => {
          await onBatch(values, start, end);
          task.update(end);
        },
        o,
      );
    } finally {
      task.done();
    }
  };
}

export async function runPasses(
  input: Model,
  steps: RecipeStep[],
  options: RunOptions = {},
): Promise<RunResult> {
  const log = options.log ?? silent;
  const rng = new Rng(options.seed ?? 0);
  const history: PassRecord[] = [];
  const tolerance = options.tolerance ?? 1e-5;
  const guard =
    options.runtime && options.guardFeeds?.length
      ? { runtime: options.runtime, feeds: options.guardFeeds }
      : undefined;
  let model = input;
  const original = guard ? await runAll(guard.runtime, model, guard.feeds) : undefined;
  const bars =
    guard && original
      ? (await outputNoise(guard.runtime, model, guard.feeds, original)).map((n) =>
          Math.max(tolerance, NOISE_FACTOR * n),
        )
      : [];
  let current = original;
  steps.forEach((s, i) => {
    if (!s.nodes) return;
    const sel = nodeSelector(s.nodes);
    let any = false;
    for (const n of model.graph.allNodes()) if (sel(n)) any = true;
    if (!any) log.warn(`step ${i + 1} (${s.pass.id}): node selector ${s.nodes.join(', ')} matches no node`);
  });
  const maxIterations = options.fixedPoint ? (options.maxIterations ?? 10) : 1;
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    let anyChange = false;
    for (const s of steps) {
      const before = cloneModel(model); // shares tensor data: cheap
      const t0 = performance.now();
      let res: { changed: boolean; stats: PassStats };
      const selects = nodeSelector(s.nodes);
      const policy = s.pass.lossless ? undefined : (s.pass.encodings ?? 'expose');
      if (policy && iteration === 0)
        for (const w of encodingWarnings(model, s.pass.id, selects, {
          codebooks: policy === 'keep',
          quantizer: s.pass.id.startsWith('quantize'),
        }))
          log.warn(w);
      const exposed = policy === 'expose' ? exposeEncodings(model, selects) : [];
      try {
        res = await s.pass.apply(model, s.options as never, {
          log,
          rng,
          runtime: options.runtime,
          calibration: options.calibration,
          collect:
            options.runtime && options.calibration
              ? withProgress(bindCollect(options.runtime, options.calibration), options, s.pass.id)
              : undefined,
          progress: options.progress,
          matmul: options.runtime ? () => new OrtMatMul(options.runtime!) : undefined,
          selects,
        });
        const reencoded = reencodeWeights(model, exposed, s.pass.id, log);
        if (reencoded) res = { ...res, stats: { ...res.stats, encodingsKept: reencoded } };
      } catch (e) {
        const ran = history.map((h) => h.name);
        const context = `pass ${s.pass.id} failed${ran.length ? ` (after ${[...new Set(ran)].join(', ')})` : ''}`;
        if (isEdgefitError(e)) throw new EdgefitError(e.code, `${context}: ${e.message}`);
        throw new Error(`${context}: ${(e as Error).message}`, { cause: e });
      }
      const record: PassRecord = {
        name: s.pass.id,
        changed: res.changed,
        stats: res.stats,
        ms: performance.now() - t0,
      };
      if (res.changed) {
        const problems = verifyModel(model);
        if (problems.length) throw new Error(`pass ${s.pass.id} left an invalid graph: ${problems[0]}`);
        // a lossless pass never grows the weights: a pass that did is rolled back (a bug to report,
        // but the user's model is still slimmed by the other passes)
        const grew = s.pass.lossless ? [liveWeightBytes(before), liveWeightBytes(model)] : undefined;
        if (grew && grew[1]! > grew[0]!) {
          log.warn(
            `${s.pass.id} grew the weights (${grew[0]} -> ${grew[1]} bytes), which a lossless pass must not do; rolled back (please report this model)`,
          );
          model = before;
          record.rolledBack = true;
          record.changed = false;
        } else if (guard && current && original) {
          const outs = await runAll(guard.runtime, model, guard.feeds);
          const errors = current.map((c, k) => compareOutputs([c], [outs[k]!]).maxRelError);
          const worst = errors.findIndex((e, k) => !(e <= bars[k]!));
          if (s.pass.lossless && worst >= 0) {
            const bar = bars[worst]!;
            log.warn(
              `${s.pass.id} changed the outputs (max relative error ${errors[worst]!.toExponential(2)} > ${bar === tolerance ? tolerance : `${bar.toExponential(2)}, ${NOISE_FACTOR}x the model's own rounding noise`} on guard sample ${worst + 1}); rolled back`,
            );
            model = before;
            record.rolledBack = true;
            record.changed = false;
          } else {
            current = outs;
            if (!s.pass.lossless) record.fidelity = compareOutputs(original, outs);
          }
        }
      }
      anyChange ||= record.changed;
      history.push(record);
    }
    if (!anyChange) break;
  }
  return { model, history };
}

/** Per-pass totals over a fixed-point run (the same pass appears once per iteration). */
export function summarizeHistory(history: PassRecord[]): PassRecord[] {
  const by = new Map<string, PassRecord>();
  for (const h of history) {
    const r = by.get(h.name) ?? { name: h.name, changed: false, stats: {}, ms: 0 };
    r.changed ||= h.changed;
    r.ms += h.ms;
    if (h.rolledBack) r.rolledBack = true;
    if (h.fidelity) r.fidelity = h.fidelity;
    if (!h.rolledBack) for (const [k, v] of Object.entries(h.stats)) r.stats[k] = (r.stats[k] ?? 0) + v;
    by.set(h.name, r);
  }
  return [...by.values()];
}
