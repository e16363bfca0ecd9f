// The measuring commands over in-memory models, whatever the shell: inspect (what a model costs),
// evaluate (accuracy and fidelity), bench (latency and sizes), compare (two models side by side).
// Each resolves to exactly the object `--json` prints.

import type { z } from 'zod';
import { energyMicrojoules } from '../analysis/energy.js';
import type { Dataset } from '../data/dataset.js';
import { syntheticDataset } from '../data/dataset.js';
import { feedInputs, synthesizeInputs } from '../data/synthetic.js';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { modelCounts } from '../ir/stats.js';
import { type BenchResult, benchmark } from '../pipeline/benchmark.js';
import { evaluate as runEvaluation } from '../pipeline/evaluate.js';
import { type InspectReport, inspectWithRuntime } from '../pipeline/inspect.js';
import type { Host } from '../pipeline/transform.js';
import { type Latency, roundLatency, roundSig, SCHEMA_VERSION, type Versioned } from '../report/schema.js';
import type { benchOptions, compareOptions, evalOptions, inspectOptions } from './options.js';
import { resolveInputValues, resolveShapes } from './shapes.js';
import type { ModelSource } from './transform.js';
import { parseBudget } from './units.js';

export interface InspectJson extends InspectReport, Versioned {
  model: string;
  /** estimated energy per inference, µJ (analysis/energy.ts: 45 nm figures) */
  energyUj: number;
  /** with --budget: whether weights fit flash and peak activations fit RAM */
  fits?: boolean;
}

export async function inspectCore(
  name: string,
  model: Model,
  o: z.output<typeof inspectOptions>,
  host: Host,
): Promise<InspectJson> {
  const shapes = resolveShapes(model, o.shape);
  const budget = o.budget ? parseBudget(o.budget) : undefined;
  const report = await inspectWithRuntime(model, host.runtime, { shapes, ...(budget ? { budget } : {}) });
  const out: InspectJson = {
    schemaVersion: SCHEMA_VERSION,
    model: name,
    ...report,
    energyUj: roundSig(energyMicrojoules(model, report), 4),
  };
  if (report.budget) out.fits = (report.budget.flash?.fits ?? true) && (report.budget.ram?.fits ?? true);
  return out;
}

export interface FidelityJson {
  agreement: number;
  cosine: number;
  sqnr: number;
  maxAbsError: number;
  samples: number;
}

export interface EvalJson extends Versioned {
  model: string;
  data: string;
  samples: number;
  top1?: number;
  top5?: number;
  fidelity?: Record<string, FidelityJson>;
  agreement?: number;
  cosine?: number;
  sqnr?: number;
}

const db = (x: number) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : x);

/** The dataset eval and compare run on: the user's data, else synthetic inputs (fidelity only). */
export function dataOrSynthetic(
  model: Model,
  data: Dataset | undefined,
  o: { samples: number; seed: number; shape: string[]; input: string[] },
): Dataset {
  if (data) return data;
  const shapes = resolveShapes(model, o.shape);
  const fixed = resolveInputValues(model, o.input);
  // inputs whose first axis is not a free batch axis (a fixed size, a scalar, a state holding its batch
  // on axis 1) cannot be stacked into batches: such models get one synthetic sample per run
  const stackable = feedInputs(model).every(
    (v) => !fixed[v.name] && typeof v.type?.shape?.[0] === 'string' && !shapes[v.name],
  );
  if (stackable) return syntheticDataset(model, { samples: o.samples, seed: o.seed, shapes });
  return {
    size: o.samples,
    labels: undefined,
    source: 'synthetic inputs',
    maxBatch: 1,
    slice: (a) => ({ ...synthesizeInputs(model, { shapes, seed: o.seed + a, batch: 1 }), ...fixed }),
  };
}

export async function evaluateCore(
  name: string,
  source: ModelSource,
  model: Model,
  data: Dataset | undefined,
  o: z.output<typeof evalOptions>,
  host: Host,
  reference?: ModelSource,
): Promise<EvalJson> {
  if (!data && !reference)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      'eval needs --data (or --reference to compare on synthetic inputs)',
      'pass --data FILE',
    );
  const set = dataOrSynthetic(model, data, o);
  const task = host.progress?.start('eval', set.size);
  const r = await runEvaluation(host.runtime, source, set, {
    ...(reference ? { reference } : {}),
    batchSize: o.batchSize,
    threads: o.threads,
    onProgress: (done) => task?.update(done),
  });
  task?.done();
  const out: EvalJson = { schemaVersion: SCHEMA_VERSION, model: name, data: set.source, samples: r.samples };
  if (r.top1 !== undefined) {
    out.top1 = r.top1;
    out.top5 = r.top5!;
  }
  if (r.fidelity) {
    out.fidelity = Object.fromEntries(
      Object.entries(r.fidelity).map(([k, f]) => [
        k,
        {
          agreement: f.agreement,
          cosine: roundSig(f.cosine, 7),
          sqnr: db(f.sqnr),
          maxAbsError: roundSig(f.maxAbsError, 3),
          samples: f.samples,
        },
      ]),
    );
    if (r.agreement !== undefined) out.agreement = r.agreement;
    if (r.cosine !== undefined) out.cosine = roundSig(r.cosine, 7);
    if (r.sqnr !== undefined) out.sqnr = db(r.sqnr);
  }
  return out;
}

