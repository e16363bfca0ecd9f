// 1-D k-means by dynamic programming: the DP's optimum against brute force (every partition of a small
// set, and an O(K·n²) DP), the coarse-to-fine path against the full DP, the histogram against exact bins,
// importance weights against repeated values, and known optima (Lloyd-Max quantizers of a normal).
import { describe, expect, it } from 'vitest';
import { binValues, kmeans1d, optimalPartition } from '../../src/kernels/kmeans1d.js';
import { Rng } from '../../src/kernels/random.js';

/** squared error of each value to its nearest centroid, float64 (the bench's scorer) */
function nearestSse(x: Float32Array, centroids: Float32Array, weights?: Float64Array): number {
  const c = Float64Array.from(centroids).sort();
  let sse = 0;
  for (let i = 0; i < x.length; i++) {
    let a = 0;
    let b = c.length - 1;
    while (a < b) {
      const m = (a + b) >> 1;
      if (c[m]! < x[i]!) a = m + 1;
      else b = m;
    }
    let d = Math.abs(x[i]! - c[a]!);
    if (a > 0) d = Math.min(d, Math.abs(x[i]! - c[a - 1]!));
    sse += (weights ? weights[i]! : 1) * d * d;
  }
  return sse;
}

/** error of the best partition of sorted distinct values v (counts w) into k runs, by enumeration */
function enumerate(v: number[], w: number[], k: number): number {
  const g = v.length;
  let best = Number.POSITIVE_INFINITY;
  const cuts: number[] = [];
  const runError = (a: number, b: number) => {
    let W = 0;
    let S = 0;
    for (let i = a; i < b; i++) {
      W += w[i]!;
      S += w[i]! * v[i]!;
    }
    const mean = Math.fround(S / W);
    let e = 0;
    for (let i = a; i < b; i++) e += w[i]! * (v[i]! - mean) ** 2;
    return e;
  };
  const walk = (from: number, left: number) => {
    if (left === 1) {
      let e = 0;
      let a = 0;
      for (const c of [...cuts, g]) {
        e += runError(a, c);
        a = c;
      }
      best = Math.min(best, e);
      return;
    }
    for (let c = from + 1; c <= g - left + 1; c++) {
      cuts.push(c);
      walk(c, left - 1);
      cuts.pop();
    }
  };
  walk(0, Math.min(k, g));
  return best;
}

/** the DP objective by the textbook O(K·g²) recurrence */
function bruteObjective(weight: Float64Array, sum: Float64Array, g: number, k: number): number {
  const pw = new Float64Array(g + 1);
  const ps = new Float64Array(g + 1);
  for (let i = 0; i < g; i++) {
    pw[i + 1] = pw[i]! + weight[i]!;
    ps[i + 1] = ps[i]! + sum[i]!;
  }
  let prev = Float64Array.from({ length: g + 1 }, (_, j) => (j === 0 ? 0 : -(ps[j]! ** 2) / pw[j]!));
  for (let layer = 2; layer <= k; layer++) {
    const cur = new Float64Array(g + 1).fill(Number.POSITIVE_INFINITY);
    for (let j = layer; j <= g; j++)
      for (let i = layer - 1; i < j; i++) {
        const d = ps[j]! - ps[i]!;
        const v = prev[i]! - (d * d) / (pw[j]! - pw[i]!);
        if (v < cur[j]!) cur[j] = v;
      }
    prev = cur;
  }
  return prev[g]!;
}

function laplace(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => {
    const u = rng.next() - 0.5;
    return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u)) * scale;
  });
}

