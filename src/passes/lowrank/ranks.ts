// Ranks for decompose-svd: how each layer is factorized, which ranks it gets, and for a budget how the
// ranks are shared across layers.
//  1. factorizer: plain SVD / HOSVD+HOOI, or with calibration statistics the whitened SVD / data-aware
//     Tucker-2 (kernels/lowrank); its spectra are those the energy rule reads (whitened: the whitened ones).
//  2. a fixed rule: --energy f keeps the smallest rank holding f of the squared singular values (per mode
//     for Tucker-2), else --rank-ratio ρ gives round(ρ · max rank) (per mode), at least 1.
//  3. a budget (--target-macs / --target-params t, a fraction of the whole model's MACs or params):
//     every layer gets candidate levels — ranks from the ratios RATIOS and the energies ENERGIES, kept
//     only where they save both MACs and params — each with an error: without calibration the square
//     of the relative weight error ‖W − Ŵ‖²/‖W‖² (squared, so that the cut is spread: on vgg-cnn and
//     cnn-residual at 0.6× MACs it kept 0.2–0.6 pt more top-1 than the plain relative error, which
//     piles the cut onto the two largest convs); with calibration the sensitivity, the relative
//     squared error of the model's outputs on the calibration samples with only that layer factorized
//     at that level (ORT runs every variant; layers inside subgraphs keep the weight error). Greedy allocation: from every layer unfactorized, repeatedly take the move (a
//     layer to a cheaper level) with the least error added per unit of cost saved, until the model
//     fits t; then, while the budget allows, undo the moves that buy the most error back per unit of cost.
//     The errors are assumed to add up across layers.

import { cloneModel } from '../../ir/clone.js';
import type { Model } from '../../ir/graph.js';
import {
  dataTucker2,
  energyRank,
  type LowRank,
  plainLowRank,
  plainTucker2,
  type Tucker2,
  whitenedLowRank,
} from '../../kernels/lowrank.js';
import type { GemmFn } from '../../kernels/matmul.js';
import { DataType } from '../../onnx/dtype.js';
import type { HostTensor } from '../../runtime/types.js';
import type { PassContext } from '../pass.js';
import { asFloat32 } from '../util.js';
import { type Factors, rewriteLayer } from './decompose-conv.js';
import { costAt, type Layer, saves } from './layers.js';
import type { LayerStatistics } from './statistics.js';

export const RATIOS = [1 / 32, 1 / 16, 1 / 8, 3 / 16, 1 / 4, 5 / 16, 3 / 8, 1 / 2, 5 / 8, 3 / 4];
export const ENERGIES = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98];

export interface Factorizer {
  spectra: Float64Array[];
  totals: number[];
  factors(ranks: number[]): Factors;
  /** relative error at those ranks without data (rule 3) */
  error(ranks: number[]): number;
}

export interface FactorOptions {
  hooi: number;
  damp: number;
  seed: number;
  solver: 'auto' | 'exact' | 'randomized';
  gemm?: GemmFn | undefined;
}

function matrixFactorizer(m: LowRank): Factorizer {
  return {
    spectra: [m.spectrum],
    totals: [m.total],
    factors: ([r]) => m.factors(r!),
    error([r]) {
      let kept = 0;
      for (let j = 0; j < Math.min(r!, m.spectrum.length); j++) kept += m.spectrum[j]!;
      return m.total > 0 ? Math.max(0, 1 - kept / m.total) : 0;
    },
  };
}

function tuckerFactorizer(t: Tucker2, w: Float64Array, data: boolean): Factorizer {
  let norm = 0;
  for (const x of w) norm += x * x;
  const kept = (d: number, r: number) => {
    let s = 0;
    for (let j = 0; j < Math.min(r, t.spectra[d]!.length); j++) s += t.spectra[d]![j]!;
    return t.totals[d]! > 0 ? s / t.totals[d]! : 1;
  };
  return {
    spectra: t.spectra,
    totals: t.totals,
    factors: ([r1, r2]) => t.factors(r1!, r2!),
    error([r1, r2]) {
      if (data) return Math.max(0, 1 - kept(0, r1!) * kept(1, r2!));
      // orthonormal factors: ‖W − Ŵ‖² = ‖W‖² − ‖core‖²
      let c = 0;
      for (const x of t.factors(r1!, r2!).core) c += x * x;
      return norm > 0 ? Math.max(0, 1 - c / norm) : 0;
    },
  };
}

/** The factorizer of a layer (rule 1); `want` how far a plain SVD must compute its spectrum. */
export async function factorizerFor(
  l: Layer,
  stats: LayerStatistics | undefined,
  o: FactorOptions,
  want: number | { energy: number },
): Promise<Factorizer> {
  if (l.kind === 'tucker') {
    const c = l.conv!;
    const s = c.kh * c.kw;
    if (stats && 'inGram' in stats)
      return tuckerFactorizer(
        await dataTucker2(l.w, c.cout, c.cin, s, stats, { damp: o.damp, gemm: o.gemm }),
        l.w,
        true,
      );
    return tuckerFactorizer(plainTucker2(l.w, c.cout, c.cin, s, o.hooi), l.w, false);
  }
  if (stats && 'gram' in stats)
    return matrixFactorizer(
      await whitenedLowRank(l.w, l.k, l.n, stats.gram, { damp: o.damp, gemm: o.gemm, mean: stats.mean }),
    );
  return matrixFactorizer(
    await plainLowRank(l.w, l.k, l.n, want, { seed: o.seed, method: o.solver, gemm: o.gemm }),
  );
}

