// kernels/kmeans-pp.ts through kmeans1d({ init: 'kmeans++' }): Lloyd from a k-means++ seeding over the
// same bins as the dynamic program: a fixed point of Lloyd (each centroid the mean of its values, each
// value at its nearest centroid), never below the exact DP's error, the right clusters on separated data.
import { describe, expect, it } from 'vitest';
import { kmeans1d } from '../../src/kernels/kmeans1d.js';
import { Rng } from '../../src/kernels/random.js';

function normal(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}

describe('k-means++ (Lloyd)', () => {
  it('a Lloyd fixed point on 4000 normal values, K = 16: error >= the DP optimum, within 10%', () => {
    const x = normal(4000, 1);
    const pp = kmeans1d(x, 16, { init: 'kmeans++', seed: 3 });
    const dp = kmeans1d(x, 16);
    expect(pp.centroids).toHaveLength(16);
    expect(pp.exact).toBe(false);
    expect(pp.sse).toBeGreaterThanOrEqual(dp.sse * (1 - 1e-9));
    expect(pp.sse).toBeLessThan(dp.sse * 1.1);
    const sum = new Float64Array(16);
    const count = new Float64Array(16);
    for (let i = 0; i < x.length; i++) {
      sum[pp.assignment[i]!]! += x[i]!;
      count[pp.assignment[i]!]!++;
    }
    for (let c = 0; c < 16; c++) expect(pp.centroids[c]!).toBeCloseTo(sum[c]! / count[c]!, 5);
    // the same seed, the same codebook; another seed, a codebook of its own
    expect([...kmeans1d(x, 16, { init: 'kmeans++', seed: 3 }).centroids]).toEqual([...pp.centroids]);
    expect([...kmeans1d(x, 16, { init: 'kmeans++', seed: 4 }).centroids]).not.toEqual([...pp.centroids]);
  });

  it('three separated clusters (weighted, 300k values through the histogram): found exactly', () => {
    const r = new Rng(5);
    const centres = [-3, 0.5, 4];
    const x = Float32Array.from({ length: 300_000 }, (_, i) => centres[i % 3]! + 0.01 * r.normal());
    const weights = Float32Array.from({ length: x.length }, (_, i) => 1 + (i % 2));
    const pp = kmeans1d(x, 3, { init: 'kmeans++', seed: 1, weights });
    expect(pp.centroids).toHaveLength(3);
    for (let c = 0; c < 3; c++) expect(pp.centroids[c]!).toBeCloseTo(centres[c]!, 3);
    for (let i = 0; i < 30; i++) expect(pp.assignment[i]).toBe(i % 3);
    expect(pp.sse / kmeans1d(x, 3, { weights }).sse).toBeCloseTo(1, 6);
  });
});
