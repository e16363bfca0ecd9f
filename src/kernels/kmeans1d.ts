// 1-D k-means for weight clustering, solved by dynamic programming (Wang & Song 2011, Ckmeans.1d.dp;
// Grønlund et al. 2017) over a histogram of the values.
//  1. bins: n <= `bins` values are sorted (Float32Array.prototype.sort is numeric) and every distinct
//     value is a bin. More values go into a two-level histogram in one pass: 1024 equal-width coarse
//     bins over the range of a strided sample (2^18 values), each split into equal-width sub-bins by a
//     share of `bins` that is 0.2 by its sampled count and 0.8 by count^(1/3) (optimal centroids are
//     spaced as density^(−1/3), so sparse tails get bins finer than their clusters); the few values
//     outside the sample's range get a bin per distinct value. A full sort of 10M floats costs ~1.1 s
//     (Float32Array.prototype.sort) against ~0.1 s for this pass. A bin keeps its weight and weighted
//     sum of (x − shift); `pure`: every bin holds one distinct value.
//  2. the partition of the bins into K contiguous runs with the least error is a dynamic program
//     (kernels/kmeans-dp.ts): divide and conquer per layer, O(K·B·log B), and past 2^18 cells coarse
//     to fine over 16·K groups with windowed re-solves. `exact` is reported only when the full DP ran
//     over pure bins.
//  3. centroids are the weighted means of the runs, rounded to float32 (as stored); every value is then
//     assigned to its nearest float32 centroid (ties to the lower: a bin whose whole range has one
//     nearest centroid maps to it, the values of the few bins that straddle a midpoint are searched)
//     and the error is summed in float64 in that pass, so `sse` is the error of the codebook as written.
//  4. `init: 'kmeans++'` replaces the dynamic program of step 2 by Lloyd's iterations from a k-means++
//     seeding over the same bins (kernels/kmeans-pp.ts); steps 1 and 3 are shared.
// Optional importance weights (>= 0) make the error Σ wᵢ(xᵢ − c)² (importance-weighted clustering); a
// value of weight 0 still gets its nearest centroid but pulls none.

import { EdgefitError } from '../errors.js';
import { CELLS, optimalPartition } from './kmeans-dp.js';
import { lloydPartition } from './kmeans-pp.js';

export { optimalPartition, type Partition } from './kmeans-dp.js';

export interface KMeansOptions {
  /** importance of each value (>= 0, length n): the error becomes Σ wᵢ·(xᵢ − c)² */
  weights?: Float32Array | Float64Array;
  /** histogram resolution for inputs longer than this (default and maximum 65535) */
  bins?: number;
  /** where to write the assignment (length n), e.g. a subarray of a whole tensor's indices */
  assignment?: Uint8Array;
  /** run the DP over every bin, however long it takes (default: coarse to fine past CELLS) */
  full?: boolean;
  /** 'dp' (default): the exact dynamic program; 'kmeans++': Lloyd from a k-means++ seeding (rule 4) */
  init?: 'dp' | 'kmeans++';
  /** seed of the k-means++ draws */
  seed?: number;
}

export interface KMeansResult {
  /** [K'] centroids, ascending (K' = min(K, distinct values)) */
  centroids: Float32Array;
  /** [n] index of each value's centroid */
  assignment: Uint8Array;
  /** (weighted) sum of squared errors of the float32 centroids, summed in float64 */
  sse: number;
  /** the global optimum: the full DP ran over bins that each hold one distinct value */
  exact: boolean;
  /** bins the dynamic program ran over */
  bins: number;
}

/** Where a value falls in the two-level histogram (binValues of more than `bins` values). */
interface Grid {
  lo: number;
  cscale: number;
  sub: Int32Array;
  off: Int32Array;
}

/** Bins of a 1-D data set, ascending by value: weight and weighted sum of (x − shift) per bin. */
export interface Bins {
  /** bins in use */
  count: number;
  weight: Float64Array;
  sum: Float64Array;
  /** subtracted from every value before summing (keeps the prefix sums small) */
  shift: number;
  /** every bin holds a single distinct value */
  pure: boolean;
  grid?: Grid;
}

const COARSE = 1024;
/** the histogram's sample: at least this many values, evenly strided */
const SAMPLE = 1 << 18;
const MAX_BINS = 65535;

function badValue(what: string): never {
  throw new EdgefitError('BAD_DATA', `k-means: ${what}`, 'cluster finite values with finite weights >= 0');
}