/** Ranks by energy or by ratio (rule 2). */
export function fixedRanks(l: Layer, f: Factorizer | undefined, energy: number | undefined, ratio: number) {
  if (energy !== undefined && f)
    return l.maxRanks.map((m, d) => Math.min(m, energyRank(f.spectra[d]!, f.totals[d]!, energy)));
  return l.maxRanks.map((m) => Math.max(1, Math.round(ratio * m)));
}

export interface Level {
  ranks: number[];
  macs: number;
  params: number;
  error: number;
  factors?: Factors;
}

/** Candidate levels of a layer that save MACs and params (rule 3), cheapest first. */
export function levelsOf(l: Layer, f: Factorizer): Level[] {
  const seen = new Set<string>();
  const out: Level[] = [];
  const tryRanks = (ranks: number[]) => {
    const key = ranks.join(',');
    if (seen.has(key) || !saves(l, ranks)) return;
    seen.add(key);
    out.push({ ranks, ...costAt(l, ranks), error: f.error(ranks) ** 2 });
  };
  for (const r of RATIOS) tryRanks(fixedRanks(l, undefined, undefined, r));
  for (const e of ENERGIES) tryRanks(fixedRanks(l, f, e, 1));
  return out.sort((a, b) => a.macs - b.macs || a.params - b.params);
}

/** The relative squared error of `variant`'s outputs against `reference` (collected batches). */
async function outputError(
  variant: Model,
  reference: Map<number, Float32Array[]>,
  ctx: PassContext,
  samples: number,
): Promise<number> {
  let err = 0;
  let energy = 0;
  const names = variant.graph.outputs.map((v) => v.name);
  await ctx.collect!(
    variant,
    names,
    (values, start) => {
      const ref = reference.get(start);
      if (!ref) return;
      names.forEach((n, i) => {
        const t = values[n];
        const r = ref[i];
        if (!t || !r || t.dtype !== DataType.FLOAT) return;
        const y = asFloat32(t);
        for (let j = 0; j < r.length; j++) {
          err += (y[j]! - r[j]!) ** 2;
          energy += r[j]! ** 2;
        }
      });
    },
    { limit: samples },
  );
  return energy > 0 ? err / energy : 0;
}

/** Measure every level's sensitivity on the calibration data (rule 3); main-graph layers only. */
export async function measureSensitivity(
  model: Model,
  candidates: { layer: Layer; factorizer: Factorizer; levels: Level[] }[],
  ctx: PassContext,
  samples: number,
): Promise<number> {
  const names = model.graph.outputs.map((v) => v.name);
  const reference = new Map<number, Float32Array[]>();
  await ctx.collect!(
    model,
    names,
    (values: Record<string, HostTensor>, start) => {
      reference.set(
        start,
        names.map((n) =>
          values[n]?.dtype === DataType.FLOAT ? Float32Array.from(asFloat32(values[n]!)) : new Float32Array(),
        ),
      );
    },
    { limit: samples },
  );
  const measured = candidates.filter((c) => c.layer.index !== undefined);
  const total = measured.reduce((s, c) => s + c.levels.length, 0);
  const task = ctx.progress?.start('decompose: sensitivity per layer and rank', total);
  let done = 0;
  try {
    for (const c of measured)
      for (const level of c.levels) {
        level.factors ??= c.factorizer.factors(level.ranks);
        const variant = cloneModel(model);
        rewriteLayer({ ...c.layer, node: variant.graph.nodes[c.layer.index!]! }, level.factors);
        level.error = await outputError(variant, reference, ctx, samples);
        task?.update(++done);
      }
  } finally {
    task?.done();
  }
  return total;
}

/**
 * Greedy allocation (rule 3): per layer the index of the chosen level (−1: left as it is), so that
 * fixed + Σ cost <= budget where reachable. `cost` reads a level's MACs or params; `base` a layer's own.
 */
export function allocate(
  layers: { base: number; levels: Level[] }[],
  cost: (l: Level) => number,
  fixed: number,
  budget: number,
): { choice: number[]; total: number; reached: boolean } {
  const choice = layers.map(() => -1);
  const costOf = (i: number, j: number) => (j < 0 ? layers[i]!.base : cost(layers[i]!.levels[j]!));
  const errOf = (i: number, j: number) => (j < 0 ? 0 : layers[i]!.levels[j]!.error);
  /** the move (layer i to level j) with the highest score; undefined scores are not moves */
  const bestMove = (score: (i: number, j: number) => number | undefined) => {
    let best: { i: number; j: number; score: number } | undefined;
    for (let i = 0; i < layers.length; i++)
      for (let j = -1; j < layers[i]!.levels.length; j++) {
        const v = j === choice[i] ? undefined : score(i, j);
        if (v !== undefined && (!best || v > best.score)) best = { i, j, score: v };
      }
    return best;
  };
  let total = fixed + layers.reduce((s, l) => s + l.base, 0);
  const take = (m: { i: number; j: number }) => {
    total += costOf(m.i, m.j) - costOf(m.i, choice[m.i]!);
    choice[m.i] = m.j;
  };
  while (total > budget) {
    // the least error added per unit of cost saved
    const m = bestMove((i, j) => {
      const saved = costOf(i, choice[i]!) - costOf(i, j);
      return saved > 0 ? -(errOf(i, j) - errOf(i, choice[i]!)) / saved : undefined;
    });
    if (!m) break;
    take(m);
  }
  const reached = total <= budget;
  // buy error back with what the budget leaves
  for (let m = bestMove(buyBack); reached && m; m = bestMove(buyBack)) take(m);
  function buyBack(i: number, j: number): number | undefined {
    const extra = costOf(i, j) - costOf(i, choice[i]!);
    const gain = errOf(i, choice[i]!) - errOf(i, j);
    if (gain <= 0 || total + extra > budget) return undefined;
    return extra <= 0 ? Number.POSITIVE_INFINITY : gain / extra;
  }
  return { choice, total, reached };
}
