// Measuring a candidate: apply its recipe to the input model, encode, and measure size (file and
// brotli bytes), params, MACs, energy, latency (when the objective needs it) and accuracy on the
// evaluation data (top-1 with labels, else top-1 agreement with the input model).
//
// Evaluations are cached by a content hash of model bytes + recipe + evaluator settings, through a
// cache the host provides (a folder on Node), so a rerun of the same search skips what it measured.
// The Evaluator interface takes a batch of recipes, so a host can fan them out (worker threads,
// processes, machines); the local one measures them in turn.

import { analyzeCost } from '../analysis/cost.js';
import { energyMicrojoules } from '../analysis/energy.js';
import type { Dataset } from '../data/dataset.js';
import { cloneModel } from '../ir/clone.js';
import type { Model } from '../ir/graph.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { encodeModel } from '../ir/serialize.js';
import { modelCounts } from '../ir/stats.js';
import { benchmark } from '../pipeline/benchmark.js';
import { evaluate as runEvaluation } from '../pipeline/evaluate.js';
import { runPasses } from '../pipeline/pass-manager.js';
import { type RecipeStep, recipeToJson } from '../pipeline/recipe.js';
import type { CandidateMetrics } from '../report/schema.js';
import type { Runtime } from '../runtime/types.js';

export interface Measured {
  metrics: Omit<CandidateMetrics, 'dropPt'>;
  cached: boolean;
}

export interface Evaluator {
  /** a stable id of what it measures (data, metric, latency settings), part of the cache key */
  readonly id: string;
  evaluate(recipes: RecipeStep[][]): Promise<Measured[]>;
}

/** A key → JSON store (a folder on Node, memory in tests or the browser). */
export interface EvalCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export function memoryCache(): EvalCache {
  const m = new Map<string, string>();
  return { get: async (k) => m.get(k), set: async (k, v) => void m.set(k, v) };
}

/** FNV-1a 64-bit over bytes, as hex: a content hash that needs no crypto API (browser and Node). */
export function contentHash(parts: (Uint8Array | string)[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0xcbf29ce4;
  const enc = new TextEncoder();
  for (const p of parts) {
    const b = typeof p === 'string' ? enc.encode(p) : p;
    for (let i = 0; i < b.length; i++) {
      h1 = Math.imul(h1 ^ b[i]!, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ b[i]!, 0x01000193 ^ 0x5bd1e995) >>> 0;
    }
    h1 = Math.imul(h1 ^ 0xff, 0x01000193) >>> 0; // part separator
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

export interface LocalEvaluatorOptions {
  runtime: Runtime;
  model: Model;
  modelBytes: Uint8Array;
  evalData: Dataset;
  calibration?: Dataset | undefined;
  sizer: (bytes: Uint8Array) => { brotliBytes: number };
  cache: EvalCache;
  /** measure batch-1 latency (the latency objective) */
  latency: boolean;
  /** feeds for latency runs */
  latencyFeeds?: Record<string, HostTensor>;
  seed: number;
}

/** What an evaluator measures, as a cache-key part: the same data, metric, latency and seed. */
export function evaluatorId(o: {
  evalData: Dataset;
  calibration?: Dataset | undefined;
  latency: boolean;
  seed: number;
}): string {
  // v2: the metrics hold the agreement with the input model and the drop's margin
  const metric = o.evalData.labels ? 'top1' : 'agreement';
  return `v2:${o.evalData.source}:${o.evalData.size}:${metric}:${o.latency ? 'lat' : ''}:${o.calibration?.source ?? ''}:${o.seed}`;
}

/** The cache key of one evaluation: model bytes + recipe + evaluator. */
export function evaluationKey(modelHash: string, recipe: RecipeStep[], id: string): string {
  return contentHash([modelHash, JSON.stringify(recipeToJson(recipe)), id]);
}

export class LocalEvaluator implements Evaluator {
  readonly id: string;
  private readonly modelHash: string;
  /**
   * the input model's top-1 class per evaluation sample, computed once: agreement with it is the
   * accuracy without labels and gives the drop's margin with them
   */
  private referenceClasses: Promise<Int32Array> | undefined;

  constructor(private readonly o: LocalEvaluatorOptions) {
    this.modelHash = contentHash([o.modelBytes]);
    this.id = evaluatorId(o);
  }

  private reference(): Promise<Int32Array> {
    this.referenceClasses ??= runEvaluation(this.o.runtime, this.o.modelBytes, this.o.evalData, {
      batchSize: 64,
      classes: true,
    }).then((r) => r.classes!);
    return this.referenceClasses;
  }

  async evaluate(recipes: RecipeStep[][]): Promise<Measured[]> {
    const out: Measured[] = [];
    for (const r of recipes) out.push(await this.one(r));
    return out;
  }

  private async one(recipe: RecipeStep[]): Promise<Measured> {
    const key = evaluationKey(this.modelHash, recipe, this.id);
    const hit = await this.o.cache.get(key);
    if (hit) return { metrics: JSON.parse(hit) as Measured['metrics'], cached: true };
    const { model } = await runPasses(cloneModel(this.o.model), recipe, {
      runtime: this.o.runtime,
      calibration: this.o.calibration,
      seed: this.o.seed,
    });
    const bytes = encodeModel(model);
    const counts = modelCounts(model);
    const cost = analyzeCost(model);
    const labels = this.o.evalData.labels !== undefined;
    const e = await runEvaluation(this.o.runtime, bytes, this.o.evalData, {
      batchSize: 64,
      referenceClasses: await this.reference(),
    });
    // the standard error of a paired accuracy difference on n samples: sqrt(discordant) / n, with the
    // samples whose top-1 changed as the discordant ones (at least one): the drop measured on the
    // search data is judged with it, so a choice among many candidates is not the luckiest one
    const n = this.o.evalData.size;
    const changed = Math.max(1, Math.round((1 - (e.agreement ?? 1)) * n));
    const marginPt = Math.round(((100 * Math.sqrt(changed)) / n) * 1e4) / 1e4;
    const metrics: Measured['metrics'] = {
      bytes: bytes.length,
      brotliBytes: this.o.sizer(bytes).brotliBytes,
      params: counts.params,
      macs: cost.macs,
      peakActivationBytes: cost.peakActivationBytes,
      energyUj: Math.round(energyMicrojoules(model, cost) * 1000) / 1000,
      accuracy: labels ? (e.top1 ?? 0) : (e.agreement ?? 0),
      agreement: e.agreement ?? 0,
      dropMarginPt: marginPt,
    };
    if (this.o.latency && this.o.latencyFeeds) {
      const b = await benchmark(this.o.runtime, bytes, this.o.latencyFeeds, { runs: 40, warmup: 5 });
      metrics.latencyMs = b.latencyMs.median;
    }
    await this.o.cache.set(key, JSON.stringify(metrics));
    return { metrics, cached: false };
  }
}
