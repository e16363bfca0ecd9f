// The budgeted search over every technique (edgefit search):
//  1. baseline: the slimmed model (slim is lossless), measured on the evaluation data
//  2. sensitivity: each layer × every other setting alone (and each quantization step alone), least
//     aggressive first, stopping a family once a setting costs more than 3× the budget; at most half
//     of the evaluations go here
//  3. allocation: a Lagrangian sweep — for each λ and each quantization step, every layer takes the
//     setting minimizing (objective after it) + λ·(drop it costs alone); the distinct allocations
//     are measured as whole models (drops and savings are not additive, so nothing is trusted
//     until measured)
//  4. refinement around the front: from the best feasible candidate, one-layer moves (one step more
//     or less aggressive, or another family), measured, until no move improves or the budget ends
//  5. the Pareto front of (objective, accuracy) over every measured candidate; the chosen model is
//     the feasible candidate with the best objective, else the closest to the budget (with a
//     warning) — never "no model found"

import type { ProgressSink } from '../passes/pass.js';
import { recipeToJson } from '../pipeline/recipe.js';
import type { Candidate, CandidateMetrics, SensitivityRow } from '../report/schema.js';
import type { Evaluator } from './evaluator.js';
import { paretoFront } from './pareto.js';
import {
  type Choice,
  choiceLabel,
  type Family,
  type LayerInfo,
  type QuantChoice,
  quantChoices,
  recipeOf,
  settingLabel,
} from './space.js';

export type Objective = 'size' | 'latency' | 'macs' | 'energy';

export interface SearchSettings {
  objective: Objective;
  maxDropPt: number;
  calibration: boolean;
  /** stop proposing after this many seconds (measurements in flight finish) */
  timeBudgetS: number;
  maxEvaluations: number;
  /** device budget: file bytes ≤ flash, peak activation bytes ≤ ram */
  budget?: { flash?: number; ram?: number } | undefined;
  progress?: ProgressSink | undefined;
}

export interface SearchOutcome {
  baseline: CandidateMetrics;
  candidates: Candidate[];
  front: Candidate[];
  chosen: Candidate & { met: boolean };
  chosenChoice: Choice;
  sensitivity: SensitivityRow[];
  evaluations: { total: number; cached: number; seconds: number };
  warnings: string[];
}

export function objectiveOf(m: CandidateMetrics | Omit<CandidateMetrics, 'dropPt'>, o: Objective): number {
  if (o === 'size') return m.brotliBytes;
  if (o === 'latency') return m.latencyMs ?? Number.POSITIVE_INFINITY;
  if (o === 'macs') return m.macs;
  return m.energyUj ?? Number.POSITIVE_INFINITY;
}

const key = (c: Choice) =>
  JSON.stringify([
    Object.entries(c.layers)
      .filter(([, s]) => s)
      .sort(([a], [b]) => a.localeCompare(b)),
    c.quant,
  ]);

/** Cluster and prune change Gemm/MatMul weights into forms weight-only quantizers leave alone. */
/** candidates measured between two looks at the time budget */
const CHUNK = 4;

function compatible(layer: LayerInfo, family: Family, quant: QuantChoice): boolean {
  if (family === 'lowrank') return true;
  // static int8 keeps codebooks (int8 codebooks, passes/encoding.ts) and masks
  if (quant === 'static-int8' || quant === 'codebook-int8') return true;
  if (quant.startsWith('weight-') && layer.op !== 'Conv') return false;
  return true;
}

/** One-layer moves: a step more or less aggressive, another family, another quantization step. */
function neighbours(layers: LayerInfo[], choice: Choice, quants: QuantChoice[]): Choice[] {
  const out: Choice[] = [];
  for (const layer of layers) {
    const cur = choice.layers[layer.name];
    const options = layer.settings.filter((st) => compatible(layer, st.family, choice.quant));
    const same = cur ? options.filter((st) => st.family === cur.family) : [];
    const k = cur ? same.findIndex((st) => st.value === cur.value) : -1;
    const steps: ({ family: Family; value: number } | undefined)[] = cur ? [same[k + 1], same[k - 1]] : [];
    for (const fam of ['lowrank', 'cluster', 'prune'] as Family[])
      if (cur?.family !== fam) steps.push(options.find((st) => st.family === fam));
    if (cur) out.push({ ...choice, layers: { ...choice.layers, [layer.name]: undefined } });
    for (const st of steps) if (st) out.push({ ...choice, layers: { ...choice.layers, [layer.name]: st } });
  }
  for (const q of quants) if (q !== choice.quant) out.push({ ...choice, quant: q });
  return out;
}

