// Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii 2007) over the weighted bins of
// kernels/kmeans1d, the alternative to the exact dynamic program (`init: 'kmeans++'`):
//  1. seeding: greedy k-means++ as scikit-learn does it: the first centre is a bin drawn by weight;
//     each next one is the best (least total error) of 2 + ⌊ln K⌋ candidates drawn by w·D², D the
//     distance of the bin's mean to its nearest centre so far
//  2. Lloyd: in one dimension the clusters of sorted centres are contiguous runs of the sorted bins
//     (split at the midpoints), so each iteration is one merge scan over the bins; stop when no run
//     changes or after maxIter iterations
//  3. the result is a Partition (the runs' exclusive ends), like kernels/kmeans-dp.ts: kmeans1d makes
//     the centroids, the assignment and the error from it either way
// A bin stands for its values by its mean: the within-bin spread does not move the centres (it is
// the same for every partition), so Lloyd on bins is Lloyd on the values whenever bins are pure.

import type { Partition } from './kmeans-dp.js';
import { Rng } from './random.js';

export interface LloydOptions {
  seed?: number;
  /** Lloyd iterations at most (default 300, scikit-learn's) */
  maxIter?: number;
}

/** index of the first of the ascending `cen` >= x (cen.length when none) */
function firstAtLeast(cen: Float64Array, x: number): number {
  let a = 0;
  let b = cen.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (cen[m]! < x) a = m + 1;
    else b = m;
  }
  return a;
}

/** k-means++ centres (ascending) of the bins' means, weighted by the bins' weights (rule 1) */
function seed(mean: Float64Array, weight: Float64Array, k: number, rng: Rng): Float64Array {
  const g = mean.length;
  const d2 = new Float64Array(g).fill(Number.POSITIVE_INFINITY);
  const chosen: number[] = [];
  const draw = (p: Float64Array, total: number): number => {
    let u = rng.next() * total;
    for (let b = 0; b < g; b++) {
      u -= p[b]!;
      if (u < 0) return b;
    }
    return g - 1;
  };
  let total = 0;
  for (let b = 0; b < g; b++) total += weight[b]!;
  const p = new Float64Array(g);
  let first = draw(weight, total);
  for (let b = 0; b < g; b++) d2[b] = (mean[b]! - mean[first]!) ** 2;
  chosen.push(first);
  const trials = 2 + Math.floor(Math.log(k));
  while (chosen.length < k) {
    let pot = 0;
    for (let b = 0; b < g; b++) {
      p[b] = weight[b]! * d2[b]!;
      pot += p[b]!;
    }
    if (!(pot > 0)) break; // every bin sits on a centre
    let best = -1;
    let bestPot = Number.POSITIVE_INFINITY;
    for (let t = 0; t < trials; t++) {
      const c = draw(p, pot);
      let s = 0;
      for (let b = 0; b < g; b++) s += weight[b]! * Math.min(d2[b]!, (mean[b]! - mean[c]!) ** 2);
      if (s < bestPot) {
        bestPot = s;
        best = c;
      }
    }
    first = best;
    for (let b = 0; b < g; b++) d2[b] = Math.min(d2[b]!, (mean[b]! - mean[first]!) ** 2);
    chosen.push(first);
  }
  return Float64Array.from(new Set(chosen), (b) => mean[b]!).sort();
}

/**
 * Lloyd's k-means over `count` weighted bins sorted by value (weights > 0, sums of x − shift),
 * k-means++ seeded: the runs it converges to.
 */
export function lloydPartition(
  weight: Float64Array,
  sum: Float64Array,
  count: number,
  k: number,
  options: LloydOptions = {},
): Partition {
  const w = weight.subarray(0, count);
  const mean = Float64Array.from({ length: count }, (_, b) => sum[b]! / weight[b]!);
  let cen = seed(mean, w, Math.max(1, Math.min(k, count)), new Rng(options.seed ?? 0));
  let ends = new Int32Array(0);
  const maxIter = options.maxIter ?? 300;
  for (let it = 0; it < maxIter; it++) {
    // rule 2: runs split at the midpoints of consecutive centres; empty runs vanish
    const next: number[] = [];
    for (let c = 0; c + 1 < cen.length; c++) {
      const e = firstAtLeast(mean, (cen[c]! + cen[c + 1]!) / 2);
      if (e > (next.at(-1) ?? 0)) next.push(e);
    }
    if ((next.at(-1) ?? 0) < count) next.push(count);
    const same = next.length === ends.length && next.every((e, i) => e === ends[i]);
    ends = Int32Array.from(next);
    if (same) break;
    cen = new Float64Array(ends.length);
    let start = 0;
    for (let c = 0; c < ends.length; c++) {
      let ws = 0;
      let ss = 0;
      for (let b = start; b < ends[c]!; b++) {
        ws += weight[b]!;
        ss += sum[b]!;
      }
      cen[c] = ss / ws;
      start = ends[c]!;
    }
  }
  let objective = 0;
  let start = 0;
  for (const e of ends) {
    let ws = 0;
    let ss = 0;
    for (let b = start; b < e; b++) {
      ws += weight[b]!;
      ss += sum[b]!;
    }
    objective -= (ss * ss) / ws;
    start = e;
  }
  return { ends, objective, full: false };
}
