// Conv factorization by decompose-svd, checked through ONNX Runtime: spatial SVD (kh×1 → 1×kw) and
// Tucker-2 (1×1 → core → 1×1) at full rank reproduce the conv (stride 2, asymmetric pads, dilations,
// auto_pad SAME, bias or none, 1×1 convs); at the true rank of an exactly low-rank kernel the pass
// picks that rank (--energy), saves MACs exactly as layers.ts computes them, and keeps the output;
// depthwise convs and --conv none are left alone with a reason.
import { describe, expect, it } from 'vitest';
import { analyzeCost } from '../../src/analysis/cost.js';
import { inferShapes } from '../../src/analysis/shape-inference.js';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model } from '../../src/ir/graph.js';
import { verifyModel } from '../../src/ir/verify.js';
import { rewriteLayer } from '../../src/passes/lowrank/decompose-conv.js';
import { decomposeSvd } from '../../src/passes/lowrank/decompose-svd.js';
import { costAt, findLayers } from '../../src/passes/lowrank/layers.js';
import { factorizerFor } from '../../src/passes/lowrank/ranks.js';
import { floatFeed, GraphBuilder, maxAbsDiff, newModel, randn, run, Tensor } from '../helpers/models.js';
import { passContext } from './context.js';

interface ConvCase {
  label: string;
  cin: number;
  cout: number;
  kernel: [number, number];
  hw: [number, number];
  attrs: Record<string, number[] | string>;
  bias: boolean;
}

const CASES: ConvCase[] = [
  {
    label: '3×3 pad 1, bias',
    cin: 6,
    cout: 10,
    kernel: [3, 3],
    hw: [9, 9],
    attrs: { pads: [1, 1, 1, 1] },
    bias: true,
  },
  {
    label: '3×5 stride 2, pads [1,0,2,1], dilations [1,2], no bias',
    cin: 5,
    cout: 7,
    kernel: [3, 5],
    hw: [12, 14],
    attrs: { strides: [2, 2], pads: [1, 0, 2, 1], dilations: [1, 2] },
    bias: false,
  },
  {
    label: '3×3 stride 2 auto_pad SAME_UPPER, bias',
    cin: 4,
    cout: 8,
    kernel: [3, 3],
    hw: [10, 7],
    attrs: { strides: [2, 2], auto_pad: 'SAME_UPPER' },
    bias: true,
  },
  {
    label: '1×1 stride 2, bias',
    cin: 12,
    cout: 9,
    kernel: [1, 1],
    hw: [8, 8],
    attrs: { strides: [2, 2] },
    bias: true,
  },
];

function convModel(c: ConvCase, w: Float32Array, seed = 1): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: [1, c.cin, ...c.hw] });
  const wv = b.weight('w', Tensor.fromFloat32('w', [c.cout, c.cin, ...c.kernel], w));
  const bias = c.bias
    ? b.weight('b', Tensor.fromFloat32('b', [c.cout], randn(c.cout, seed + 5, 0.5)))
    : undefined;
  b.output(b.op('Conv', [x, wv, bias], { kernel_shape: c.kernel, ...c.attrs }));
  return m;
}

const size = (c: ConvCase) => c.cout * c.cin * c.kernel[0] * c.kernel[1];

async function relDiff(a: Model, b: Model, c: ConvCase): Promise<number> {
  const feeds = { x: floatFeed([1, c.cin, ...c.hw], 3) };
  const [ya, yb] = [await run(a, feeds), await run(b, feeds)];
  const k = Object.keys(ya)[0]!;
  expect(yb[k]!.dims).toEqual(ya[k]!.dims);
  const ref = ya[k]!.data as Float32Array;
  return maxAbsDiff(ya[k]!, yb[k]!) / ref.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
}

/** Factorize the model's only conv at full rank, whatever it saves (the rewrite alone). */
async function fullRank(model: Model, conv: 'spatial' | 'tucker'): Promise<{ m: Model; ops: string[] }> {
  const m = cloneModel(model);
  const { layers } = findLayers(m, 0, conv, () => true, inferShapes(m));
  expect(layers).toHaveLength(1);
  const l = layers[0]!;
  const f = await factorizerFor(l, undefined, { hooi: 0, damp: 0, seed: 0, solver: 'exact' }, { energy: 1 });
  rewriteLayer(l, f.factors(l.maxRanks));
  expect(verifyModel(m)).toEqual([]);
  return { m, ops: m.graph.nodes.map((n) => n.opType) };
}

