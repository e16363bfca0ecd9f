// kernels/cluster-gptq.ts: GPTQ-style compensation with fixed codebooks lowers the layer-output error
// ‖X·(W − Q)‖² against snapping each weight to its nearest centroid, on inputs with correlated
// features; exact zeros keep the zero entry and no other weight takes it.
import { describe, expect, it } from 'vitest';
import { clusterGptq } from '../../src/kernels/cluster-gptq.js';
import { kmeans1d } from '../../src/kernels/kmeans1d.js';
import type { GemmFn } from '../../src/kernels/matmul.js';
import { Rng } from '../../src/kernels/random.js';

/** a plain float64 Gemm (the pass uses ONNX Runtime's) */
const gemm: GemmFn = async (a, [ar, ac], b, [, bc], o = {}) => {
  const rows = o.transA ? ac : ar;
  const inner = o.transA ? ar : ac;
  const out = new Float32Array(rows * bc);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < bc; j++) {
      let s = 0;
      for (let p = 0; p < inner; p++) s += (o.transA ? a[p * ac + i]! : a[i * ac + p]!) * b[p * bc + j]!;
      out[i * bc + j] = (o.alpha ?? 1) * s + (o.beta ?? 0) * (o.c ? o.c[i * bc + j]! : 0);
    }
  return out;
};

function problem(K: number, N: number, M: number, seed: number) {
  const r = new Rng(seed);
  // correlated features: x = z · A with a random mixing A [K, K]
  const A = Float32Array.from({ length: K * K }, () => r.normal() / Math.sqrt(K));
  const x = new Float32Array(M * K);
  for (let m = 0; m < M; m++) {
    const z = Float32Array.from({ length: K }, () => r.normal());
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let j = 0; j < K; j++) s += z[j]! * A[j * K + k]!;
      x[m * K + k] = s + 0.5;
    }
  }
  const h = new Float64Array(K * K);
  for (let m = 0; m < M; m++)
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) h[i * K + j]! += x[m * K + i]! * x[m * K + j]!;
  const w = Float32Array.from({ length: K * N }, () => r.normal() * 0.1);
  return { x, h, w };
}

function outputError(
  x: Float32Array,
  M: number,
  K: number,
  N: number,
  w: Float32Array,
  q: Float32Array,
): number {
  let e = 0;
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let d = 0;
      for (let k = 0; k < K; k++) d += x[m * K + k]! * (w[k * N + n]! - q[k * N + n]!);
      e += d * d;
    }
  return e;
}

describe('cluster-gptq', () => {
  it('lowers the output error of a fixed 8-entry codebook by more than half, lazy batches or not', async () => {
    const [K, N, M] = [48, 24, 400];
    const { x, h, w } = problem(K, N, M, 1);
    const { centroids, assignment } = kmeans1d(w, 8);
    const nearest = Float32Array.from(assignment, (a) => centroids[a]!);
    const books = {
      table: centroids,
      stride: centroids.length,
      count: Int32Array.of(8),
      groupOf: new Int32Array(N),
    };
    const idx = (await clusterGptq(w, K, N, h, books, gemm, { lazyBatch: 16 }))!;
    const q = Float32Array.from(idx, (a) => centroids[a]!);
    const plain = outputError(x, M, K, N, w, nearest);
    const comp = outputError(x, M, K, N, w, q);
    expect(comp).toBeLessThan(plain * 0.5);
    // one batch for all rows (no product through gemm): the same indices
    const whole = (await clusterGptq(w, K, N, h, books, gemm, { lazyBatch: K }))!;
    let same = 0;
    for (let i = 0; i < idx.length; i++) if (whole[i] === idx[i]) same++;
    expect(same / idx.length).toBeGreaterThan(0.99);
  });

  it('per-column codebooks and kept zeros: zeros take the 0 entry, no other weight does', async () => {
    const [K, N, M] = [32, 6, 300];
    const { h, w } = problem(K, N, M, 2);
    for (let i = 0; i < w.length; i += 2) w[i] = 0;
    // two groups of columns, each with an exact 0 among 4 entries
    const table = Float32Array.of(-0.1, 0, 0.05, 0.12, -0.2, -0.05, 0, 0.1);
    const groupOf = Int32Array.of(0, 1, 0, 1, 0, 1);
    const books = { table, stride: 4, count: Int32Array.of(4, 4), groupOf };
    const idx = (await clusterGptq(w, K, N, h, books, gemm))!;
    for (let k = 0; k < K; k++)
      for (let n = 0; n < N; n++) {
        const v = table[groupOf[n]! * 4 + idx[k * N + n]!]!;
        expect(v === 0, `${k},${n}`).toBe(w[k * N + n] === 0);
      }
  });
});
