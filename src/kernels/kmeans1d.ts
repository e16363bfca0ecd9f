// 1-D k-means for weight clustering: on sorted values every cluster is a contiguous run, so Lloyd's
// algorithm needs only the boundaries between centroids (binary search) and prefix sums for the means.
// Initialised at quantiles of the distribution (dense regions get more centroids), then iterated to a
// fixed point. O(n log n) for the sort, O(K log n) per iteration.

export interface KMeansResult {
  /** [K] centroids, ascending */
  centroids: Float32Array;
  /** [n] index of each value's centroid */
  assignment: Uint8Array;
  /** sum of squared errors */
  sse: number;
}

function lowerBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** values: [n]; k <= 256 */
export function kmeans1d(values: Float32Array, k: number, maxIterations = 50): KMeansResult {
  const n = values.length;
  const sorted = Float64Array.from(values).sort();
  const prefix = new Float64Array(n + 1);
  const prefix2 = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    prefix[i + 1] = prefix[i]! + sorted[i]!;
    prefix2[i + 1] = prefix2[i]! + sorted[i]! * sorted[i]!;
  }
  const distinct = new Set(sorted).size;
  const K = Math.max(1, Math.min(k, distinct));
  let centroids = new Float64Array(K);
  for (let c = 0; c < K; c++) centroids[c] = sorted[Math.min(n - 1, Math.floor(((c + 0.5) * n) / K))]!;
  centroids = Float64Array.from(new Set(centroids)).sort();
  let bounds = new Int32Array(centroids.length + 1);
  for (let it = 0; it < maxIterations; it++) {
    // cluster c holds sorted[bounds[c] .. bounds[c+1])
    const m = centroids.length;
    bounds = new Int32Array(m + 1);
    bounds[m] = n;
    for (let c = 1; c < m; c++) bounds[c] = lowerBound(sorted, (centroids[c - 1]! + centroids[c]!) / 2);
    const next = new Float64Array(m);
    let moved = false;
    for (let c = 0; c < m; c++) {
      const a = bounds[c]!;
      const b = bounds[c + 1]!;
      next[c] = b > a ? (prefix[b]! - prefix[a]!) / (b - a) : centroids[c]!;
      if (Math.abs(next[c]! - centroids[c]!) > 1e-12 * (1 + Math.abs(centroids[c]!))) moved = true;
    }
    centroids = next;
    if (!moved) break;
  }
  const m = centroids.length;
  let sse = 0;
  for (let c = 0; c < m; c++) {
    const a = bounds[c]!;
    const b = bounds[c + 1]!;
    const cnt = b - a;
    const s = prefix[b]! - prefix[a]!;
    sse += prefix2[b]! - prefix2[a]! - (cnt ? (s * s) / cnt : 0);
  }
  const out = Float32Array.from(centroids);
  // assign each original value to its nearest centroid (float32 centroids, as stored)
  const assignment = new Uint8Array(n);
  const search = Float64Array.from(out);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    let j = lowerBound(search, v);
    if (j >= m) j = m - 1;
    if (j > 0 && Math.abs(out[j - 1]! - v) <= Math.abs(out[j]! - v)) j--;
    assignment[i] = j;
  }
  return { centroids: out, assignment, sse };
}
