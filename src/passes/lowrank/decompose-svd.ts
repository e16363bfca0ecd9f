// decompose-svd: low-rank factorization of MatMul/Gemm weights and Conv kernels (docs/ORT.md §8.7).
//  1. layers (layers.ts): MatMul/Gemm weights as W [K, N]; 2-D Conv with group 1 by --conv: 1×1 as a
//     matrix (two 1×1 convs), k×k by Tucker-2 (1×1 → k×k core → 1×1, the default) or spatial SVD
//     (kh×1 → 1×kw); depthwise/grouped convs are left alone and said so.
//  2. factors (ranks.ts, kernels/lowrank): plain SVD (kernels/svd: exact when min(K, N) <= 256, else
//     randomized with scikit-learn's defaults, products on ONNX Runtime) and HOSVD + `hooi` HOOI sweeps;
//     --method whitened (needs calibration): SVD-LLM whitening by the layer input's Gram (statistics.ts),
//     data-aware Tucker-2 (whitened input side, output-covariance PCA with the mean kept in the bias).
//  3. ranks: --energy, else --rank-ratio, per layer; or a budget --target-macs / --target-params shared
//     across layers greedily by error per MAC (param) saved, the error being the sensitivity of the
//     model's outputs on calibration data when there is some (ranks.ts).
//  4. a layer is factorized only where its ranks save both MACs and parameters.
//  5. the graph edits (decompose-conv.ts): the original node ends the chain, so its output is unchanged;
//     every half is a plain MatMul/Gemm/Conv weight, so quantization and pruning apply to it afterwards.
// Stats: layers (and per kind), params and MACs of the factorized layers before/after, weightSqnrDb.

import { z } from 'zod';
import { analyzeCost } from '../../analysis/cost.js';
import { inferShapes } from '../../analysis/shape-inference.js';
import { EdgefitError } from '../../errors.js';
import { FULL_MAX, modeProduct } from '../../kernels/lowrank.js';
import type { GemmFn, MatMul } from '../../kernels/matmul.js';
import { loopGemm } from '../../kernels/svd.js';
import { definePass, type PassContext } from '../pass.js';
import { nothingReason, weightCensus } from '../reasons.js';
import { choice, samplesOption } from '../util.js';
import { type Factors, rewriteLayer } from './decompose-conv.js';
import { costAt, findLayers, type Layer, type Skipped, saves } from './layers.js';
import {
  allocate,
  type Factorizer,
  factorizerFor,
  fixedRanks,
  type Level,
  levelsOf,
  measureSensitivity,
  RATIOS,
} from './ranks.js';
import { collectStatistics, type LayerStatistics } from './statistics.js';

const fraction = (what: string) => z.number().gt(0).max(1).optional().describe(what);

const options = z
  .object({
    rankRatio: z
      .number()
      .gt(0)
      .max(1)
      .default(0.5)
      .describe(
        'kept rank as a fraction of the largest: min(K, N) of a MatMul/Gemm weight, min(Cin·kh, Cout·kw) for spatial SVD, Cin and Cout for Tucker-2; in (0, 1]',
      ),
    energy: fraction(
      'instead of the rank ratio: the smallest rank keeping this fraction of the squared singular values (of the whitened weight with method whitened; per mode for Tucker-2), in (0, 1]',
    ),
    targetMacs: fraction(
      "instead: keep this fraction of the model's MACs, in (0, 1]; ranks shared across layers greedily by error per MAC saved (the sensitivity of the outputs on calibration data when given)",
    ),
    targetParams: fraction(
      "instead: keep this fraction of the model's parameters, in (0, 1]; ranks shared greedily by error per parameter saved",
    ),
    method: choice(
      ['svd', 'whitened'],
      'svd',
      "svd: plain truncated SVD / HOSVD; whitened: activation-aware, the error on the layer's calibration outputs is minimised (SVD-LLM whitening; data-aware Tucker-2); needs calibration data",
    ),
    conv: choice(
      ['tucker', 'spatial', 'none'],
      'tucker',
      'k×k Conv (group 1): tucker (1×1 → k×k core → 1×1), spatial (k×1 → 1×k) or none; a 1×1 Conv becomes two 1×1 convs unless none',
    ),
    hooi: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(2)
      .describe('HOOI sweeps after HOSVD for plain Tucker-2, 0 to 20'),
    samples: samplesOption(256, 'calibration samples for whitening statistics and sensitivity, 1 to 100000'),
    damp: z
      .number()
      .min(0)
      .max(1)
      .default(0.01)
      .describe('whitening: added to the Gram diagonal as a fraction of its mean, 0 to 1'),
    minElements: z.number().int().min(0).default(4096).describe('leave weights with fewer elements alone'),
    seed: z.number().int().default(0).describe('seed of the randomized SVD'),
    solver: choice(
      ['auto', 'exact', 'randomized'],
      'auto',
      'plain SVD: auto: exact when min(K, N) <= 256, else randomized (scikit-learn defaults)',
    ),
  })
  .strict();

type Options = z.infer<typeof options>;

interface Choice {
  layer: Layer;
  factors: Factors;
}

