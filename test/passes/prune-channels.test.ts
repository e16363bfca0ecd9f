// prune-channels keeps accuracy post-training: removed channels whose output is constant are folded
// into the next layer's bias exactly (Conv without padding, Gemm, MatMul through an inserted Add),
// with or without calibration data; the bias counts in the ranking when nothing compensates; on
// cnn-residual the next layer's output error falls from none to bias to least-squares
// reconstruction; a MACs target is met with channel counts in blocks of 16.
import { describe, expect, it } from 'vitest';
import { analyzeCost } from '../../src/analysis/cost.js';
import { bindArrays, type Dataset } from '../../src/data/dataset.js';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model } from '../../src/ir/graph.js';
import { encodeModel } from '../../src/ir/serialize.js';
import { verifyModel } from '../../src/ir/verify.js';
import { openDataset } from '../../src/node/data-files.js';
import { loadModel } from '../../src/node/model-io.js';
import { pruneChannels } from '../../src/passes/prune/prune-channels.js';
import { constantOf, removeUnused } from '../../src/passes/util.js';
import { evaluate } from '../../src/pipeline/evaluate.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { floatFeed, GraphBuilder, maxAbsDiff, newModel, randn, run, Tensor } from '../helpers/models.js';
import { passContext } from './context.js';

async function prune(model: Model, options: Record<string, unknown>, data?: Dataset) {
  const m = cloneModel(model);
  const ctx = passContext(data);
  const r = await pruneChannels.apply(m, pruneChannels.options.parse({ measure: false, ...options }), ctx);
  expect(verifyModel(m)).toEqual([]);
  removeUnused(m.graph);
  return { m, stats: r.stats, warnings: ctx.warnings };
}

const DEAD = new Set([2, 5, 9, 13]); // 4 of 16: sparsity 0.25 removes exactly these (zero filters)

/** x [N,3,10,10] → Conv 3×3 (valid) → Relu → Conv 3×3 (valid) → Relu → GAP → Flatten → Gemm; DEAD filters are zero, their biases not */
function convNet(): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: ['N', 3, 10, 10] });
  const w1 = randn(16 * 27, 1, 0.3).map((v, i) => (DEAD.has(Math.floor(i / 27)) ? 0 : v));
  const b1 = Float32Array.from({ length: 16 }, (_, c) =>
    DEAD.has(c) ? (c === 5 ? -0.7 : 0.4 + 0.1 * c) : 0.05,
  );
  const h = b.op('Relu', [
    b.op('Conv', [
      x,
      b.weight('w1', Tensor.fromFloat32('w1', [16, 3, 3, 3], w1)),
      b.weight('b1', Tensor.fromFloat32('b1', [16], b1)),
    ]),
  ]);
  const h2 = b.op('Relu', [
    b.op('Conv', [
      h,
      b.weight('w2', Tensor.fromFloat32('w2', [8, 16, 3, 3], randn(8 * 144, 2, 0.2))),
      b.weight('b2', Tensor.fromFloat32('b2', [8], randn(8, 3, 0.1))),
    ]),
  ]);
  const flat = b.op('Flatten', [b.op('GlobalAveragePool', [h2])]);
  b.output(
    b.op('Gemm', [flat, b.weight('fc', Tensor.fromFloat32('fc', [10, 8], randn(80, 4)))], { transB: 1 }),
  );
  return m;
}

/** x [N,20] → Gemm(transB) 20→16 → Relu → MatMul 16→6 (no bias): DEAD hidden units have zero weights, bias 1 */
function mlp(): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: ['N', 20] });
  const w = randn(16 * 20, 5, 0.4).map((v, i) => (DEAD.has(Math.floor(i / 20)) ? 0 : v));
  const bias = Float32Array.from({ length: 16 }, (_, c) => (DEAD.has(c) ? 1 + c / 10 : 0.1));
  const hidden = b.op('Relu', [
    b.op(
      'Gemm',
      [
        x,
        b.weight('w', Tensor.fromFloat32('w', [16, 20], w)),
        b.weight('b', Tensor.fromFloat32('b', [16], bias)),
      ],
      { transB: 1 },
    ),
  ]);
  b.output(b.op('MatMul', [hidden, b.weight('v', Tensor.fromFloat32('v', [16, 6], randn(96, 6)))]));
  return m;
}

function data(model: Model, dims: number[], seed: number): Dataset {
  const name = model.graph.inputs[0]!.name;
  const x = randn(
    dims.reduce((a, c) => a * c, 1),
    seed,
  );
  return bindArrays(model, new Map([[name, { dtype: 'float32' as const, shape: dims, data: x }]]), 'test');
}

async function outputsDiff(a: Model, b: Model, feed: HostTensor): Promise<number> {
  const name = a.graph.inputs[0]!.name;
  const [x, y] = [await run(a, { [name]: feed }), await run(b, { [name]: feed })];
  const out = a.graph.outputs[0]!.name;
  return maxAbsDiff(x[out]!, y[out]!);
}

