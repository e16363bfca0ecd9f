// The dynamic program of 1-D k-means (kernels/kmeans1d) over weighted bins sorted by value:
//  1. on sorted values every optimal cluster is a contiguous run of bins. With prefix sums W, S the
//     error of a run (i, j] is Σw·x² − (S_j − S_i)² / (W_j − W_i); Σw·x² is constant, so the DP
//     minimises D_k(j) = min_i D_{k−1}(i) − (S_j − S_i)² / (W_j − W_i). The cost is concave Monge,
//     so the best split is monotone in j: each layer is one divide and conquer over j (level by level,
//     no recursion), O(K·B·log B) for B bins; the splits are kept per layer for the backtrack.
//  2. when (K − 2)·B > CELLS (and B > 16·K) the DP first runs over 16·K groups of consecutive bins,
//     cut where the spread of a group's bin means would pass a threshold τ (bisected to the group
//     count), so isolated outliers keep groups of their own; that is the optimum over partitions at
//     group resolution. Then it re-solves over the bins with every boundary held within ±16 groups of
//     where the last solve put it, recentring while a boundary lands on its window's edge (8 rounds at
//     most). Each solve is at least as good as the one before; on the tests it finds the full DP's
//     partition.
// Pure arithmetic over Float64Arrays: no imports.

export interface Partition {
  /** [K'] exclusive end bin of each run, ascending; the last is the bin count */
  ends: Int32Array;
  /** the DP objective −Σ S²/W over the runs (the error is Σw·(x − shift)² plus this) */
  objective: number;
  /** the full DP ran (not coarse to fine) */
  full: boolean;
}

/** DP cells (layers × bins) past which the DP goes coarse to fine */
export const CELLS = 1 << 18;
/** coarse groups per cluster */
const GROUPS = 16;
/** a refined boundary's window: ± WINDOW coarse groups */
const WINDOW = 16;
/** at most this many recentred windows */
const ROUNDS = 8;

/** cost of the run (i, j] from prefix sums: −(S_j − S_i)² / (W_j − W_i) */
function runCost(ps: Float64Array, pw: Float64Array, i: number, j: number): number {
  const d = ps[j]! - ps[i]!;
  return -(d * d) / (pw[j]! - pw[i]!);
}

/**
 * One DP layer by divide and conquer over j, level by level: for j = jlo + t (t < span),
 * cur[t] = min over i in [ilo, min(ihi, j − 1)] of prev[i − ilo] − (S_j − S_i)² / (W_j − W_i), and
 * split[t] = its argmin, which is non-decreasing in j (concave Monge cost). opt: scratch of span + 2.
 */
function dcLayer(
  ps: Float64Array,
  pw: Float64Array,
  prev: Float64Array,
  ilo: number,
  ihi: number,
  cur: Float64Array,
  split: Uint16Array | Int32Array,
  jlo: number,
  span: number,
  opt: Int32Array,
): void {
  // positions u = 1..span hold j = jlo + u − 1; u = 0 and u = span + 1 are the bounds
  opt[0] = ilo;
  opt[span + 1] = ihi;
  let top = 1;
  while (top < span + 1) top <<= 1;
  for (let step = top >> 1; step >= 1; step >>= 1)
    for (let u = step; u <= span; u += step << 1) {
      const j = jlo + u - 1;
      const a = opt[u - step]!;
      const b = Math.min(u + step <= span ? opt[u + step]! : ihi, j - 1);
      const sj = ps[j]!;
      const wj = pw[j]!;
      let best = Number.POSITIVE_INFINITY;
      let arg = a;
      for (let i = a; i <= b; i++) {
        const d = sj - ps[i]!;
        const v = prev[i - ilo]! - (d * d) / (wj - pw[i]!);
        if (v < best) {
          best = v;
          arg = i;
        }
      }
      cur[u - 1] = best;
      opt[u] = arg;
      split[u - 1] = arg;
    }
}