/** Bins of values (and weights): distinct values when n <= maxBins, else a two-level histogram. */
export function binValues(
  values: Float32Array,
  weights?: Float32Array | Float64Array,
  maxBins = MAX_BINS,
): Bins {
  const n = values.length;
  if (weights && weights.length !== n)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `k-means: ${weights.length} weights for ${n} values`,
      'give one weight per value',
    );
  if (weights)
    for (let i = 0; i < n; i++) {
      const w = weights[i]!;
      if (!(w >= 0 && w < Number.POSITIVE_INFINITY)) badValue('a weight is negative or not finite');
    }
  const B = Math.max(COARSE * 2, Math.min(MAX_BINS, Math.floor(maxBins)));
  if (n > B) {
    const bins = histogramBins(values, weights, B);
    if (bins) return bins;
  }
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (n > B && !Number.isFinite(lo + hi)) badValue('a value is NaN or infinite');
  const shift = Number.isFinite(lo + hi) ? (lo + hi) / 2 : 0;
  if (n <= B || lo === hi) return sortedBins(values, weights, shift);
  return histogramBins(values, weights, B, lo, hi)!;
}

function sortedBins(
  values: Float32Array,
  weights: Float32Array | Float64Array | undefined,
  shift: number,
): Bins {
  const n = values.length;
  const weight = new Float64Array(n);
  const sum = new Float64Array(n);
  let g = 0;
  if (!weights) {
    const sorted = Float32Array.from(values).sort();
    for (let i = 0; i < n; ) {
      const x = sorted[i]!;
      if (!Number.isFinite(x)) badValue('a value is NaN or infinite');
      let j = i + 1;
      while (j < n && sorted[j] === x) j++;
      weight[g] = j - i;
      sum[g] = (j - i) * (x - shift);
      g++;
      i = j;
    }
  } else {
    const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
    for (let i = 0; i < n; ) {
      const x = values[order[i]!]!;
      if (!Number.isFinite(x)) badValue('a value is NaN or infinite');
      let w = 0;
      let s = 0;
      let j = i;
      for (; j < n && values[order[j]!] === x; j++) {
        w += weights[order[j]!]!;
        s += weights[order[j]!]! * (x - shift);
      }
      if (w > 0) {
        weight[g] = w;
        sum[g] = s;
        g++;
      }
      i = j;
    }
  }
  return { count: g, weight, sum, shift, pure: true };
}

/** The fine bin of x in the two-level histogram, or −1 outside [lo, hi] (and for NaN). */
function fineBin(x: number, lo: number, cscale: number, sub: Int32Array, off: Int32Array): number {
  const u = (x - lo) * cscale;
  if (!(u >= 0 && u <= COARSE)) return -1;
  let c = u | 0;
  if (c >= COARSE) c = COARSE - 1;
  const f = sub[c]!;
  let t = ((u - c) * f) | 0;
  if (t >= f) t = f - 1;
  return off[c]! + t;
}

/**
 * Bin values[from..): weight and weighted sum per fine bin (values past [lo, hi] are listed in
 * `outside`). With `first`, also checks each value against its bin's first value and
 * stops after the first that differs, returning where to go on; else returns n.
 */
function fillBins(
  values: Float32Array,
  weights: Float32Array | Float64Array | undefined,
  from: number,
  geometry: { lo: number; cscale: number; sub: Int32Array; off: Int32Array; shift: number },
  fw: Float64Array,
  fs: Float64Array,
  outside: number[],
  first: Float32Array | undefined,
): number {
  const { lo, cscale, sub, off, shift } = geometry;
  const n = values.length;
  for (let i = from; i < n; i++) {
    const x = values[i]!;
    const b = fineBin(x, lo, cscale, sub, off);
    if (b < 0) {
      outside.push(i);
      continue;
    }
    const w = weights ? weights[i]! : 1;
    fw[b]! += w;
    fs[b]! += w * (x - shift);
    if (first) {
      const p = first[b]!;
      if (p !== x) {
        if (!Number.isNaN(p)) return i + 1;
        first[b] = x;
      }
    }
  }
  return n;
}

/**
 * The two-level histogram over [lo, hi]: by default the range of a strided sample of at least 2^18
 * values, and the few values outside it get a bin per distinct value at either end. Undefined when
 * the sample cannot stand for the data (constant, or more than n/64 values outside its range): the
 * caller then passes the exact lo and hi.
 */