const ranksOf = (l: Layer, f: Factors) =>
  'core' in f ? [f.first.length / l.conv!.cin, f.last.length / l.conv!.cout] : [f.w1.length / l.k];

/** ‖W‖² and ‖W − Ŵ‖² of a factorized layer (its matrix or kernel). */
async function weightError(l: Layer, f: Factors, gemm: GemmFn): Promise<[number, number]> {
  let approx: ArrayLike<number>;
  if ('core' in f) {
    const c = l.conv!;
    const s = c.kh * c.kw;
    const r1 = f.first.length / c.cin;
    const r2 = f.last.length / c.cout;
    const lastT = new Float64Array(r2 * c.cout);
    for (let o = 0; o < c.cout; o++) for (let t = 0; t < r2; t++) lastT[t * c.cout + o] = f.last[o * r2 + t]!;
    const y = modeProduct(Float64Array.from(f.core), r2, r1, s, 0, lastT, c.cout);
    approx = modeProduct(y, c.cout, r1, s, 1, Float64Array.from(f.first), c.cin);
  } else {
    const r = f.w1.length / l.k;
    approx = await gemm(f.w1, [l.k, r], f.w2, [r, l.n]);
  }
  let energy = 0;
  let error = 0;
  for (let i = 0; i < l.w.length; i++) {
    energy += l.w[i]! ** 2;
    error += (l.w[i]! - approx[i]!) ** 2;
  }
  return [energy, error];
}

/** Ranks by --energy or --rank-ratio, only where they save (rules 3–4). */
async function fixedChoices(
  layers: Layer[],
  o: Options,
  factorizer: (l: Layer, want: number | { energy: number }) => Promise<Factorizer>,
): Promise<{ chosen: Choice[]; notSaving: Layer[] }> {
  const chosen: Choice[] = [];
  const notSaving: Layer[] = [];
  for (const l of layers) {
    const byRatio = fixedRanks(l, undefined, undefined, o.rankRatio);
    if (o.energy === undefined && !saves(l, byRatio)) {
      notSaving.push(l);
      continue;
    }
    const f = await factorizer(l, o.energy === undefined ? byRatio[0]! : { energy: o.energy });
    const ranks = fixedRanks(l, f, o.energy, o.rankRatio);
    if (!saves(l, ranks)) notSaving.push(l);
    else chosen.push({ layer: l, factors: f.factors(ranks) });
  }
  return { chosen, notSaving };
}

/** Ranks from a MACs or params budget (rule 3). */
async function budgetChoices(
  model: Parameters<typeof analyzeCost>[0],
  shapes: ReturnType<typeof inferShapes>,
  layers: Layer[],
  o: Options,
  ctx: PassContext,
  factorizer: (l: Layer, want: number | { energy: number }) => Promise<Factorizer>,
): Promise<Choice[]> {
  const metric = o.targetParams !== undefined ? 'params' : 'macs';
  const target = (o.targetParams ?? o.targetMacs)!;
  const candidates: { layer: Layer; factorizer: Factorizer; levels: Level[] }[] = [];
  for (const l of layers) {
    // the whole spectrum; randomized up to the largest level's rank beyond FULL_MAX
    const big = l.maxRanks.length === 1 && l.maxRanks[0]! > FULL_MAX;
    const f = await factorizer(l, big ? Math.ceil(Math.max(...RATIOS) * l.maxRanks[0]!) : { energy: 1 });
    candidates.push({ layer: l, factorizer: f, levels: levelsOf(l, f) });
  }
  if (ctx.calibration && ctx.collect) await measureSensitivity(model, candidates, ctx, o.samples);
  const cost = analyzeCost(model, shapes);
  const modelTotal = cost[metric];
  const base = (l: Layer) => l[metric];
  const fixed = modelTotal - layers.reduce((s, l) => s + base(l), 0);
  const alloc = allocate(
    candidates.map((c) => ({ base: base(c.layer), levels: c.levels })),
    (lv) => lv[metric],
    fixed,
    target * modelTotal,
  );
  if (!alloc.reached)
    ctx.log.warn(
      `decompose-svd: --target-${metric} ${target} is out of reach: the lowest ranks that still save leave ${(alloc.total / modelTotal).toFixed(3)} of the model's ${metric === 'macs' ? 'MACs' : 'parameters'} (ranks that would not save are not used)`,
    );
  const chosen: Choice[] = [];
  candidates.forEach((c, i) => {
    const j = alloc.choice[i]!;
    if (j < 0) return;
    const lv = c.levels[j]!;
    chosen.push({ layer: c.layer, factors: lv.factors ?? c.factorizer.factors(lv.ranks) });
  });
  return chosen;
}