/** The full DP over prefix sums ps, pw [g + 1] into exactly K runs (1 <= K <= g): ends and objective. */
function fullDp(
  ps: Float64Array,
  pw: Float64Array,
  g: number,
  K: number,
): { ends: Int32Array; objective: number } {
  if (K === g) {
    const ends = Int32Array.from({ length: g }, (_, i) => i + 1);
    let objective = 0;
    for (let i = 0; i < g; i++) objective += runCost(ps, pw, i, i + 1);
    return { ends, objective };
  }
  // layer `layer` holds j in [layer, layer + span − 1] at [j − layer] (K runs must still fit after j)
  const span = g - K + 1;
  let prev = new Float64Array(span);
  let cur = new Float64Array(span);
  for (let t = 0; t < span; t++) prev[t] = runCost(ps, pw, 0, t + 1);
  const splits: (Uint16Array | Int32Array)[] = [];
  const opt = new Int32Array(span + 2);
  for (let layer = 2; layer < K; layer++) {
    const split = g >= 65536 ? new Int32Array(span) : new Uint16Array(span);
    dcLayer(ps, pw, prev, layer - 1, layer + span - 2, cur, split, layer, span, opt);
    splits.push(split);
    const t = prev;
    prev = cur;
    cur = t;
  }
  let objective = prev[span - 1]!;
  let arg = 0;
  if (K > 1) {
    objective = Number.POSITIVE_INFINITY;
    for (let i = K - 1; i < g; i++) {
      const v = prev[i - (K - 1)]! + runCost(ps, pw, i, g);
      if (v < objective) {
        objective = v;
        arg = i;
      }
    }
  }
  const ends = new Int32Array(K);
  ends[K - 1] = g;
  if (K > 1) {
    ends[K - 2] = arg;
    for (let layer = K - 1; layer >= 2; layer--)
      ends[layer - 2] = splits[layer - 2]![ends[layer - 1]! - layer]!;
  }
  return { ends, objective };
}

/**
 * Re-solve the DP with boundary k (k < K − 1) restricted to the window [lo[k], hi[k]] (ascending in k,
 * each clipped to where K runs still fit), each layer by divide and conquer over its window. Updates
 * ends; returns the objective and whether a boundary landed on the edge of its window (then the caller
 * recentres the windows and repeats).
 */
function windowDp(
  ps: Float64Array,
  pw: Float64Array,
  g: number,
  ends: Int32Array,
  lo: Int32Array,
  hi: Int32Array,
): { objective: number; edge: boolean } {
  const K = ends.length;
  const atEdge = new Uint8Array(K - 1);
  for (let k = 0; k < K - 1; k++) {
    const a = Math.max(k + 1, lo[k]!);
    const b = Math.min(g - (K - 1 - k), hi[k]!);
    // an edge that the clip did not set: the optimum may lie beyond it
    atEdge[k] = (a === lo[k]! && a > k + 1 ? 1 : 0) | (b === hi[k]! && b < g - (K - 1 - k) ? 2 : 0);
    lo[k] = a;
    hi[k] = Math.max(a, b);
  }
  let prev = new Float64Array(hi[0]! - lo[0]! + 1);
  for (let j = lo[0]!; j <= hi[0]!; j++) prev[j - lo[0]!] = runCost(ps, pw, 0, j);
  const splits: Int32Array[] = [];
  let widest = 0;
  for (let k = 0; k < K - 1; k++) widest = Math.max(widest, hi[k]! - lo[k]! + 1);
  const opt = new Int32Array(widest + 2);
  for (let k = 1; k < K - 1; k++) {
    const span = hi[k]! - lo[k]! + 1;
    const cur = new Float64Array(span);
    const split = new Int32Array(span);
    dcLayer(ps, pw, prev, lo[k - 1]!, hi[k - 1]!, cur, split, lo[k]!, span, opt);
    splits.push(split);
    prev = cur;
  }
  let objective = Number.POSITIVE_INFINITY;
  let arg = lo[K - 2]!;
  for (let i = lo[K - 2]!; i <= hi[K - 2]!; i++) {
    const v = prev[i - lo[K - 2]!]! + runCost(ps, pw, i, g);
    if (v < objective) {
      objective = v;
      arg = i;
    }
  }
  let edge = false;
  for (let k = K - 2; k >= 0; k--) {
    if ((arg === lo[k]! && atEdge[k]! & 1) || (arg === hi[k]! && atEdge[k]! & 2)) edge = true;
    ends[k] = arg;
    if (k > 0) arg = splits[k - 1]![arg - lo[k]!]!;
  }
  return { objective, edge };
}

