// prune-weights on hand-built layers: exactly the lowest-scoring fraction goes (unstructured), every
// group of 4 inputs keeps 2 (2:4, MatMul and Conv), Wanda keeps small weights on loud inputs, and
// ONNX Runtime computes x · W' with the pruned weight.
import { describe, expect, it } from 'vitest';
import { bindArrays } from '../../src/data/dataset.js';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model, Node } from '../../src/ir/graph.js';
import { verifyModel } from '../../src/ir/verify.js';
import { pruneWeights } from '../../src/passes/prune/prune-weights.js';
import { constantOf } from '../../src/passes/util.js';
import { floatFeed, GraphBuilder, newModel, randn, run, Tensor } from '../helpers/models.js';
import { passContext } from './context.js';

function matmulModel(w: Float32Array, k: number, n: number): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: ['batch', k] });
  b.output(b.op('MatMul', [x, b.weight('w', Tensor.fromFloat32('w', [k, n], w))]));
  return m;
}

const weightOf = (m: Model, op: string): Float32Array =>
  constantOf(m.graph.nodes.find((n: Node) => n.opType === op)!.inputs[1])!.toFloat32();

async function prune(model: Model, options: Record<string, unknown>, ctx = passContext()) {
  const m = cloneModel(model);
  const r = await pruneWeights.apply(m, pruneWeights.options.parse({ minElements: 0, ...options }), ctx);
  expect(verifyModel(m)).toEqual([]);
  return { m, r };
}

describe('prune-weights', () => {
  it('unstructured 0.5: exactly half the weights, the smallest, are zero; ORT computes x · W′', async () => {
    const K = 32;
    const N = 64;
    const w = randn(K * N, 1);
    const model = matmulModel(w, K, N);
    const { m, r } = await prune(model, { sparsity: 0.5 });
    expect(r.stats).toEqual({ tensors: 1, sparsity: 0.5 });
    const p = weightOf(m, 'MatMul');
    const kept = [...p].filter((v, i) => v === w[i]).map(Math.abs);
    const removed = [...w].filter((_, i) => p[i] === 0).map(Math.abs);
    expect(removed).toHaveLength((K * N) / 2);
    expect(kept).toHaveLength((K * N) / 2);
    expect(Math.max(...removed)).toBeLessThanOrEqual(Math.min(...kept));
    // the graph really reads the pruned weight: ORT's output is x · W′ (float64 reference)
    const feed = floatFeed([3, K], 2);
    const out = (await run(m, { x: feed }))[m.graph.outputs[0]!.name]!.data as Float32Array;
    const x = feed.data as Float32Array;
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += x[i * K + k]! * p[k * N + j]!;
        expect(out[i * N + j]!).toBeCloseTo(s, 4);
      }
  });

  it('2:4 along the input dimension of a MatMul and a Conv: every group of 4 keeps exactly 2', async () => {
    const K = 16;
    const N = 8;
    const mm = await prune(matmulModel(randn(K * N, 3), K, N), { pattern: '2:4' });
    const w = weightOf(mm.m, 'MatMul');
    for (let n = 0; n < N; n++)
      for (let k0 = 0; k0 < K; k0 += 4) {
        let nz = 0;
        for (let k = k0; k < k0 + 4; k++) if (w[k * N + n] !== 0) nz++;
        expect(nz).toBe(2);
      }
    expect(mm.r.stats.sparsity).toBe(0.5);

    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 8, 6, 6] });
    const cw = b.weight('cw', Tensor.fromFloat32('cw', [4, 8, 3, 3], randn(4 * 8 * 9, 4)));
    b.output(b.op('Conv', [x, cw], { pads: [1, 1, 1, 1] }));
    const conv = await prune(m, { pattern: '2:4' });
    const c = weightOf(conv.m, 'Conv');
    // element (o, ci, kh, kw) at ((o·8 + ci)·3 + kh)·3 + kw: groups of 4 input channels per (o, kh, kw)
    for (let o = 0; o < 4; o++)
      for (let s = 0; s < 9; s++)
        for (const c0 of [0, 4]) {
          let nz = 0;
          for (let ci = c0; ci < c0 + 4; ci++) if (c[(o * 8 + ci) * 9 + s] !== 0) nz++;
          expect(nz).toBe(2);
        }
    const y = await run(conv.m, { x: floatFeed([1, 8, 6, 6], 5) });
    expect(y[conv.m.graph.outputs[0]!.name]!.dims).toEqual([1, 4, 6, 6]);
  });

  it('wanda keeps the small weights of inputs with large activations; magnitude drops them', async () => {
    const K = 8;
    const N = 4;
    // rows 0 and 4 (one per group of 4 inputs) are small, but their inputs are 1000x louder
    const w = Float32Array.from({ length: K * N }, (_, i) =>
      Math.floor(i / N) % 4 === 0 ? 0.01 : 1 + (i % 3),
    );
    const model = matmulModel(w, K, N);
    const samples = 16;
    const x = randn(samples * K, 6).map((v, i) => ((i % K) % 4 === 0 ? v * 1000 : v));
    const data = bindArrays(
      model,
      new Map([['x', { dtype: 'float32' as const, shape: [samples, K], data: x }]]),
      'test',
    );
    const wanda = await prune(model, { pattern: '2:4', method: 'wanda' }, passContext(data));
    const magnitude = await prune(model, { pattern: '2:4' });
    const wa = weightOf(wanda.m, 'MatMul');
    const ma = weightOf(magnitude.m, 'MatMul');
    for (let n = 0; n < N; n++)
      for (const k of [0, 4]) {
        expect(wa[k * N + n]).toBeCloseTo(0.01, 6);
        expect(ma[k * N + n]).toBe(0);
      }
    await expect(prune(model, { method: 'wanda' })).rejects.toThrow(/wanda pruning needs calibration data/);
  });
});
