// decompose-svd with data and budgets, on real fixtures and constructed cases:
//  - whitened SVD (activation-aware) against plain SVD at the same ranks on lenet-300-100: the
//    output error on the calibration images and on held-out ones; the kernel's two routes (N <= K
//    without Cholesky, N > K with it) reach the optimum ‖X(W − Ŵ)‖² = the dropped whitened spectrum
//  - data-aware Tucker-2 against plain HOSVD/HOOI at the same ranks on cnn-residual
//  - --energy picks the right rank on a constructed spectrum
//  - --target-macs on cnn-residual: MACs <= 0.6× (analysis/cost), ORT runs it, agreement printed
//  - bad options: one-line errors
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyzeCost } from '../../src/analysis/cost.js';
import { bindArrays, type Dataset } from '../../src/data/dataset.js';
import { decodeNpz } from '../../src/data/npz.js';
import { EdgefitError } from '../../src/errors.js';
import { decompose } from '../../src/index.js';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model } from '../../src/ir/graph.js';
import { encodeModel } from '../../src/ir/serialize.js';
import { verifyModel } from '../../src/ir/verify.js';
import { energyRank, plainLowRank, whitenedLowRank } from '../../src/kernels/lowrank.js';
import { Rng } from '../../src/kernels/random.js';
import { loadModel } from '../../src/node/model-io.js';
import { decomposeSvd } from '../../src/passes/lowrank/decompose-svd.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { GraphBuilder, newModel, Tensor } from '../helpers/models.js';
import { passContext } from './context.js';

const CALIB = 'test/fixtures/models/fmnist-calib.npz';
const LENET = 'test/fixtures/models/lenet-300-100.onnx';
const RESNET = 'test/fixtures/models/cnn-residual.onnx';
const ready = existsSync(CALIB) && existsSync(LENET) && existsSync(RESNET);

function data(model: Model): Dataset {
  return bindArrays(model, decodeNpz(new Uint8Array(readFileSync(CALIB)), CALIB), CALIB);
}

/** samples [from, from + n) of a dataset */
const part = (d: Dataset, from: number, n: number): Dataset => ({
  ...d,
  size: n,
  slice: (a, b) => d.slice(from + a, from + b),
});

/** logits of a model on a dataset, in one run */
async function logits(model: Model, d: Dataset): Promise<Float32Array> {
  const s = await nodeRuntime.createSession(encodeModel(model));
  try {
    const out = await s.run(d.slice(0, d.size));
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

function relError(ref: Float32Array, y: Float32Array): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < ref.length; i++) {
    e += (ref[i]! - y[i]!) ** 2;
    s += ref[i]! ** 2;
  }
  return e / s;
}

function agreement(ref: Float32Array, y: Float32Array, classes = 10): number {
  let same = 0;
  const n = ref.length / classes;
  const arg = (a: Float32Array, i: number) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (a[i * classes + c]! > a[i * classes + best]!) best = c;
    return best;
  };
  for (let i = 0; i < n; i++) if (arg(ref, i) === arg(y, i)) same++;
  return same / n;
}

async function decomposed(model: Model, options: Record<string, unknown>, calibration?: Dataset) {
  const m = cloneModel(model);
  const ctx = passContext(calibration);
  const r = await decomposeSvd.apply(m, decomposeSvd.options.parse(options), ctx);
  expect(verifyModel(m)).toEqual([]);
  return { m, r, warnings: ctx.warnings };
}