/**
 * Edges (bin indices 0 … g) of at most `target` groups of consecutive bins: a greedy scan closes a
 * group when the spread of its bin means about their mean would pass τ, and τ is bisected until the
 * scan makes 0.9·target to target groups. Sparse outliers get groups of their own.
 */
function groupEdges(weight: Float64Array, sum: Float64Array, g: number, target: number): Int32Array {
  const scan = (tau: number, out?: Int32Array): number => {
    let groups = 0;
    let W = 0;
    let S = 0;
    let Q = 0;
    for (let b = 0; b < g; b++) {
      const w = weight[b]!;
      const s = sum[b]!;
      const q = (s * s) / w;
      const w2 = W + w;
      const s2 = S + s;
      const q2 = Q + q;
      if (W > 0 && q2 - (s2 * s2) / w2 > tau) {
        if (out) out[groups + 1] = b;
        groups++;
        W = w;
        S = s;
        Q = q;
      } else {
        W = w2;
        S = s2;
        Q = q2;
      }
    }
    return groups + 1;
  };
  let total = 0;
  let W = 0;
  let S = 0;
  for (let b = 0; b < g; b++) {
    total += (sum[b]! * sum[b]!) / weight[b]!;
    W += weight[b]!;
    S += sum[b]!;
  }
  let hiTau = Math.max(total - (S * S) / W, Number.MIN_VALUE);
  let loTau = hiTau * 1e-30;
  for (let it = 0; it < 60; it++) {
    const mid = Math.sqrt(loTau * hiTau);
    const groups = scan(mid);
    if (groups > target) loTau = mid;
    else {
      hiTau = mid;
      if (groups >= 0.9 * target) break;
    }
  }
  const edges = new Int32Array(scan(hiTau) + 1);
  scan(hiTau, edges);
  edges[edges.length - 1] = g;
  return edges;
}

/**
 * Optimal partition of `count` weighted bins (every weight > 0) into min(k, count) contiguous runs.
 * `cells`: the full DP when (K − 2)·count <= cells, else coarse to fine (rule 2).
 */
export function optimalPartition(
  weight: Float64Array,
  sum: Float64Array,
  count: number,
  k: number,
  cells = CELLS,
): Partition {
  const g = count;
  const K = Math.max(1, Math.min(k, g));
  const pw = new Float64Array(g + 1);
  const ps = new Float64Array(g + 1);
  for (let i = 0; i < g; i++) {
    pw[i + 1] = pw[i]! + weight[i]!;
    ps[i + 1] = ps[i]! + sum[i]!;
  }
  const target = GROUPS * K;
  if (K <= 2 || K === g || (K - 2) * g <= cells || g <= target)
    return { ...fullDp(ps, pw, g, K), full: true };
  // coarse level: groups of consecutive bins, none with a between-bin error above τ (rule 2)
  const edges = groupEdges(weight, sum, g, target);
  const cg = edges.length - 1;
  const cps = Float64Array.from(edges, (e) => ps[e]!);
  const cpw = Float64Array.from(edges, (e) => pw[e]!);
  const coarse = fullDp(cps, cpw, cg, Math.min(K, cg));
  if (coarse.ends.length < K) return { ...fullDp(ps, pw, g, K), full: true };
  const ends = Int32Array.from(coarse.ends, (e) => edges[e]!);
  let objective = coarse.objective;
  const lo = new Int32Array(K - 1);
  const hi = new Int32Array(K - 1);
  for (let it = 0; it < ROUNDS; it++) {
    // windows of ±WINDOW groups around each boundary's group
    for (let k = 0; k < K - 1; k++) {
      let a = 0;
      let b = cg;
      while (b - a > 1) {
        const mid = (a + b) >> 1;
        if (edges[mid]! <= ends[k]!) a = mid;
        else b = mid;
      }
      lo[k] = edges[Math.max(0, a - WINDOW)]!;
      hi[k] = edges[Math.min(cg, a + WINDOW + (edges[a] === ends[k] ? 0 : 1))]!;
    }
    for (let k = 1; k < K - 1; k++) if (lo[k]! < lo[k - 1]!) lo[k] = lo[k - 1]!;
    const r = windowDp(ps, pw, g, ends, lo, hi);
    objective = Math.min(objective, r.objective);
    if (!r.edge) break;
  }
  return { ends, objective, full: false };
}