export interface BenchJson extends Versioned {
  model: string;
  latencyMs: Latency;
  throughput: number;
  batch: number;
  threads: number;
  bytes: number;
  gzipBytes: number;
  brotliBytes: number;
  weightBytes: number;
  profile?: BenchResult['profile'];
}

export async function benchCore(
  name: string,
  source: ModelSource,
  model: Model,
  sizes: { bytes: number; gzipBytes: number; brotliBytes: number },
  o: z.output<typeof benchOptions>,
  host: Host,
  profilePrefix?: string,
): Promise<BenchJson> {
  const feeds = {
    ...synthesizeInputs(model, { shapes: resolveShapes(model, o.shape), batch: o.batch, seed: 0 }),
    ...resolveInputValues(model, o.input),
  };
  const r = await benchmark(host.runtime, source, feeds, {
    threads: o.threads,
    runs: o.runs,
    warmup: o.warmup,
    ...(profilePrefix ? { profilePrefix } : {}),
  });
  return {
    schemaVersion: SCHEMA_VERSION,
    model: name,
    latencyMs: roundLatency(r.latencyMs),
    throughput: roundSig(r.throughput),
    batch: r.batch,
    threads: r.threads,
    ...sizes,
    weightBytes: modelCounts(model).weightBytes,
    ...(r.profile ? { profile: r.profile } : {}),
  };
}

export interface CompareSide {
  model: string;
  bytes: number;
  gzipBytes: number;
  brotliBytes: number;
  latencyMs: Latency;
  top1?: number;
  top5?: number;
  agreement?: number;
  cosine?: number;
  sqnr?: number;
}

export interface CompareJson extends Versioned {
  reference: CompareSide;
  candidate: CompareSide;
  ratios: { bytes: number; brotliBytes: number; latency: number; speedup: number; top1DropPt?: number };
  data: string;
  samples: number;
}

export interface CompareModel {
  name: string;
  source: ModelSource;
  model: Model;
  sizes: { bytes: number; gzipBytes: number; brotliBytes: number };
}

export async function compareCore(
  ref: CompareModel,
  cand: CompareModel,
  data: Dataset | undefined,
  o: z.output<typeof compareOptions>,
  host: Host,
): Promise<CompareJson> {
  const set = dataOrSynthetic(ref.model, data, o);
  const benchOpts = { ...o, warmup: 5, profile: false, json: false };
  const evalOpts = { ...o, batchSize: 64 } as z.output<typeof evalOptions>;
  const quiet = { ...host, progress: undefined };
  const task = host.progress?.start('compare', 4);
  const rb = await benchCore(ref.name, ref.source, ref.model, ref.sizes, benchOpts, quiet);
  const cb = await benchCore(cand.name, cand.source, cand.model, cand.sizes, benchOpts, quiet);
  task?.update(2);
  const re = await evaluateCore(ref.name, ref.source, ref.model, set, evalOpts, quiet);
  const ce = await evaluateCore(cand.name, cand.source, cand.model, set, evalOpts, quiet, ref.source);
  task?.done();
  const side = (b: BenchJson, e: EvalJson): CompareSide => ({
    model: b.model,
    bytes: b.bytes,
    gzipBytes: b.gzipBytes,
    brotliBytes: b.brotliBytes,
    latencyMs: b.latencyMs,
    ...(e.top1 !== undefined ? { top1: e.top1, top5: e.top5! } : {}),
  });
  const candidate: CompareSide = { ...side(cb, ce) };
  if (ce.agreement !== undefined) candidate.agreement = ce.agreement;
  if (ce.cosine !== undefined) candidate.cosine = ce.cosine;
  if (ce.sqnr !== undefined) candidate.sqnr = ce.sqnr;
  return {
    schemaVersion: SCHEMA_VERSION,
    reference: side(rb, re),
    candidate,
    ratios: {
      bytes: roundSig(cb.bytes / rb.bytes),
      brotliBytes: roundSig(cb.brotliBytes / rb.brotliBytes),
      latency: roundSig(cb.latencyMs.median / rb.latencyMs.median),
      speedup: roundSig(rb.latencyMs.median / cb.latencyMs.median),
      ...(re.top1 !== undefined && ce.top1 !== undefined
        ? { top1DropPt: roundSig(100 * (re.top1 - ce.top1), 4) }
        : {}),
    },
    data: set.source,
    samples: set.size,
  };
}