function histogramBins(
  values: Float32Array,
  weights: Float32Array | Float64Array | undefined,
  B: number,
  exactLo?: number,
  exactHi?: number,
): Bins | undefined {
  const n = values.length;
  const stride = Math.max(1, Math.floor(n / SAMPLE));
  const sample = new Float32Array(Math.ceil(n / stride));
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0, j = 0; i < n; i += stride, j++) {
    const x = values[i]!;
    sample[j] = x;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (exactLo !== undefined && exactHi !== undefined) {
    lo = exactLo;
    hi = exactHi;
  }
  if (!(lo < hi && Number.isFinite(lo) && Number.isFinite(hi))) return undefined;
  const shift = (lo + hi) / 2;
  const cscale = COARSE / (hi - lo);
  // coarse counts on the sample (they only apportion the sub-bins)
  const coarse = new Float64Array(COARSE);
  for (let j = 0; j < sample.length; j++) {
    const u = (sample[j]! - lo) * cscale;
    if (u >= 0 && u <= COARSE) coarse[u >= COARSE ? COARSE - 1 : u | 0]!++;
  }
  // every coarse bin gets one sub-bin (a value the sample missed may fall there) plus its share of the
  // rest: Σ <= COARSE + (B − COARSE) = B
  const sub = new Int32Array(COARSE);
  const off = new Int32Array(COARSE);
  // the share of a coarse bin: 0.2 by its count (equal-mass bins), 0.8 by count^(1/3) (optimal
  // centroids are spaced as density^(−1/3), so sparse tails still get bins finer than their clusters)
  let sampled = 0;
  let cubes = 0;
  for (let c = 0; c < COARSE; c++) {
    sampled += coarse[c]!;
    cubes += Math.cbrt(coarse[c]!);
  }
  const spare = B - COARSE;
  let total = 0;
  for (let c = 0; c < COARSE; c++) {
    off[c] = total;
    const share =
      0.2 * (coarse[c]! / Math.max(1, sampled)) + 0.8 * (Math.cbrt(coarse[c]!) / Math.max(1, cubes));
    sub[c] = 1 + Math.floor(spare * share);
    total += sub[c]!;
  }
  const fw = new Float64Array(total);
  const fs = new Float64Array(total);
  const first = new Float32Array(total).fill(Number.NaN);
  const outside: number[] = [];
  // one pass: the fine bin of every value (kept for the assignment), its weight and sum; until a bin
  // turns out impure each value is also checked against its bin's first value
  const geometry = { lo, cscale, sub, off, shift };
  const impure = fillBins(values, weights, 0, geometry, fw, fs, outside, first);
  const pure = impure === n;
  if (!pure) fillBins(values, weights, impure, geometry, fw, fs, outside, undefined);
  if (outside.length > n / 64 && exactLo === undefined) return undefined;
  // values outside [lo, hi]: a bin per distinct value, below the grid's bins or above them
  const out = sortedBins(
    Float32Array.from(outside, (i) => values[i]!),
    weights ? Float64Array.from(outside, (i) => weights[i]!) : undefined,
    shift,
  );
  let below = 0;
  while (below < out.count && out.sum[below]! < (lo - shift) * out.weight[below]!) below++;
  // the bins in order: outside values below, the grid's non-empty bins, outside values above
  const weight = new Float64Array(total + out.count);
  const sum = new Float64Array(total + out.count);
  let g = 0;
  for (; g < below; g++) {
    weight[g] = out.weight[g]!;
    sum[g] = out.sum[g]!;
  }
  for (let b = 0; b < total; b++) {
    if (fw[b]! > 0) {
      weight[g] = fw[b]!;
      sum[g] = fs[b]!;
      g++;
    }
  }
  for (let o = below; o < out.count; o++, g++) {
    weight[g] = out.weight[o]!;
    sum[g] = out.sum[o]!;
  }
  return {
    count: g,
    weight,
    sum,
    shift,
    pure,
    grid: { lo, cscale, sub, off },
  };
}

/** nearest of the ascending centroids to x, searching from c (ties go to the lower index) */
function nearestFrom(x: number, cen: Float32Array, c: number): number {
  const last = cen.length - 1;
  while (c > 0 && Math.abs(x - cen[c - 1]!) <= Math.abs(x - cen[c]!)) c--;
  while (c < last && Math.abs(x - cen[c + 1]!) < Math.abs(x - cen[c]!)) c++;
  return c;
}

/** index of the first centroid >= x (the last if none) */
function lowerBound(cen: Float32Array, x: number): number {
  let a = 0;
  let b = cen.length - 1;
  while (a < b) {
    const mid = (a + b) >> 1;
    if (cen[mid]! < x) a = mid + 1;
    else b = mid;
  }
  return a;
}

