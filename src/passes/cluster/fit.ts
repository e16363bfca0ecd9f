// Codebooks of one weight tensor for cluster-weights: one per tensor, or one per group of `groupSize`
// channels along the weight's output-channel axis (groupSize 1: per channel).
//  1. the elements of each group are gathered (a counting sort by group), clustered by 1-D k-means
//     (kernels/kmeans1d: the exact DP or k-means++/Lloyd; optional importance weights), and their
//     indices scattered back in the weight's element order
//  2. sparsity: when at least ZERO_SHARE of a group's elements are exactly 0 (a pruned weight) and
//     keepZeros is on, the codebook is an exact 0 plus K − 1 centroids fitted on the non-zeros only;
//     the zeros take the 0 and the non-zeros only the others, so the zeros (and only they) stay 0
//  3. the groups' codebooks form a table [G, stride], stride = the largest codebook; a shorter one is
//     padded with its last value (never indexed)

import { kmeans1d } from '../../kernels/kmeans1d.js';

/** share of exact zeros in a group past which the zero is kept as a centroid of its own (rule 2) */
export const ZERO_SHARE = 0.01;

export interface FitOptions {
  k: number;
  init: 'dp' | 'kmeans++';
  seed: number;
  keepZeros: boolean;
  /** importance of every element (>= 0), in the weight's element order */
  importance?: Float32Array | undefined;
}

export interface Codebooks {
  /** [G · stride] ascending per group (rule 3) */
  table: Float32Array;
  stride: number;
  /** distinct entries per group */
  count: Int32Array;
  /** per element, the index in its group's codebook */
  indices: Uint8Array;
  /** per element, its group */
  groupOf: Int32Array;
  groups: number;
  /** channels per group along `axis` */
  groupSize: number;
  axis: number | undefined;
  /** groups whose codebook holds the kept exact 0 (rule 2) */
  zeroGroups: number;
}

/** the group of every element: channel ⌊i / stride⌋ mod C of `axis`, group channel / groupSize */
export function groupOfElements(dims: number[], axis: number | undefined, groupSize: number): Int32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const out = new Int32Array(n);
  if (axis === undefined) return out;
  const C = dims[axis]!;
  let stride = 1;
  for (let a = axis + 1; a < dims.length; a++) stride *= dims[a]!;
  for (let i = 0; i < n; i++) out[i] = Math.floor((Math.floor(i / stride) % C) / groupSize);
  return out;
}

/** one group's codebook (ascending) and assignment (rule 2) */
function fitGroup(values: Float32Array, weights: Float32Array | undefined, o: FitOptions) {
  const n = values.length;
  let zeros = 0;
  for (let i = 0; i < n; i++) if (values[i] === 0) zeros++;
  const kmeans = (x: Float32Array, k: number, w: Float32Array | undefined) =>
    kmeans1d(x, k, { init: o.init, seed: o.seed, ...(w ? { weights: w } : {}) });
  if (!o.keepZeros || zeros === 0 || zeros < ZERO_SHARE * n || o.k < 2) {
    const r = kmeans(values, o.k, weights);
    return { centroids: r.centroids, assignment: r.assignment, zero: false };
  }
  if (zeros === n) return { centroids: Float32Array.of(0), assignment: new Uint8Array(n), zero: true };
  const nz = new Float32Array(n - zeros);
  const nw = weights ? new Float32Array(n - zeros) : undefined;
  for (let i = 0, j = 0; i < n; i++)
    if (values[i] !== 0) {
      if (nw) nw[j] = weights![i]!;
      nz[j++] = values[i]!;
    }
  const r = kmeans(nz, o.k - 1, nw);
  let at = 0; // where the 0 goes among the ascending non-zero centroids
  while (at < r.centroids.length && r.centroids[at]! < 0) at++;
  const centroids = new Float32Array(r.centroids.length + 1);
  centroids.set(r.centroids.subarray(0, at));
  centroids.set(r.centroids.subarray(at), at + 1);
  const assignment = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++) {
    if (values[i] === 0) assignment[i] = at;
    else {
      const c = r.assignment[j++]!;
      assignment[i] = c >= at ? c + 1 : c;
    }
  }
  return { centroids, assignment, zero: true };
}

/** rules 1–3: the codebooks of weight `w` [dims] */
export function fitCodebooks(
  w: Float32Array,
  dims: number[],
  axis: number | undefined,
  groupSize: number,
  o: FitOptions,
): Codebooks {
  const n = w.length;
  const C = axis === undefined ? 1 : dims[axis]!;
  const size = axis === undefined ? 1 : Math.min(C, Math.max(1, groupSize));
  const G = axis === undefined ? 1 : Math.ceil(C / size);
  const group = groupOfElements(dims, G > 1 ? axis : undefined, size);
  // counting sort of the elements by group
  const start = new Int32Array(G + 1);
  for (let i = 0; i < n; i++) start[group[i]! + 1]!++;
  for (let g = 0; g < G; g++) start[g + 1]! += start[g]!;
  const order = new Int32Array(n);
  const fill = start.slice(0, G);
  for (let i = 0; i < n; i++) order[fill[group[i]!]!++] = i;
  const books: Float32Array[] = [];
  const indices = new Uint8Array(n);
  let zeroGroups = 0;
  for (let g = 0; g < G; g++) {
    const members = order.subarray(start[g]!, start[g + 1]!);
    const values = Float32Array.from(members, (i) => w[i]!);
    const weights = o.importance ? Float32Array.from(members, (i) => o.importance![i]!) : undefined;
    const r = fitGroup(values, weights, o);
    books.push(r.centroids);
    if (r.zero) zeroGroups++;
    for (let j = 0; j < members.length; j++) indices[members[j]!] = r.assignment[j]!;
  }
  const stride = Math.max(...books.map((b) => b.length));
  const table = new Float32Array(G * stride);
  books.forEach((b, g) => {
    table.set(b, g * stride);
    table.fill(b[b.length - 1]!, g * stride + b.length, (g + 1) * stride);
  });
  const count = Int32Array.from(books, (b) => b.length);
  return {
    table,
    stride,
    count,
    indices,
    groupOf: group,
    groups: G,
    groupSize: size,
    axis: G > 1 ? axis : undefined,
    zeroGroups,
  };
}