export async function runSearch(
  layers: LayerInfo[],
  evaluator: Evaluator,
  s: SearchSettings,
): Promise<SearchOutcome> {
  const t0 = performance.now();
  const warnings: string[] = [];
  const seen = new Map<string, Candidate>();
  const choices = new Map<string, Choice>();
  let cached = 0;
  let total = 0;
  const out = (): boolean => total >= s.maxEvaluations || (performance.now() - t0) / 1000 > s.timeBudgetS;
  let baseline: CandidateMetrics | undefined;
  const quants = quantChoices(s.objective, s.calibration);
  const movesFrom = (seed: Candidate, choice: Choice) =>
    neighbours(layers, choice, quants).map((c) => ({ choice: c, origin: 'local move', parent: seed.id }));
  const task = s.progress?.start('search: candidates', s.maxEvaluations);

  async function measure(
    batch: { choice: Choice; origin: string; parent?: string }[],
  ): Promise<(Candidate | undefined)[]> {
    const fresh = batch.filter((b) => !seen.has(key(b.choice)));
    const unique = [...new Map(fresh.map((b) => [key(b.choice), b])).values()];
    if (!unique.length || out()) return batch.map((b) => seen.get(key(b.choice)));
    const recipes = unique.map((b) =>
      recipeOf(b.choice, { calibration: s.calibration, layers: layers.map((l) => l.name) }),
    );
    // in chunks of a few (the pool's width), so the time budget is checked while a long wave runs:
    // one candidate of a big CNN with data-aware steps can take half a minute
    const results: Awaited<ReturnType<Evaluator['evaluate']>> = [];
    for (let i = 0; i < recipes.length && (i === 0 || !out()); i += CHUNK)
      results.push(...(await evaluator.evaluate(recipes.slice(i, i + CHUNK))));
    unique.slice(0, results.length).forEach((b, i) => {
      const r = results[i]!;
      total++;
      if (r.cached) cached++;
      const metrics: CandidateMetrics = {
        ...r.metrics,
        dropPt: baseline ? 100 * (baseline.accuracy - r.metrics.accuracy) : 0,
      };
      metrics.dropPt = Math.round(metrics.dropPt * 1e4) / 1e4;
      const c: Candidate = {
        id: `c${seen.size}`,
        ...(b.parent ? { parent: b.parent } : {}),
        label: choiceLabel(b.choice),
        recipe: recipeToJson(recipes[i]!),
        metrics,
        feasible:
          metrics.dropPt + (metrics.dropMarginPt ?? 0) <= s.maxDropPt + 1e-9 &&
          metrics.bytes <= (s.budget?.flash ?? Number.POSITIVE_INFINITY) &&
          metrics.peakActivationBytes <= (s.budget?.ram ?? Number.POSITIVE_INFINITY),
        pareto: false,
        origin: b.origin,
      };
      seen.set(key(b.choice), c);
      choices.set(c.id, b.choice);
    });
    task?.update(total);
    return batch.map((b) => seen.get(key(b.choice)));
  }

  // 1. baseline
  const base: Choice = { layers: {}, quant: 'none' };
  const [b0] = await measure([{ choice: base, origin: 'baseline' }]);
  baseline = { ...b0!.metrics, dropPt: 0 };
  const obj0 = objectiveOf(baseline, s.objective);

  // 2. sensitivity, one change at a time
  const sensitivity: SensitivityRow[] = [];
  const single = new Map<string, { drop: number; obj: number }>();
  const alone = quantChoices(s.objective, s.calibration).filter((q) => q !== 'none');
  const qs = await measure(alone.map((q) => ({ choice: { layers: {}, quant: q }, origin: 'sensitivity' })));
  alone.forEach((q, i) => {
    const c = qs[i];
    if (!c) return;
    sensitivity.push({
      layer: '(all)',
      op: '',
      technique: q,
      setting: q,
      dropPt: c.metrics.dropPt,
      bytesSaved: baseline!.brotliBytes - c.metrics.brotliBytes,
    });
    single.set(`q:${q}`, { drop: c.metrics.dropPt, obj: objectiveOf(c.metrics, s.objective) });
  });
  // every other setting (the refinement visits the ones between), and at most half the evaluations;
  // measured in waves — the k-th setting of every layer and family still going — so an Evaluator
  // with several workers measures a wave at once
  const sensitivityEnd = Math.max(total + 1, Math.floor(s.maxEvaluations / 2));
  const tracks = layers.flatMap((layer) =>
    (['lowrank', 'cluster', 'prune'] as Family[]).map((family) => ({
      layer,
      family,
      settings: layer.settings.filter((x) => x.family === family).filter((_, i) => i % 2 === 0),
      stopped: false,
    })),
  );
  for (let k = 0; total < sensitivityEnd; k++) {
    const wave = tracks.filter((t) => !t.stopped && t.settings[k]).slice(0, sensitivityEnd - total);
    if (!wave.length) break;
    const measured = await measure(
      wave.map((t) => ({
        choice: { layers: { [t.layer.name]: t.settings[k]! }, quant: 'none' },
        origin: 'sensitivity',
      })),
    );
    wave.forEach((t, w) => {
      const c = measured[w];
      const st = t.settings[k]!;
      if (!c) {
        t.stopped = true;
        return;
      }
      sensitivity.push({
        layer: t.layer.name,
        op: t.layer.op,
        technique: t.family,
        setting: settingLabel(st),
        dropPt: c.metrics.dropPt,
        bytesSaved: baseline!.brotliBytes - c.metrics.brotliBytes,
      });
      single.set(`${t.layer.name}:${t.family}:${st.value}`, {
        drop: c.metrics.dropPt,
        obj: objectiveOf(c.metrics, s.objective),
      });
      if (c.metrics.dropPt > 3 * Math.max(s.maxDropPt, 0.1)) t.stopped = true;
    });
  }

  // 3. Lagrangian allocation per quantization step
  const proposals: { choice: Choice; origin: string }[] = [];
  for (const q of quantChoices(s.objective, s.calibration)) {
    const qs = q === 'none' ? { drop: 0, obj: obj0 } : single.get(`q:${q}`);
    if (!qs) continue;
    const scale = qs.obj / obj0; // a layer's saving shrinks with the quantized size
    for (const lambda of [1, 2, 5, 10, 20, 40, 80, 160, 320, 1000]) {
      const layersChoice: Choice['layers'] = {};
      for (const layer of layers) {
        let best = { score: 0, pick: undefined as { family: Family; value: number } | undefined };
        for (const st of layer.settings) {
          const m = single.get(`${layer.name}:${st.family}:${st.value}`);
          if (!m || !compatible(layer, st.family, q)) continue;
          const saved = ((obj0 - m.obj) / obj0) * scale; // fraction of the objective saved
          // λ weighs a point of accuracy against the fraction of the objective saved
          const score = -saved + (lambda * Math.max(0, m.drop)) / 100;
          if (score < best.score) best = { score, pick: st };
        }
        layersChoice[layer.name] = best.pick;
      }
      proposals.push({ choice: { layers: layersChoice, quant: q }, origin: `allocation λ=${lambda}` });
    }
  }
  await measure(proposals);

  // 4. refinement: one-layer moves from the best feasible candidate and from its neighbours on the
  //    front (the next cheaper infeasible point, the next costlier feasible one), until a round adds
  //    nothing to the front or the budget ends
  const cost = (c: Candidate) => objectiveOf(c.metrics, s.objective);
  const bestFeasible = () =>
    [...seen.values()].filter((c) => c.feasible).sort((a, b) => cost(a) - cost(b))[0];
  const frontIds = () =>
    new Set(paretoFront([...seen.values()], cost, (c) => c.metrics.accuracy).map((c) => c.id));
  const expanded = new Set<string>();
  for (let round = 0; round < 30 && !out(); round++) {
    const front = paretoFront([...seen.values()], cost, (c) => c.metrics.accuracy);
    const best = bestFeasible();
    const at = best ? front.findIndex((c) => c.id === best.id) : -1;
    // the best feasible point first, then the front by distance from it
    const seeds = [
      best,
      ...[...front].sort((a, b) => Math.abs(front.indexOf(a) - at) - Math.abs(front.indexOf(b) - at)),
    ]
      .filter((c, i, all): c is Candidate => c !== undefined && !expanded.has(c.id) && all.indexOf(c) === i)
      .slice(0, 3);
    if (!seeds.length) break;
    const before = frontIds();
    for (const seed of seeds) {
      expanded.add(seed.id);
      await measure(movesFrom(seed, choices.get(seed.id)!));
    }
    const after = frontIds();
    const grew = [...after].some((id) => !before.has(id)) || bestFeasible()?.id !== best?.id;
    if (!grew && front.every((c) => expanded.has(c.id))) break;
  }
  task?.done();

  // 5. front and choice
  const candidates = [...seen.values()];
  const front = paretoFront(
    candidates,
    (c) => objectiveOf(c.metrics, s.objective),
    (c) => c.metrics.accuracy,
  );
  for (const c of front) c.pareto = true;
  let chosen = bestFeasible();
  let met = true;
  if (!chosen) {
    met = false;
    // the closest: the least total overshoot, each constraint relative to its limit
    const over = (c: Candidate) =>
      Math.max(0, c.metrics.dropPt - s.maxDropPt) / Math.max(s.maxDropPt, 0.1) +
      Math.max(0, c.metrics.bytes / (s.budget?.flash ?? Number.POSITIVE_INFINITY) - 1) +
      Math.max(0, c.metrics.peakActivationBytes / (s.budget?.ram ?? Number.POSITIVE_INFINITY) - 1);
    chosen = [...candidates].sort((a, b) => over(a) - over(b) || cost(a) - cost(b))[0]!;
    warnings.push(
      `no candidate met the budget (--max-drop ${s.maxDropPt} pt${s.budget ? ', --budget' : ''}); the closest is ${chosen.label} (-${chosen.metrics.dropPt.toFixed(2)} pt, ${chosen.metrics.bytes} bytes): the measured front is in the report`,
    );
  }
  return {
    baseline,
    candidates,
    front: [...front].sort(
      (a, b) => objectiveOf(a.metrics, s.objective) - objectiveOf(b.metrics, s.objective),
    ),
    chosen: { ...chosen, met },
    chosenChoice: choices.get(chosen.id)!,
    sensitivity,
    evaluations: { total, cached, seconds: Math.round((performance.now() - t0) / 100) / 10 },
    warnings,
  };
}