function nothingChanged(
  model: Parameters<typeof weightCensus>[0],
  o: Options,
  ctx: PassContext,
  skipped: Skipped,
  notSaving: Layer[],
  candidates: number,
): string {
  const budget =
    o.targetMacs !== undefined ? `--target-macs ${o.targetMacs}` : `--target-params ${o.targetParams}`;
  const within = `the model is already within ${budget}`;
  const inBudget = (o.targetMacs ?? o.targetParams) !== undefined && candidates > 0;
  const linear = notSaving.filter((l) => l.kind === 'linear').length;
  const conv = notSaving.length - linear;
  const convWhy =
    o.conv === 'none'
      ? 'left alone with --conv none (use --conv tucker or spatial)'
      : [
          skipped.grouped ? `${skipped.grouped} grouped or depthwise (only group 1 is factorized)` : '',
          skipped.otherConv ? `${skipped.otherConv} not 2-D (only 2-D Conv is factorized)` : '',
          conv
            ? `${conv} would not save MACs and params at these ranks (lower --rank-ratio or --energy)`
            : '',
          inBudget ? within : '',
        ]
          .filter(Boolean)
          .join(', ') || 'ConvTranspose is not factorized';
  return nothingReason('decompose-svd', weightCensus(model, o.minElements, ctx.selects), o.minElements, {
    linear: inBudget
      ? within
      : linear
        ? 'the ranks would not save parameters (r·(K+N) >= K·N): lower --rank-ratio or --energy'
        : 'not factorized (Gemm with transA, or a non-float input)',
    conv: convWhy,
    recurrent: 'not factorized',
  });
}

export const decomposeSvd = definePass({
  id: 'decompose-svd',
  summary:
    'low-rank factorization: MatMul/Gemm weights by (whitened) SVD, Conv kernels by Tucker-2 or spatial SVD',
  lossless: false,
  encodings: 'keep',
  options,
  searchSpace: {
    rankRatio: [0.25, 0.5, 0.75],
    energy: [0.8, 0.9, 0.95],
    targetMacs: [0.4, 0.6, 0.8],
    targetParams: [0.25, 0.5, 0.75],
    method: ['svd', 'whitened'],
    conv: ['tucker', 'spatial'],
    hooi: [0, 2],
    samples: [128, 256, 512],
    damp: [0.001, 0.01, 0.1],
    solver: ['auto', 'exact'],
  },
  async apply(model, o, ctx) {
    if ([o.energy, o.targetMacs, o.targetParams].filter((v) => v !== undefined).length > 1)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        'decompose: --energy, --target-macs and --target-params each choose the ranks',
        'give one of them',
      );
    if (o.method === 'whitened' && !(ctx.calibration && ctx.collect && ctx.matmul))
      throw new EdgefitError(
        'BAD_ARGUMENT',
        'decompose --method whitened needs calibration data',
        'pass --calib FILE, or use --method svd',
      );
    const shapes = inferShapes(model);
    const { layers, skipped } = findLayers(model, o.minElements, o.conv, ctx.selects, shapes);
    const mm: MatMul | undefined = layers.length ? ctx.matmul?.() : undefined;
    const gemm: GemmFn = mm ? mm.gemm.bind(mm) : async (...a) => loopGemm(...a);
    let chosen: Choice[] = [];
    let notSaving: Layer[] = [];
    try {
      let stats = new Map<Layer, LayerStatistics>();
      if (o.method === 'whitened' && mm) {
        stats = await collectStatistics(model, layers, ctx, mm, o.samples);
        const plain = layers.filter((l) => !stats.has(l)).length;
        if (plain)
          ctx.log.info(`decompose-svd: ${plain} layer(s) without calibration statistics use plain SVD`);
      }
      const fo = { hooi: o.hooi, damp: o.damp, seed: o.seed, solver: o.solver, gemm: mm ? gemm : undefined };
      const factorizer = (l: Layer, want: number | { energy: number }) =>
        factorizerFor(l, stats.get(l), fo, want);
      if (o.targetMacs === undefined && o.targetParams === undefined)
        ({ chosen, notSaving } = await fixedChoices(layers, o, factorizer));
      else chosen = await budgetChoices(model, shapes, layers, o, ctx, factorizer);
      const result = {
        layers: 0,
        linear: 0,
        pointwise: 0,
        spatial: 0,
        tucker: 0,
        paramsBefore: 0,
        paramsAfter: 0,
        macsBefore: 0,
        macsAfter: 0,
      };
      let energy = 0;
      let error = 0;
      for (const c of chosen) {
        const [e, err] = await weightError(c.layer, c.factors, gemm);
        energy += e;
        error += err;
        rewriteLayer(c.layer, c.factors);
        result.layers++;
        result[c.layer.kind]++;
        const cost = costAt(c.layer, ranksOf(c.layer, c.factors));
        result.paramsBefore += c.layer.params;
        result.macsBefore += c.layer.macs;
        result.paramsAfter += cost.params;
        result.macsAfter += cost.macs;
      }
      if (skipped.grouped && chosen.length)
        ctx.log.info(
          `decompose-svd: ${skipped.grouped} grouped or depthwise Conv(s) left alone (group 1 only)`,
        );
      if (!chosen.length) ctx.log.warn(nothingChanged(model, o, ctx, skipped, notSaving, layers.length));
      return {
        changed: chosen.length > 0,
        stats: { ...result, weightSqnrDb: error > 0 ? 10 * Math.log10(energy / error) : 0 },
      };
    } finally {
      await mm?.release();
    }
  },
});