describe('prune-channels bias compensation', () => {
  for (const [label, make, dims] of [
    ['Conv → Relu → Conv (valid) → Gemm', convNet, [2, 3, 10, 10]],
    ['Gemm → Relu → MatMul', mlp, [4, 20]],
  ] as const) {
    it(`${label}: constant channels removed, outputs unchanged with compensation, changed without`, async () => {
      const model = make();
      const feed = floatFeed([...dims], 11);
      const o = { sparsity: 0.25, roundTo: 1, minChannels: 10 };
      const none = await prune(model, { ...o, compensate: 'none' });
      const bias = await prune(model, { ...o, compensate: 'bias' });
      const lsq = await prune(model, o, data(model, [64, ...dims.slice(1)], 12));
      for (const r of [none, bias, lsq]) expect(r.stats.channelsRemoved).toBe(4);
      expect(await outputsDiff(model, none.m, feed)).toBeGreaterThan(0.1);
      expect(await outputsDiff(model, bias.m, feed)).toBeLessThan(1e-4);
      expect(await outputsDiff(model, lsq.m, feed)).toBeLessThan(1e-3);
      expect(bias.stats.compensated).toBe(1);
    });
  }

  it('without compensation a small filter with a large bias is kept: the bias is part of the importance', async () => {
    const model = mlp();
    // hidden unit 0: a sixteenth of the others' filter L1 (0.4 vs about 6.4), bias 8
    const g = model.graph.nodes.find((n) => n.opType === 'Gemm')!;
    const w = constantOf(g.inputs[1])!.toFloat32().slice();
    for (let k = 0; k < 20; k++) w[k] = 0.02 * Math.sign(w[20 + k]!);
    g.inputs[1]!.initializer = Tensor.fromFloat32('w', [16, 20], w);
    const b = constantOf(g.inputs[2])!.toFloat32().slice();
    b[0] = 8;
    g.inputs[2]!.initializer = Tensor.fromFloat32('b', [16], b);
    // 5 of 16 go: the 4 dead units and one more — the small filter alone would be next
    const r = await prune(model, { sparsity: 0.32, roundTo: 1, compensate: 'none', importance: 'l1' });
    const kept = constantOf(r.m.graph.nodes.find((n) => n.opType === 'Gemm')!.inputs[2])!.toFloat32();
    expect([...kept]).toContain(8);
    expect(kept).toHaveLength(11);
  });
});

describe('prune-channels on cnn-residual (post-training)', () => {
  const M = 'test/fixtures/models';
  const cnn = loadModel(`${M}/cnn-residual.onnx`);

  it("reconstruction reduces the next layer's output error: none > bias > lsq", async () => {
    const calib = await openDataset(cnn, `${M}/fmnist-calib.npz`);
    const held = (await openDataset(cnn, 'examples/fashion-mnist-1k.npz')).slice(0, 64).input!;
    // the consumer's output as a graph output (that freezes the residual space; the block's inner one is pruned)
    const model = cloneModel(cnn);
    const next = '/features/features.4/c2/c2.0/Conv_output_0';
    model.graph.outputs.unshift([...model.graph.nodes].find((n) => n.outputs[0]!.name === next)!.outputs[0]!);
    const errorOf = async (m: Model) => {
      const [a, b] = [await run(model, { input: held }), await run(m, { input: held })];
      const x = a[next]!.data as Float32Array;
      const y = b[next]!.data as Float32Array;
      let e = 0;
      let s = 0;
      for (let i = 0; i < x.length; i++) {
        e += (x[i]! - y[i]!) ** 2;
        s += x[i]! ** 2;
      }
      return e / s;
    };
    const base = { sparsity: 0.5, roundTo: 16, samples: 128 };
    const sel = async (o: Record<string, unknown>) => {
      const m = cloneModel(model);
      const ctx = passContext(calib);
      ctx.selects = (n) => n.name.startsWith('/features/features.4/c');
      const r = await pruneChannels.apply(
        m,
        pruneChannels.options.parse({ ...base, measure: false, ...o }),
        ctx,
      );
      return { m, r };
    };
    const [none, bias, lsq] = [
      await sel({ compensate: 'none' }),
      await sel({ compensate: 'bias' }),
      await sel({}),
    ];
    for (const x of [none, bias, lsq]) expect(x.r.stats).toMatchObject({ groups: 1, channelsRemoved: 32 });
    const [en, eb, el] = [await errorOf(none.m), await errorOf(bias.m), await errorOf(lsq.m)];
    // measured on 64 held-out images: none 0.439, bias 0.289, lsq 0.066 (relative squared error)
    expect(eb).toBeLessThan(0.8 * en);
    expect(el).toBeLessThan(0.4 * eb);
  });

  it('a MACs target of 0.6 with blocks of 16: met, counts multiples of 16, accuracy kept, ORT runs it', async () => {
    const calib = await openDataset(cnn, `${M}/fmnist-calib.npz`);
    const r = await prune(cnn, { macs: 0.6, roundTo: 16, samples: 128, measure: true }, calib);
    const ratio = analyzeCost(r.m).macs / analyzeCost(cnn).macs;
    expect(ratio).toBeLessThanOrEqual(0.6);
    expect(ratio).toBeGreaterThan(0.45);
    for (const n of r.m.graph.nodes.filter((x) => x.opType === 'Conv'))
      expect(constantOf(n.inputs[1])!.dims[0]! % 16).toBe(0);
    expect(r.stats.speedup).toBeGreaterThan(0); // timed (the figure itself is in bench/compose/prune.ts)
    const test = await openDataset(cnn, 'examples/fashion-mnist-1k.npz');
    const top1 = (await evaluate(nodeRuntime, encodeModel(r.m), test, { batchSize: 250 })).top1!;
    const float = (await evaluate(nodeRuntime, encodeModel(cnn), test, { batchSize: 250 })).top1!;
    expect(top1).toBeGreaterThan(float - 0.03); // measured 0.898 vs 0.915 on the 1k slice, MACs 0.575
  });

  it('bad options: a MACs fraction outside (0, 1] is refused', () => {
    expect(() => pruneChannels.options.parse({ macs: 0 })).toThrow();
    expect(() => pruneChannels.options.parse({ macs: 1.5 })).toThrow();
    expect(() => pruneChannels.options.parse({ compensate: 'mean' })).toThrow();
  });
});