describe.skipIf(!ready)('activation-aware SVD on real fixtures', () => {
  it('lenet-300-100 at rank ratio 0.1: whitened has a much lower output error than plain', async () => {
    const model = loadModel(LENET);
    const all = data(model);
    const calib = part(all, 0, 256);
    const held = part(all, 256, 256);
    const plain = await decomposed(model, { rankRatio: 0.1, method: 'svd' });
    const white = await decomposed(model, { rankRatio: 0.1, method: 'whitened', samples: 256 }, calib);
    expect(white.r.stats.paramsAfter).toBe(plain.r.stats.paramsAfter); // the same ranks
    expect(white.r.stats.paramsAfter).toBe(30 * (784 + 300) + 10 * (300 + 100));
    const errs: Record<string, number[]> = {};
    for (const [name, d] of [
      ['calib', calib],
      ['held', held],
    ] as const) {
      const ref = await logits(model, d);
      errs[name] = [relError(ref, await logits(plain.m, d)), relError(ref, await logits(white.m, d))];
    }
    console.log('lenet logits rel. error [plain, whitened]:', errs);
    // numpy, same weights and data: plain 0.041, whitened 0.020
    expect(errs.calib![1]!).toBeLessThan(0.6 * errs.calib![0]!);
    expect(errs.held![1]!).toBeLessThan(0.7 * errs.held![0]!);
  });

  it('cnn-residual Tucker-2 at rank ratio 0.5: data-aware beats HOSVD+HOOI on the outputs', async () => {
    const model = loadModel(RESNET);
    const all = data(model);
    const calib = part(all, 0, 64);
    const held = part(all, 256, 128);
    const plain = await decomposed(model, { rankRatio: 0.5, method: 'svd' });
    const white = await decomposed(model, { rankRatio: 0.5, method: 'whitened', samples: 64 }, calib);
    expect(white.r.stats.tucker).toBeGreaterThan(3);
    expect(white.r.stats.macsAfter).toBe(plain.r.stats.macsAfter);
    const ref = await logits(model, held);
    const [p, w] = [await logits(plain.m, held), await logits(white.m, held)];
    const figures = {
      plain: [relError(ref, p), agreement(ref, p)],
      whitened: [relError(ref, w), agreement(ref, w)],
    };
    console.log('cnn-residual held-out [rel. error, agreement]:', figures);
    expect(figures.whitened[0]!).toBeLessThan(0.5 * figures.plain[0]!);
    expect(figures.whitened[1]!).toBeGreaterThanOrEqual(figures.plain[1]!);
  });

  it('--target-macs 0.6 on cnn-residual: <= 0.6× the MACs, ORT runs it, agrees with the original', async () => {
    const model = loadModel(RESNET);
    const held = part(data(model), 256, 128);
    const ref = await logits(model, held);
    const { m, r } = await decomposed(model, { targetMacs: 0.6 });
    const ratio = analyzeCost(m).macs / analyzeCost(model).macs;
    const y = await logits(m, held);
    console.log('cnn-residual --target-macs 0.6 (no data):', ratio, r.stats, agreement(ref, y));
    expect(ratio).toBeLessThanOrEqual(0.6);
    expect(ratio).toBeGreaterThan(0.5);
    expect(agreement(ref, y)).toBeGreaterThan(0.9);
  });
});

/** U diag(σ) Vᵀ [K, N] with orthonormal U, V from a seeded Gram-Schmidt */
function withSpectrum(k: number, n: number, sigma: number[]): Float64Array {
  const rng = new Rng(5);
  const ortho = (rows: number, cols: number) => {
    const q: Float64Array[] = [];
    for (let j = 0; j < cols; j++) {
      const v = Float64Array.from({ length: rows }, () => rng.normal());
      for (const p of q) {
        let d = 0;
        for (let i = 0; i < rows; i++) d += v[i]! * p[i]!;
        for (let i = 0; i < rows; i++) v[i]! -= d * p[i]!;
      }
      const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      q.push(v.map((x) => x / norm));
    }
    return q;
  };
  const u = ortho(k, sigma.length);
  const v = ortho(n, sigma.length);
  const w = new Float64Array(k * n);
  sigma.forEach((s, t) => {
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) w[i * n + j]! += s * u[t]![i]! * v[t]![j]!;
  });
  return w;
}

function matmulModel(w: Float64Array, k: number, n: number): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: ['batch', k] });
  b.output(b.op('MatMul', [x, b.weight('w', Tensor.fromFloat32('w', [k, n], Float32Array.from(w)))]));
  return m;
}