describe('conv factorization at full rank reproduces the conv (ORT)', () => {
  for (const c of CASES) {
    const model = convModel(c, randn(size(c), 2, 0.3));
    for (const conv of ['spatial', 'tucker'] as const)
      it(`${conv}: ${c.label}`, async () => {
        const { m, ops } = await fullRank(model, conv);
        const pointwise = c.kernel[0] === 1 && c.kernel[1] === 1;
        expect(ops).toEqual(
          pointwise ? ['Conv', 'Conv'] : conv === 'spatial' ? ['Conv', 'Conv'] : ['Conv', 'Conv', 'Conv'],
        );
        if (conv === 'spatial' && !pointwise) {
          const [v, h] = m.graph.nodes.map((n) => n.inputs[1]!.initializer!.dims);
          const r = Math.min(c.cin * c.kernel[0], c.cout * c.kernel[1]);
          expect(v).toEqual([r, c.cin, c.kernel[0], 1]);
          expect(h).toEqual([c.cout, r, 1, c.kernel[1]]);
        }
        expect(await relDiff(model, m, c)).toBeLessThan(2e-5);
      });
  }
});

/** W = core ×0 A ×1 B: Tucker ranks (r1, r2) exactly */
function tuckerKernel(cout: number, cin: number, s: number, r1: number, r2: number): Float32Array {
  const core = randn(r2 * r1 * s, 11);
  const a = randn(cout * r2, 12);
  const b = randn(cin * r1, 13);
  const w = new Float32Array(cout * cin * s);
  for (let o = 0; o < cout; o++)
    for (let c = 0; c < cin; c++)
      for (let p = 0; p < s; p++) {
        let acc = 0;
        for (let t = 0; t < r2; t++)
          for (let u = 0; u < r1; u++) acc += a[o * r2 + t]! * b[c * r1 + u]! * core[(t * r1 + u) * s + p]!;
        w[(o * cin + c) * s + p] = acc / 10;
      }
  return w;
}

/** W̃ [Cin·kh, Cout·kw] = Σ_t v_t h_tᵀ: spatial rank r exactly */
function separableKernel(cout: number, cin: number, kh: number, kw: number, r: number): Float32Array {
  const v = randn(r * cin * kh, 21);
  const h = randn(r * cout * kw, 22);
  const w = new Float32Array(cout * cin * kh * kw);
  for (let o = 0; o < cout; o++)
    for (let c = 0; c < cin; c++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) {
          let acc = 0;
          for (let t = 0; t < r; t++) acc += v[(t * cin + c) * kh + i]! * h[(t * cout + o) * kw + j]!;
          w[((o * cin + c) * kh + i) * kw + j] = acc / 4;
        }
  return w;
}