/**
 * Optimal 1-D k-means of `values` (k <= 256): the codebook, each value's index and the error.
 * Works on any Float32Array, so a per-channel codebook is `kmeans1d(w.subarray(a, b), k, { assignment:
 * indices.subarray(a, b) })`.
 */
export function kmeans1d(values: Float32Array, k: number, options: KMeansOptions = {}): KMeansResult {
  if (!Number.isInteger(k) || k < 1 || k > 256)
    throw new EdgefitError('BAD_ARGUMENT', `k-means: ${k} clusters`, 'use 1 to 256 clusters');
  const n = values.length;
  const weights = options.weights;
  const assignment = options.assignment ?? new Uint8Array(n);
  if (assignment.length !== n)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `k-means: an assignment of length ${assignment.length} for ${n} values`,
    );
  const bins = binValues(values, weights, options.bins);
  if (n === 0) return { centroids: new Float32Array(0), assignment, sse: 0, exact: true, bins: 0 };
  let count = bins.count;
  if (count === 0) {
    // every weight is 0: nothing pulls; one centroid at the plain mean
    let s = 0;
    for (let i = 0; i < n; i++) s += values[i]! - bins.shift;
    bins.weight[0] = n;
    bins.sum[0] = s;
    count = 1;
  }
  const part =
    options.init === 'kmeans++'
      ? lloydPartition(bins.weight, bins.sum, count, k, { seed: options.seed ?? 0 })
      : optimalPartition(bins.weight, bins.sum, count, k, options.full ? Number.POSITIVE_INFINITY : CELLS);
  const { ends } = part;
  const m = ends.length;
  const centroids = new Float32Array(m);
  let start = 0;
  for (let c = 0; c < m; c++) {
    let w = 0;
    let s = 0;
    for (let b = start; b < ends[c]!; b++) {
      w += bins.weight[b]!;
      s += bins.sum[b]!;
    }
    centroids[c] = bins.shift + s / w;
    start = ends[c]!;
  }
  // runs of tiny weight may round to the float32 of a neighbour: keep distinct centroids
  let distinct = 1;
  for (let c = 1; c < m; c++)
    if (centroids[c] !== centroids[distinct - 1]) centroids[distinct++] = centroids[c]!;
  const cen = distinct === m ? centroids : centroids.slice(0, distinct);
  const sse = bins.grid
    ? assignByGrid(values, weights, cen, bins.grid, assignment)
    : assignBySearch(values, weights, cen, assignment);
  return { centroids: cen, assignment, sse, exact: part.full && bins.pure, bins: count };
}

function assignBySearch(
  values: Float32Array,
  weights: Float32Array | Float64Array | undefined,
  cen: Float32Array,
  out: Uint8Array,
): number {
  let sse = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    const c = nearestFrom(x, cen, lowerBound(cen, x));
    out[i] = c;
    const d = x - cen[c]!;
    sse += weights ? weights[i]! * d * d : d * d;
  }
  return sse;
}

function assignByGrid(
  values: Float32Array,
  weights: Float32Array | Float64Array | undefined,
  cen: Float32Array,
  grid: Grid,
  out: Uint8Array,
): number {
  const { lo, cscale, sub, off } = grid;
  // a fine bin whose whole value range (widened by far more than the rounding of its index) has one
  // nearest centroid maps to it; the values of the other bins (a few per boundary) are searched
  const cell = new Int16Array(sub.reduce((t, f) => t + f, 0));
  const margin = 1e-9 * (COARSE / cscale);
  let start = 0;
  for (let c = 0; c < COARSE; c++) {
    const f = sub[c]!;
    for (let t = 0; t < f; t++) {
      const a = lo + (c + t / f) / cscale - margin;
      const z = lo + (c + (t + 1) / f) / cscale + margin;
      start = nearestFrom(a, cen, start);
      cell[off[c]! + t] = nearestFrom(z, cen, start) === start ? start : -1;
    }
  }
  let sse = 0;
  const n = values.length;
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    const b = fineBin(x, lo, cscale, sub, off);
    let k = b < 0 ? -1 : cell[b]!;
    if (k < 0) k = nearestFrom(x, cen, lowerBound(cen, x));
    out[i] = k;
    const d = x - cen[k]!;
    sse += weights ? weights[i]! * d * d : d * d;
  }
  return sse;
}