describe('1-D k-means: the dynamic program', () => {
  it('finds the best of every partition of small sets (exact error)', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 40; trial++) {
      const n = 4 + rng.int(9);
      // small integers: repeated values, and every sum exact
      const x = Float32Array.from({ length: n }, () => rng.int(20) - 10);
      const k = 1 + rng.int(5);
      const r = kmeans1d(x, k);
      const sorted = [...x].sort((a, b) => a - b);
      const v = [...new Set(sorted)];
      const w = v.map((u) => sorted.filter((s) => s === u).length);
      expect(r.exact).toBe(true);
      expect(r.sse).toBe(enumerate(v, w, k));
      expect(r.sse).toBe(nearestSse(x, r.centroids));
    }
  });

  it('matches the O(K·n²) recurrence exactly on random inputs', () => {
    const rng = new Rng(2);
    for (let trial = 0; trial < 60; trial++) {
      const n = 5 + rng.int(400);
      const x = Float32Array.from({ length: n }, () => rng.normal());
      const b = binValues(x);
      const k = 1 + rng.int(Math.min(40, n));
      const p = optimalPartition(b.weight, b.sum, b.count, k);
      expect(p.full).toBe(true);
      expect(p.objective).toBe(bruteObjective(b.weight, b.sum, b.count, Math.min(k, b.count)));
    }
  });

  it('coarse to fine finds the full DP partition on 65535 bins', () => {
    const rng = new Rng(7);
    const n = 300_000;
    const sets: Record<string, Float32Array> = {
      normal: Float32Array.from({ length: n }, () => rng.normal()),
      laplace: laplace(n, 3),
      uniform: Float32Array.from({ length: n }, () => rng.next()),
      outliers: Float32Array.from({ length: n }, () =>
        rng.next() < 0.005 ? 50 * rng.normal() : rng.normal(),
      ),
    };
    for (const [name, x] of Object.entries(sets)) {
      const b = binValues(x);
      expect(b.count, name).toBeGreaterThan(30_000);
      for (const k of [16, 64]) {
        const full = optimalPartition(b.weight, b.sum, b.count, k, Number.POSITIVE_INFINITY);
        const fast = optimalPartition(b.weight, b.sum, b.count, k);
        expect(fast.full).toBe(false);
        expect(Array.from(fast.ends), `${name} K=${k}`).toEqual(Array.from(full.ends));
      }
    }
  });

  it('at K = 256 coarse to fine is within 1e-6 of the full DP', () => {
    const x = laplace(200_000, 11);
    const b = binValues(x);
    const full = optimalPartition(b.weight, b.sum, b.count, 256, Number.POSITIVE_INFINITY);
    const fast = optimalPartition(b.weight, b.sum, b.count, 256);
    // objective = error − Σ(x − shift)²: compare the errors
    let base = 0;
    for (const v of x) base += (v - b.shift) ** 2;
    const fullSse = base + full.objective;
    expect(base + fast.objective).toBeGreaterThanOrEqual(fullSse * (1 - 1e-9));
    expect(base + fast.objective).toBeLessThanOrEqual(fullSse * (1 + 1e-6));
  });
});

describe('1-D k-means: the histogram', () => {
  it('is exact when the values take fewer distinct values than bins', () => {
    // 1M values on 300 levels (an int8-quantized-like tensor): every bin pure, same answer as binning
    // the distinct values with their counts
    const rng = new Rng(4);
    const levels = Float32Array.from({ length: 300 }, (_, i) => (i - 150) * 0.013 + 0.001 * Math.sin(i));
    const x = Float32Array.from(
      { length: 1_000_000 },
      () => levels[Math.min(299, Math.floor(Math.abs(rng.normal()) * 80))]!,
    );
    const b = binValues(x);
    expect(b.grid).toBeDefined();
    expect(b.pure).toBe(true);
    const sorted = Float32Array.from(x).sort();
    const w: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < sorted.length; ) {
      let j = i;
      while (j < sorted.length && sorted[j] === sorted[i]) j++;
      w.push(j - i);
      s.push((j - i) * (sorted[i]! - b.shift));
      i = j;
    }
    expect(b.count).toBe(w.length);
    for (const k of [4, 16, 64]) {
      const r = kmeans1d(x, k);
      const ref = optimalPartition(Float64Array.from(w), Float64Array.from(s), w.length, k);
      expect(r.exact).toBe(true);
      let base = 0;
      for (let i = 0; i < w.length; i++) base += (s[i]! * s[i]!) / w[i]!;
      expect(r.sse / (base + ref.objective)).toBeCloseTo(1, 6);
    }
  });

  it('keeps outliers past the sampled range in bins of their own', () => {
    const rng = new Rng(8);
    const x = Float32Array.from({ length: 500_000 }, () => 0.01 * rng.normal());
    // ten outliers the stride sample is unlikely to see: K = 16 gives each far one its own centroid
    const far = [40, 41, -60, 80, 81, 82, -90, 100, 120, -130];
    far.forEach((v, i) => {
      x[1 + i * 49_999] = v;
    });
    const r = kmeans1d(x, 16);
    for (const v of far)
      expect(Math.min(...Array.from(r.centroids, (c) => Math.abs(c - v)))).toBeLessThan(1.01);
    expect(r.sse).toBeCloseTo(nearestSse(x, r.centroids), 6);
    expect(r.sse).toBeLessThan(0.01 ** 2 * x.length);
  });

  it('reproduces the Lloyd-Max quantizers of a unit normal', () => {
    // Max (1960): mean squared error of the optimal 4-, 8- and 16-level quantizers of N(0, 1)
    const rng = new Rng(9);
    const x = Float32Array.from({ length: 1_000_000 }, () => rng.normal());
    expect(kmeans1d(x, 4).sse / x.length).toBeCloseTo(0.1175, 3);
    expect(kmeans1d(x, 8).sse / x.length).toBeCloseTo(0.03455, 3);
    expect(kmeans1d(x, 16).sse / x.length).toBeCloseTo(0.009497, 4);
    // the optimal 4-level centroids are ±0.4528 and ±1.510
    const c = kmeans1d(x, 4).centroids;
    expect(Math.abs(c[2]!)).toBeCloseTo(0.4528, 2);
    expect(Math.abs(c[3]!)).toBeCloseTo(1.51, 2);
  });
});

