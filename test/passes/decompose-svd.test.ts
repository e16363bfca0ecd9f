// decompose-svd on hand-built layers with an exactly rank-4 weight: the factors reproduce it, the
// parameter count drops to r·(K + N), and ONNX Runtime's outputs stay the same (MatMul and Gemm with
// transB, alpha and beta).
import { describe, expect, it } from 'vitest';
import { attrFloat, attrInt } from '../../src/ir/builder.js';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model } from '../../src/ir/graph.js';
import { verifyModel } from '../../src/ir/verify.js';
import { decomposeSvd } from '../../src/passes/lowrank/decompose-svd.js';
import { constantOf } from '../../src/passes/util.js';
import { floatFeed, GraphBuilder, maxAbsDiff, newModel, randn, run, Tensor } from '../helpers/models.js';
import { passContext } from './context.js';

const K = 64;
const N = 48;
const R = 4;

/** an exactly rank-R [K, N] matrix A·B */
function lowRank(seed: number): Float32Array {
  const a = randn(K * R, seed);
  const b = randn(R * N, seed + 1);
  const w = new Float32Array(K * N);
  for (let i = 0; i < K; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let r = 0; r < R; r++) s += a[i * R + r]! * b[r * N + j]!;
      w[i * N + j] = s / 8;
    }
  return w;
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = w[i * cols + j]!;
  return t;
}

function matmulModel(w: Float32Array): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: ['batch', K] });
  b.output(b.op('MatMul', [x, b.weight('w', Tensor.fromFloat32('w', [K, N], w))]));
  return m;
}

/** Gemm(x, Wᵀ stored as [N, K], c; transB 1, alpha 0.5, beta 2) */
function gemmModel(w: Float32Array): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: ['batch', K] });
  const wt = b.weight('wt', Tensor.fromFloat32('wt', [N, K], transpose(w, K, N)));
  const c = b.weight('c', Tensor.fromFloat32('c', [N], randn(N, 7, 0.5)));
  b.output(b.op('Gemm', [x, wt, c], { transB: 1, alpha: 0.5, beta: 2 }, { floatAttrs: ['alpha', 'beta'] }));
  return m;
}

async function decompose(model: Model, options: Record<string, unknown>) {
  const m = cloneModel(model);
  const r = await decomposeSvd.apply(
    m,
    decomposeSvd.options.parse({ minElements: 0, ...options }),
    passContext(),
  );
  return { m, r };
}

async function relativeError(a: Model, b: Model): Promise<number> {
  const feeds = { x: floatFeed([5, K], 3) };
  const [ya, yb] = [await run(a, feeds), await run(b, feeds)];
  const y = Object.keys(ya)[0]!;
  const ref = ya[y]!.data as Float32Array;
  return maxAbsDiff(ya[y]!, yb[y]!) / ref.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
}

describe('decompose-svd', () => {
  it('MatMul with a rank-4 weight at rank 4: two MatMuls [K, 4] · [4, N], the same outputs', async () => {
    const model = matmulModel(lowRank(1));
    const { m, r } = await decompose(model, { rankRatio: R / N });
    expect(verifyModel(m)).toEqual([]);
    expect(r.stats).toMatchObject({ layers: 1, paramsBefore: K * N, paramsAfter: R * (K + N) });
    expect(r.stats.weightSqnrDb).toBeGreaterThan(90);
    const mms = m.graph.nodes.filter((n) => n.opType === 'MatMul');
    expect(mms.map((n) => constantOf(n.inputs[1])!.dims)).toEqual([
      [K, R],
      [R, N],
    ]);
    expect(await relativeError(model, m)).toBeLessThan(1e-5);
  });

  it('Gemm: alpha and transB fold into the factors, beta·C stays; outputs unchanged', async () => {
    const model = gemmModel(lowRank(4));
    const { m, r } = await decompose(model, { rankRatio: R / N });
    expect(r.stats.layers).toBe(1);
    const gemm = m.graph.nodes.find((n) => n.opType === 'Gemm')!;
    expect(attrInt(gemm, 'transB', 0)).toBe(0);
    expect(attrFloat(gemm, 'alpha', 1)).toBe(1);
    expect(attrFloat(gemm, 'beta', 1)).toBe(2);
    expect(constantOf(gemm.inputs[1])!.dims).toEqual([R, N]);
    expect(await relativeError(model, m)).toBeLessThan(1e-5);
  });

  it('a rank below the true one loses signal; a rank that saves nothing leaves the layer alone', async () => {
    const model = matmulModel(lowRank(8));
    const cut = await decompose(model, { rankRatio: 2 / N });
    expect(cut.r.stats.paramsAfter).toBe(2 * (K + N));
    expect(cut.r.stats.weightSqnrDb).toBeLessThan(20);
    expect(await relativeError(model, cut.m)).toBeGreaterThan(1e-2);
    const full = await decompose(model, { rankRatio: 1 });
    expect(full.r.changed).toBe(false);
    const small = await decompose(model, { rankRatio: R / N, minElements: K * N + 1 });
    expect(small.r.changed).toBe(false);
  });
});