describe('rank selection', () => {
  // σ² = 100, 36, 9, 4, 1, 0.25, 0.09, 0.04 (150.38): cumulative fractions .665, .904, .964, .991, .9975, .9991, …
  const sigma = [10, 6, 3, 2, 1, 0.5, 0.3, 0.2];
  const total = sigma.reduce((s, x) => s + x * x, 0);
  it('energyRank and --energy pick the smallest rank keeping the fraction', async () => {
    const sq = sigma.map((s) => s * s);
    expect(energyRank(sq, total, 0.5)).toBe(1);
    expect(energyRank(sq, total, 0.9)).toBe(2);
    expect(energyRank(sq, total, 0.95)).toBe(3);
    expect(energyRank(sq, total, 0.99)).toBe(4);
    expect(energyRank(sq, total, 0.999)).toBe(6);
    expect(energyRank(sq, total, 1)).toBe(8);
    const w = withSpectrum(64, 48, sigma);
    for (const [f, r] of [
      [0.9, 2],
      [0.95, 3],
      [0.99, 4],
      [0.999, 6],
    ] as const) {
      const { m, r: res } = await decomposed(matmulModel(w, 64, 48), { energy: f, minElements: 0 });
      expect(res.stats.paramsAfter).toBe(r * (64 + 48));
      expect(m.graph.nodes[0]!.inputs[1]!.initializer!.dims).toEqual([64, r]);
      // the kept fraction of ‖W‖² is the weight SQNR: 10·log10(total / dropped)
      const dropped = sigma.slice(r).reduce((s, x) => s + x * x, 0);
      expect(res.stats.weightSqnrDb).toBeCloseTo(10 * Math.log10(total / dropped), 2);
    }
  });

  it('whitened SVD reaches the optimum on both routes: ‖X(W − Ŵ)‖² = the dropped whitened spectrum', async () => {
    const rng = new Rng(9);
    for (const [k, n] of [
      [40, 24],
      [24, 40],
    ] as const) {
      const rows = 200;
      // correlated inputs: x = z·A
      const a = Float64Array.from({ length: k * k }, () => rng.normal() / Math.sqrt(k));
      const x = new Float64Array(rows * k);
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < k; j++) {
          let s = 0;
          for (let t = 0; t < k; t++) s += rng.normal() * a[t * k + j]! * (t < 8 ? 4 : 1);
          x[i * k + j] = s;
        }
      const gram = new Float64Array(k * k);
      for (let i = 0; i < rows; i++)
        for (let p = 0; p < k; p++)
          for (let q = 0; q < k; q++) gram[p * k + q]! += (x[i * k + p]! * x[i * k + q]!) / rows;
      const w = Float64Array.from({ length: k * n }, () => rng.normal());
      const outErr = (f: { w1: Float32Array; w2: Float32Array }, r: number) => {
        let e = 0;
        for (let i = 0; i < rows; i++)
          for (let c = 0; c < n; c++) {
            let y = 0;
            let yh = 0;
            for (let p = 0; p < k; p++) {
              y += x[i * k + p]! * w[p * n + c]!;
              let wh = 0;
              for (let t = 0; t < r; t++) wh += f.w1[p * r + t]! * f.w2[t * n + c]!;
              yh += x[i * k + p]! * wh;
            }
            e += (y - yh) ** 2;
          }
        return e / rows;
      };
      const r = 6;
      const white = await whitenedLowRank(w, k, n, gram, { damp: 0 });
      const plain = await plainLowRank(w, k, n, r);
      const dropped = white.spectrum.slice(r).reduce((s, v) => s + v, 0);
      const we = outErr(white.factors(r), r);
      expect(we / dropped).toBeCloseTo(1, 3);
      expect(we).toBeLessThan(0.95 * outErr(plain.factors(r), r)); // 0.89× and 0.81× here
    }
  });
});

describe('budgets that change nothing or cannot be met say so', () => {
  it('--target-macs 1: already within; --target-macs 0.001: out of reach, the cheapest levels', async () => {
    const model = matmulModel(withSpectrum(64, 48, [3, 2, 1]), 64, 48);
    const within = await decomposed(model, { targetMacs: 1, minElements: 0 });
    expect(within.r.changed).toBe(false);
    expect(within.warnings).toEqual([
      'decompose-svd changed 0 of 1 weight tensors: 1 MatMul/Gemm weight(s): the model is already within --target-macs 1',
    ]);
    const far = await decomposed(model, { targetMacs: 0.001, minElements: 0 });
    expect(far.r.stats.paramsAfter).toBe(1 * (64 + 48)); // rank 1, the cheapest level
    expect(far.warnings).toHaveLength(1);
    expect(far.warnings[0]).toMatch(
      /^decompose-svd: --target-macs 0.001 is out of reach: .* leave 0\.036 of the model's MACs/,
    );
  });
});

describe('bad options are one line', () => {
  it('rank ratio outside (0, 1], energy and targets outside (0, 1] are refused by the schema', () => {
    for (const bad of [
      { rankRatio: 0 },
      { rankRatio: 1.01 },
      { energy: 0 },
      { targetMacs: 1.5 },
      { targetParams: -1 },
    ])
      expect(decomposeSvd.options.safeParse(bad).success).toBe(false);
    expect(decomposeSvd.options.safeParse({ rankRatio: 1, energy: 1, targetMacs: 1 }).success).toBe(true);
  });

  it('--method whitened without calibration, two rank rules: BAD_ARGUMENT, one line', async () => {
    const model = matmulModel(withSpectrum(64, 48, [3, 2, 1]), 64, 48);
    const fail = async (options: Record<string, unknown>) => {
      try {
        await decomposeSvd.apply(cloneModel(model), decomposeSvd.options.parse(options), passContext());
      } catch (e) {
        expect(e).toBeInstanceOf(EdgefitError);
        expect((e as EdgefitError).code).toBe('BAD_ARGUMENT');
        expect((e as Error).message).not.toContain('\n');
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(await fail({ method: 'whitened' })).toBe(
      'decompose --method whitened needs calibration data (pass --calib FILE, or use --method svd)',
    );
    expect(await fail({ energy: 0.9, targetMacs: 0.5 })).toMatch(/each choose the ranks/);
    await expect(
      decompose(encodeModel(model), { rankRatio: 0.5, method: 'whitened' }, { runtime: nodeRuntime }),
    ).rejects.toThrow(/^--method whitened needs calibration data \(pass --calib FILE/);
    await expect(decompose(encodeModel(model), {}, { runtime: nodeRuntime })).rejects.toThrow(
      /decompose needs the ranks: --rank-ratio, --energy, --target-macs or --target-params/,
    );
  });
});