describe('1-D k-means: the result', () => {
  it('assigns every value to its nearest centroid, and more clusters never hurt', () => {
    const x = laplace(100_000, 13, 0.02);
    let prev = Number.POSITIVE_INFINITY;
    for (const k of [2, 4, 16, 64, 256]) {
      const r = kmeans1d(x, k);
      expect(r.centroids.length).toBe(k);
      for (let c = 1; c < k; c++) expect(r.centroids[c]!).toBeGreaterThan(r.centroids[c - 1]!);
      let wrong = 0;
      for (let i = 0; i < x.length; i += 7) {
        const d = Math.abs(x[i]! - r.centroids[r.assignment[i]!]!);
        for (const c of r.centroids) if (d > Math.abs(x[i]! - c)) wrong++;
      }
      expect(wrong).toBe(0);
      expect(r.sse).toBeCloseTo(nearestSse(x, r.centroids), 8);
      expect(r.sse).toBeLessThan(prev);
      prev = r.sse;
    }
  });

  it('importance weights act as repeated values (exact), and weight 0 pulls nothing', () => {
    const rng = new Rng(21);
    const base = Float32Array.from({ length: 300 }, () => rng.normal());
    const weights = Float64Array.from(base, () => 1 + rng.int(4));
    const repeated = Float32Array.from(
      Array.from(base).flatMap((v, i) => Array.from({ length: weights[i]! }, () => v)),
    );
    for (const k of [3, 8, 32]) {
      const a = kmeans1d(base, k, { weights });
      const b = kmeans1d(repeated, k);
      expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
      expect(a.sse).toBeCloseTo(b.sse, 10);
      expect(a.sse).toBeCloseTo(nearestSse(base, a.centroids, weights), 10);
    }
    // a far value of weight 0 gets a centroid index but moves no centroid
    const x = Float32Array.of(0, 0.1, 1, 1.1, 100);
    const r = kmeans1d(x, 2, { weights: Float64Array.of(1, 1, 1, 1, 0) });
    expect(Array.from(r.centroids)).toEqual([Math.fround(0.05), Math.fround(1.05)]);
    expect(r.assignment[4]).toBe(1);
    expect(r.sse).toBeCloseTo(nearestSse(x, r.centroids, Float64Array.of(1, 1, 1, 1, 0)), 12);
    expect(r.sse).toBeCloseTo(0.01, 7);
  });

  it('weighted histograms of a large tensor match the weighted error', () => {
    const rng = new Rng(3);
    const x = laplace(200_000, 17);
    const weights = Float64Array.from(x, () => rng.next() * 2);
    const r = kmeans1d(x, 16, { weights });
    expect(r.sse).toBeCloseTo(nearestSse(x, r.centroids, weights), 6);
    // the weighted optimum is better under the weighted error than the unweighted one
    expect(r.sse).toBeLessThan(nearestSse(x, kmeans1d(x, 16).centroids, weights));
  });

  it('writes per-channel codebooks into a shared index array', () => {
    const rng = new Rng(6);
    const rows = 8;
    const cols = 500;
    const w = Float32Array.from({ length: rows * cols }, (_, i) => rng.normal() * (1 + Math.floor(i / cols)));
    const indices = new Uint8Array(rows * cols);
    let perChannel = 0;
    for (let r = 0; r < rows; r++) {
      const res = kmeans1d(w.subarray(r * cols, (r + 1) * cols), 4, {
        assignment: indices.subarray(r * cols, (r + 1) * cols),
      });
      expect(res.exact).toBe(true);
      perChannel += res.sse;
      for (let i = 0; i < cols; i += 50) expect(indices[r * cols + i]).toBe(res.assignment[i]);
    }
    // one codebook per row beats one for the whole tensor at the same K
    expect(perChannel).toBeLessThan(kmeans1d(w, 4).sse);
  });

  it('handles fewer distinct values than clusters, and rejects bad input', () => {
    const r = kmeans1d(Float32Array.from([1, 1, 2, 2, 2]), 16);
    expect(Array.from(r.centroids)).toEqual([1, 2]);
    expect(r.sse).toBe(0);
    expect(kmeans1d(new Float32Array(0), 4).centroids.length).toBe(0);
    expect(() => kmeans1d(Float32Array.of(1, Number.NaN), 2)).toThrow(/NaN or infinite/);
    expect(() => kmeans1d(Float32Array.of(1, 2), 2, { weights: Float64Array.of(1, -1) })).toThrow(/weight/);
    expect(() => kmeans1d(Float32Array.of(1, 2), 257)).toThrow(/clusters/);
    const big = laplace(100_000, 1);
    big[77] = Number.POSITIVE_INFINITY;
    expect(() => kmeans1d(big, 4)).toThrow(/NaN or infinite/);
  });
});
