import { describe, expect, it } from 'vitest';
import { kmeans1d } from '../../src/kernels/kmeans1d.js';
import { Rng } from '../../src/kernels/random.js';

describe('1-D k-means', () => {
  it('recovers well separated clusters', () => {
    const rng = new Rng(3);
    const means = [-3, -0.5, 1, 4];
    const x = Float32Array.from({ length: 4000 }, (_, i) => means[i % 4]! + 0.05 * rng.normal());
    const r = kmeans1d(x, 4);
    expect(r.centroids.length).toBe(4);
    for (let i = 0; i < 4; i++) expect(r.centroids[i]).toBeCloseTo(means[i]!, 1);
    // every value sits in its nearest centroid
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i]! - r.centroids[r.assignment[i]!]!);
      for (const c of r.centroids) expect(d).toBeLessThanOrEqual(Math.abs(x[i]! - c) + 1e-7);
    }
  });

  it('beats uniform quantization on a normal distribution, and more clusters never hurt', () => {
    const rng = new Rng(9);
    const x = Float32Array.from({ length: 20000 }, () => rng.normal());
    let prev = Number.POSITIVE_INFINITY;
    for (const k of [2, 4, 8, 16, 64]) {
      const r = kmeans1d(x, k);
      expect(r.sse).toBeLessThan(prev);
      prev = r.sse;
      // uniform grid with k levels over [min, max]
      const lo = Math.min(...x);
      const hi = Math.max(...x);
      const step = (hi - lo) / (k - 1);
      let uniform = 0;
      for (const v of x) {
        const q = lo + Math.round((v - lo) / step) * step;
        uniform += (v - q) ** 2;
      }
      expect(r.sse).toBeLessThan(uniform);
    }
    // Lloyd-Max for a unit normal with 4 levels: MSE 0.1175 (Max, 1960)
    expect(kmeans1d(x, 4).sse / x.length).toBeCloseTo(0.1175, 2);
  });

  it('handles fewer distinct values than clusters', () => {
    const r = kmeans1d(Float32Array.from([1, 1, 2, 2, 2]), 16);
    expect(Array.from(r.centroids)).toEqual([1, 2]);
    expect(r.sse).toBe(0);
  });
});