describe('decompose-svd on an exactly low-rank conv: the true rank, the MACs it computes, same outputs', () => {
  const c: ConvCase = {
    label: '3×3 stride 2 pad 1',
    cin: 24,
    cout: 32,
    kernel: [3, 3],
    hw: [16, 16],
    attrs: { strides: [2, 2], pads: [1, 1, 1, 1] },
    bias: true,
  };
  it('tucker: --energy picks ranks (6, 5); MACs and params as computed; ORT output unchanged', async () => {
    const model = convModel(c, tuckerKernel(c.cout, c.cin, 9, 6, 5));
    const m = cloneModel(model);
    const ctx = passContext();
    const r = await decomposeSvd.apply(
      m,
      decomposeSvd.options.parse({ energy: 0.999999, minElements: 0 }),
      ctx,
    );
    expect(r.stats).toMatchObject({ layers: 1, tucker: 1 });
    const w = m.graph.nodes.map((n) => n.inputs[1]!.initializer!.dims);
    expect(w).toEqual([
      [6, 24, 1, 1],
      [5, 6, 3, 3],
      [32, 5, 1, 1],
    ]);
    // 1×1 at 16×16, the core at 8×8 (stride 2), the last 1×1 at 8×8
    const macs = 6 * 16 * 16 * 24 + 5 * 8 * 8 * 6 * 9 + 32 * 8 * 8 * 5;
    expect(r.stats.macsAfter).toBe(macs);
    expect(r.stats.macsBefore).toBe(32 * 8 * 8 * 24 * 9);
    expect(analyzeCost(m).macs).toBe(macs);
    expect(r.stats.paramsAfter).toBe(6 * 24 + 5 * 6 * 9 + 32 * 5);
    expect(r.stats.weightSqnrDb).toBeGreaterThan(80);
    expect(await relDiff(model, m, c)).toBeLessThan(1e-5);
  });

  it('spatial: --energy picks rank 7; kh×1 at full width then 1×kw; ORT output unchanged', async () => {
    const model = convModel(c, separableKernel(c.cout, c.cin, 3, 3, 7));
    const m = cloneModel(model);
    const o = decomposeSvd.options.parse({ energy: 0.999999, conv: 'spatial', minElements: 0 });
    const r = await decomposeSvd.apply(m, o, passContext());
    expect(r.stats).toMatchObject({ layers: 1, spatial: 1 });
    const [first, second] = m.graph.nodes;
    expect(first!.inputs[1]!.initializer!.dims).toEqual([7, 24, 3, 1]);
    expect(second!.inputs[1]!.initializer!.dims).toEqual([32, 7, 1, 3]);
    const macs = 7 * 8 * 16 * 24 * 3 + 32 * 8 * 8 * 7 * 3;
    expect(r.stats.macsAfter).toBe(macs);
    expect(analyzeCost(m).macs).toBe(macs);
    expect(await relDiff(model, m, c)).toBeLessThan(1e-5);
  });

  it('the cost model agrees with analysis/cost for every kind and rank', () => {
    const model = convModel(c, randn(size(c), 4));
    for (const conv of ['spatial', 'tucker'] as const) {
      const { layers } = findLayers(model, 0, conv, () => true, inferShapes(model));
      expect(layers[0]!.macs).toBe(analyzeCost(model).macs);
      expect(costAt(layers[0]!, conv === 'spatial' ? [10] : [8, 12]).macs).toBe(
        conv === 'spatial'
          ? 10 * 8 * 16 * 24 * 3 + 32 * 8 * 8 * 10 * 3
          : 8 * 256 * 24 + 12 * 64 * 8 * 9 + 32 * 64 * 12,
      );
    }
  });
});

describe('what is left alone says why', () => {
  it('a depthwise conv: one-line warning naming group 1; --conv none names itself', async () => {
    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 64, 8, 8] });
    const w = b.weight('w', Tensor.fromFloat32('w', [64, 1, 9, 9], randn(64 * 81, 3)));
    b.output(b.op('Conv', [x, w], { kernel_shape: [9, 9], group: 64, pads: [4, 4, 4, 4] }));
    const ctx = passContext();
    const r = await decomposeSvd.apply(m, decomposeSvd.options.parse({}), ctx);
    expect(r.changed).toBe(false);
    expect(ctx.warnings).toHaveLength(1);
    expect(ctx.warnings[0]).toMatch(
      /^decompose-svd changed 0 of 1 weight tensors: 1 Conv weight\(s\): 1 grouped or depthwise \(only group 1/,
    );
    expect(ctx.warnings[0]).not.toContain('\n');

    const dense = convModel(CASES[0]!, randn(size(CASES[0]!), 2));
    const ctx2 = passContext();
    const r2 = await decomposeSvd.apply(
      dense,
      decomposeSvd.options.parse({ conv: 'none', minElements: 0 }),
      ctx2,
    );
    expect(r2.changed).toBe(false);
    expect(ctx2.warnings[0]).toMatch(/Conv weight\(s\): left alone with --conv none/);
  });

  it('ranks that would not save: the warning says to lower --rank-ratio', async () => {
    const c = CASES[0]!;
    const ctx = passContext();
    const r = await decomposeSvd.apply(
      convModel(c, randn(size(c), 2)),
      decomposeSvd.options.parse({ rankRatio: 1, minElements: 0 }),
      ctx,
    );
    expect(r.changed).toBe(false);
    expect(ctx.warnings[0]).toMatch(/1 would not save MACs and params at these ranks \(lower --rank-ratio/);
  });
});
