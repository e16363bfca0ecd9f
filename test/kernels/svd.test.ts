// Truncated SVD against matrices of known spectrum: the exact path (Gram + tred2/tql2) to float64
// accuracy, the randomized path (scikit-learn's defaults) with plain loops and on ONNX Runtime, and the
// symmetric eigen-solver on its own.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/kernels/random.js';
import {
  exactSvd,
  matmul,
  symmetricEigen,
  transpose,
  truncatedSvd,
  truncatedSvdAsync,
} from '../../src/kernels/svd.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { OrtMatMul } from '../../src/runtime/ort-matmul.js';

/** A random [m, n] matrix with orthonormal columns (Gram-Schmidt twice of a Gaussian matrix) */
function orthonormal(m: number, n: number, seed: number): Float64Array {
  const r = new Rng(seed);
  const q = Float64Array.from({ length: m * n }, () => r.normal());
  for (let j = 0; j < n; j++) {
    for (let pass = 0; pass < 2; pass++)
      for (let i = 0; i < j; i++) {
        let d = 0;
        for (let k = 0; k < m; k++) d += q[k * n + i]! * q[k * n + j]!;
        for (let k = 0; k < m; k++) q[k * n + j]! -= d * q[k * n + i]!;
      }
    let s = 0;
    for (let k = 0; k < m; k++) s += q[k * n + j]! ** 2;
    for (let k = 0; k < m; k++) q[k * n + j]! /= Math.sqrt(s);
  }
  return q;
}

/** U·diag(sigma)·Vᵀ [m, n] with random orthonormal U, V */
function withSpectrum(m: number, n: number, sigma: number[], seed = 1): Float64Array {
  const k = sigma.length;
  const u = orthonormal(m, k, seed);
  const v = orthonormal(n, k, seed + 1);
  const us = Float64Array.from(u, (x, i) => x * sigma[i % k]!);
  return matmul(us, transpose(v, n, k), m, k, n);
}

/** max |XᵀX − I| for X [rows, cols] */
function orthogonalityError(x: Float64Array, rows: number, cols: number): number {
  const g = matmul(transpose(x, rows, cols), x, cols, rows, cols);
  let e = 0;
  for (let i = 0; i < cols; i++)
    for (let j = 0; j < cols; j++) e = Math.max(e, Math.abs(g[i * cols + j]! - (i === j ? 1 : 0)));
  return e;
}

function worstRelative(s: ArrayLike<number>, sigma: number[], k: number): number {
  let e = 0;
  for (let i = 0; i < k; i++) e = Math.max(e, Math.abs(s[i]! - sigma[i]!) / sigma[i]!);
  return e;
}

describe('symmetric eigen-decomposition', () => {
  it('finds known eigenvalues and orthonormal eigenvectors', () => {
    const { values, vectors } = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2);
    expect(values[0]).toBeCloseTo(3, 14);
    expect(values[1]).toBeCloseTo(1, 14);
    expect(Math.abs(vectors[0]!)).toBeCloseTo(Math.SQRT1_2, 14);
    // Q diag(λ) Qᵀ with λ spread over 12 decades, repeated values and negative ones
    const n = 60;
    const lambda = Array.from({ length: n }, (_, i) =>
      i < 3 ? 5 : i % 7 === 0 ? -(10 ** -(i / 5)) : 10 ** -(i / 5),
    );
    const q = orthonormal(n, n, 5);
    const s = matmul(
      Float64Array.from(q, (x, i) => x * lambda[i % n]!),
      transpose(q, n, n),
      n,
      n,
      n,
    );
    const r = symmetricEigen(s, n);
    const sorted = [...lambda].sort((a, b) => b - a);
    for (let i = 0; i < n; i++) expect(Math.abs(r.values[i]! - sorted[i]!)).toBeLessThan(1e-13);
    expect(orthogonalityError(r.vectors, n, n)).toBeLessThan(1e-13);
    // S v = λ v for the top one
    const v0 = Float64Array.from({ length: n }, (_, k) => r.vectors[k * n]!);
    const sv = matmul(s, v0, n, n, 1);
    for (let k = 0; k < n; k++) expect(sv[k]!).toBeCloseTo(5 * v0[k]!, 12);
  });
});

describe('truncated SVD: exact path', () => {
  it('recovers known singular values and reconstructs a low-rank matrix exactly', () => {
    const m = 120;
    const n = 80;
    const sigma = [50, 20, 9, 4, 2, 1, 0.5, 0.25];
    const a = withSpectrum(m, n, sigma);
    const r = truncatedSvd(a, m, n, 8);
    for (let j = 0; j < 8; j++) expect(r.s[j]).toBeCloseTo(sigma[j]!, 12);
    const back = matmul(
      Float64Array.from(r.u, (x, i) => x * r.s[i % 8]!),
      r.vt,
      m,
      8,
      n,
    );
    let err = 0;
    for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - back[i]!));
    expect(err).toBeLessThan(1e-12);
    // rank 3 keeps the three largest directions: the error is what the others carried
    const r3 = truncatedSvd(a, m, n, 3);
    const back3 = matmul(
      Float64Array.from(r3.u, (x, i) => x * r3.s[i % 3]!),
      r3.vt,
      m,
      3,
      n,
    );
    let fro = 0;
    for (let i = 0; i < a.length; i++) fro += (a[i]! - back3[i]!) ** 2;
    const expected = sigma.slice(3).reduce((s, x) => s + x * x, 0);
    expect(fro).toBeCloseTo(expected, 10);
  });

  it('matches a full decaying spectrum to float64 accuracy, tall and wide', () => {
    const sigma = Array.from({ length: 150 }, (_, i) => Math.exp(-i / 25));
    for (const [m, n] of [
      [240, 150],
      [150, 240],
    ] as const) {
      const a = withSpectrum(m, n, sigma, 3);
      const r = exactSvd(a, m, n, 150);
      // σ_i ≥ 2e-3·σ_1: relative error ≤ 1e-11 (squaring in the Gram costs (σ_1/σ_i)²·ε)
      expect(worstRelative(r.s, sigma, 150)).toBeLessThan(1e-9);
      expect(worstRelative(r.s, sigma, 60)).toBeLessThan(1e-13);
      // the short side's vectors are eigenvectors; the long side's are A·v/σ
      expect(orthogonalityError(r.u, m, 150)).toBeLessThan(m > n ? 1e-9 : 1e-13);
      expect(orthogonalityError(transpose(r.vt, 150, n), n, 150)).toBeLessThan(m > n ? 1e-13 : 1e-9);
    }
  });

  it('rejects a wrong shape or rank', () => {
    expect(() => truncatedSvd(new Float64Array(5), 2, 3, 1)).toThrow(/2×3/);
    expect(() => truncatedSvd(new Float64Array(6), 2, 3, 0)).toThrow(/rank 0/);
  });
});

