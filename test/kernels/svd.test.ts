import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/kernels/random.js';
import { matmul, symmetricEigen, transpose, truncatedSvd } from '../../src/kernels/svd.js';

/** A random [m, n] matrix with orthonormal columns (Gram-Schmidt of a Gaussian matrix) */
function orthonormal(m: number, n: number, seed: number): Float64Array {
  const r = new Rng(seed);
  const q = Float64Array.from({ length: m * n }, () => r.normal());
  for (let j = 0; j < n; j++) {
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

describe('truncated SVD', () => {
  it('recovers known singular values and reconstructs a low-rank matrix exactly', () => {
    const m = 120;
    const n = 80;
    const sigma = [50, 20, 9, 4, 2, 1, 0.5, 0.25];
    const u = orthonormal(m, 8, 1);
    const v = orthonormal(n, 8, 2);
    const us = Float64Array.from(u, (x, i) => x * sigma[i % 8]!);
    const a = matmul(us, transpose(v, n, 8), m, 8, n); // rank 8
    const r = truncatedSvd(a, m, n, 8);
    for (let j = 0; j < 8; j++) expect(r.s[j]).toBeCloseTo(sigma[j]!, 6);
    const back = matmul(
      Float64Array.from(r.u, (x, i) => x * r.s[i % 8]!),
      r.vt,
      m,
      8,
      n,
    );
    let err = 0;
    for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - back[i]!));
    expect(err).toBeLessThan(1e-8);
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
    expect(fro).toBeCloseTo(expected, 4);
  });

  it('Jacobi eigen-decomposition of a symmetric matrix', () => {
    // [[2,1],[1,2]] has eigenvalues 3 and 1
    const { values, vectors } = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    expect(Math.abs(vectors[0]!)).toBeCloseTo(Math.SQRT1_2, 12);
  });
});
