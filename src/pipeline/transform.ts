// The transform engine, platform-neutral: verify → guard samples → passes (or a custom producer such
// as the --max-drop search) → what changed and why. The shells around it (edgefit/node's file
// functions, the core's byte functions, the CLI, the web app) only load, save and print.
//
// Rules:
//  1. The input model is verified first; an invalid graph is a user error before any pass runs.
//  2. The guard runs the original and every intermediate result on samples (guard-feeds.ts: the
//     user's data, else synthetic inputs at two or more shapes) unless disabled; lossless passes that
//     change outputs are rolled back by the pass manager. Samples the original itself rejects are
//     dropped; with none left the guard is off, said in one warning.
//  3. Every warning (from passes, the guard, the engine) is collected for the report's `warnings[]`
//     and also handed to the host's log as it happens.
//  4. A technique pass that changed nothing is a warning naming it, never a silent success: its own
//     (the reason and the fix, passes/reasons.ts), else the engine's generic one. The same warning
//     twice (a fixed-point rerun) is kept once.

import type { Dataset } from '../data/dataset.js';
import type { Model } from '../ir/graph.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { assertValid } from '../ir/verify.js';
import type { Logger, ProgressSink, ProgressTask } from '../passes/pass.js';
import { SLIM_PASSES } from '../passes/registry.js';
import { type PassRecord, roundFidelity } from '../report/schema.js';
import type { Runtime } from '../runtime/types.js';
import { type Feeds, guardCandidates, runnableFeeds } from './guard-feeds.js';
import { runPasses, summarizeHistory } from './pass-manager.js';
import type { RecipeStep } from './recipe.js';

export type { ProgressSink, ProgressTask };

export const noProgress: ProgressSink = { start: () => ({ update() {}, done() {} }) };

/** What a shell hands the core: the engine to run models on, where warnings and progress go. */
export interface Host {
  runtime: Runtime;
  log?: Logger;
  progress?: ProgressSink;
  /** a scratch folder (ORT's profiler writes its trace there); absent where there is no file system */
  tempDir?: () => { path: string; dispose(): void };
}

export interface TransformPlan {
  steps: RecipeStep[];
  /** rerun the steps until nothing changes (slim) */
  fixedPoint?: boolean;
  calibration?: Dataset | undefined;
  /** make the result some other way than running `steps` (e.g. the --max-drop search) */
  produce?: (model: Model, warn: (message: string) => void) => Promise<Model>;
  /** skip the numerical guard */
  guard?: boolean;
  /** concrete shapes of the guard samples by input name */
  shapes?: Record<string, number[]>;
  /** inputs with fixed values in every guard sample (--input NAME=VALUE) */
  inputs?: Record<string, HostTensor>;
  seed?: number;
}

export interface TransformResult {
  model: Model;
  passes: PassRecord[];
  warnings: string[];
}

/** Passes that only tidy up: changing nothing is not worth a warning for them. */
const TIDY = new Set<string>([...SLIM_PASSES, 'topological-sort']);

export async function transformModel(
  model: Model,
  plan: TransformPlan,
  host: Host,
): Promise<TransformResult> {
  assertValid(model);
  const warnings: string[] = [];
  const warn = (m: string) => {
    if (warnings.includes(m)) return;
    warnings.push(m);
    host.log?.warn(m);
  };
  const seed = plan.seed ?? 0;
  let guardFeeds: Feeds[] = [];
  if (plan.guard !== false) {
    const candidates = guardCandidates(model, {
      shapes: plan.shapes ?? {},
      seed,
      inputs: plan.inputs ?? {},
      calibration: plan.calibration,
    });
    const r = await runnableFeeds(host.runtime, model, candidates);
    guardFeeds = r.feeds;
    if (!guardFeeds.length)
      warn(
        `the numerical guard is off: the original model does not run on synthetic inputs (${r.error}); give real inputs with --calib FILE, or --shape NAME=D1,D2 / --input NAME=VALUE`,
      );
  }
  let result: Model;
  let history: PassRecord[] = [];
  if (plan.produce) result = await plan.produce(model, warn);
  else {
    const run = await runPasses(model, plan.steps, {
      runtime: host.runtime,
      guardFeeds,
      seed,
      fixedPoint: plan.fixedPoint,
      calibration: plan.calibration,
      log: { info: (m) => host.log?.info(m), warn },
      progress: host.progress,
    });
    result = run.model;
    history = summarizeHistory(run.history);
  }
  for (const p of history) if (p.fidelity) p.fidelity = roundFidelity(p.fidelity);
  for (const p of history)
    if (!p.changed && !p.rolledBack && !TIDY.has(p.name) && !warnings.some((w) => w.startsWith(p.name)))
      warn(
        `${p.name} changed nothing: no node it applies to was found (see edgefit passes for what it needs)`,
      );
  return { model: result, passes: history, warnings };
}