describe('truncated SVD: randomized path (scikit-learn defaults)', () => {
  const m = 480;
  const n = 300;
  const r = 24;
  // σ_i = exp(−i/8): the 10 oversampled directions sit well below the 24th
  const fast = Array.from({ length: n }, (_, i) => Math.exp(-i / 8));
  // σ_i = 1/(1 + i): slow decay, where the power iterations matter
  const slow = Array.from({ length: n }, (_, i) => 1 / (1 + i));

  it('with plain loops: top singular values of a fast-decaying spectrum to float32 accuracy', () => {
    const a = withSpectrum(m, n, fast, 7);
    const res = truncatedSvd(a, m, n, r, { method: 'randomized' });
    expect(res.rank).toBe(r);
    expect(worstRelative(res.s, fast, r)).toBeLessThan(2e-5);
    expect(orthogonalityError(res.u, m, r)).toBeLessThan(1e-4);
    expect(orthogonalityError(transpose(res.vt, r, n), n, r)).toBeLessThan(1e-4);
  });

  it('power iterations: 7 (auto here) beat none on a slow spectrum', () => {
    const a = withSpectrum(m, n, slow, 8);
    const auto = truncatedSvd(a, m, n, r, { method: 'randomized' });
    const none = truncatedSvd(a, m, n, r, { method: 'randomized', powerIterations: 0 });
    const eAuto = worstRelative(auto.s, slow, r);
    expect(eAuto).toBeLessThan(0.03);
    expect(worstRelative(none.s, slow, r)).toBeGreaterThan(5 * eAuto);
    // the top 5 are close to exact
    expect(worstRelative(auto.s, slow, 5)).toBeLessThan(1e-4);
  });

  it('on ONNX Runtime: the same spectrum as the loops, wide input transposed', async () => {
    const a = withSpectrum(n, m, fast, 9); // [400, 700]: wide
    const mm = new OrtMatMul(nodeRuntime);
    try {
      const ort = await truncatedSvdAsync(a, n, m, r, { gemm: mm.gemm.bind(mm), method: 'randomized' });
      const loops = truncatedSvd(a, n, m, r, { method: 'randomized' });
      expect(worstRelative(ort.s, fast, r)).toBeLessThan(2e-5);
      for (let j = 0; j < r; j++) expect(Math.abs(ort.s[j]! - loops.s[j]!) / fast[j]!).toBeLessThan(2e-5);
      // A ≈ U S Vᵀ: the rank-24 error is what σ_24.. carried
      const back = matmul(
        Float64Array.from(ort.u, (x, i) => x * ort.s[i % r]!),
        ort.vt,
        n,
        r,
        m,
      );
      let fro = 0;
      for (let i = 0; i < a.length; i++) fro += (a[i]! - back[i]!) ** 2;
      const optimal = fast.slice(r).reduce((s, x) => s + x * x, 0);
      expect(fro / optimal).toBeLessThan(1.01);
    } finally {
      await mm.release();
    }
  });

  it('with as many random columns as A has (r + 10 >= n) it is exact', () => {
    const sigma = Array.from({ length: 30 }, (_, i) => 2 ** -i / 3 + 0.01);
    const a = withSpectrum(120, 30, sigma, 12);
    const res = truncatedSvd(a, 120, 30, 25, { method: 'randomized' });
    expect(worstRelative(res.s, sigma, 25)).toBeLessThan(2e-5);
    const back = matmul(
      Float64Array.from(res.u, (x, i) => x * res.s[i % 25]!),
      res.vt,
      120,
      25,
      30,
    );
    let fro = 0;
    for (let i = 0; i < a.length; i++) fro += (a[i]! - back[i]!) ** 2;
    expect(fro / sigma.slice(25).reduce((t, x) => t + x * x, 0)).toBeLessThan(1.001);
  });

  it('survives a rank-deficient matrix (Cholesky-QR needs its shift)', () => {
    const a = withSpectrum(m, n, [3, 2, 1, 0.5, 0.25], 10);
    const res = truncatedSvd(a, m, n, 20, { method: 'randomized' });
    expect(worstRelative(res.s, [3, 2, 1, 0.5, 0.25], 5)).toBeLessThan(1e-5);
    for (let j = 5; j < 20; j++) expect(res.s[j]!).toBeLessThan(1e-5);
    expect(res.u.every(Number.isFinite) && res.vt.every(Number.isFinite)).toBe(true);
  });
});
