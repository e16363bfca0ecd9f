// GPTQ-style error compensation for clustering (GPTQ: Frantar et al. 2022, with a codebook in place of
// the uniform grid; the "GPTVQ"/"OBC-cluster" view of Deep Compression's palettization): W [K, N]
// (rows = the layer's input features, as kernels/gptq.ts), H ∝ XᵀX of the layer's inputs, every column
// n reads the codebook of its group (ascending centroids fitted beforehand by k-means).
//  1. H is dampened (percdamp · mean diag H, raised ×10 until the Cholesky factor exists); inputs that
//     never fire (H[k,k] = 0) get H[k,k] = 1; U = the upper Cholesky factor of H⁻¹ (kernels/cholesky)
//  2. rows k = 0..K-1 in order: every weight of row k snaps to the nearest centroid of its column's
//     codebook (with keepZeros and a codebook that holds an exact 0: the weights that were exactly 0
//     take it and no other weight does, so the sparsity pattern is kept exactly), and the
//     row's error e = (w_k − q_k) / U[k,k] moves onto the rows not yet snapped: w_j −= U[k,j] · e
//  3. updates are lazy as in GPTQ (kernels/obs-update.ts): inside a batch of rows directly, onto the
//     rest of W as one product through `gemm` (ONNX Runtime): W[i2:] −= U[i1:i2, i2:]ᵀ · E
// The result is the index of every weight in its group's codebook.

import { dampedUpperFactor } from './cholesky.js';
import type { GemmFn } from './matmul.js';
import { pushErrorBelow, pushErrorWithin } from './obs-update.js';

export interface ClusterGptqOptions {
  /** dampening, as a fraction of the mean diagonal of H (GPTQ's percdamp, default 0.01) */
  percdamp?: number;
  /** rows per lazy update batch (default 128) */
  lazyBatch?: number;
  /** weights exactly 0 in `w` take their codebook's exact 0 entry, and only they (default true) */
  keepZeros?: boolean;
}

/** The codebooks: group g holds table[g·stride .. g·stride + count[g]), ascending. */
export interface ColumnCodebooks {
  table: Float32Array;
  stride: number;
  count: Int32Array;
  /** [N] the group of every column */
  groupOf: Int32Array;
}

/** rule 1: U with UᵀU = (H + damp·I)⁻¹, damp raised until it exists; undefined if it never does */
function dampedFactor(h: Float64Array, K: number, percdamp: number): Float64Array | undefined {
  const H = Float64Array.from(h);
  let mean = 0;
  for (let k = 0; k < K; k++) {
    if (!(H[k * K + k]! > 0)) H[k * K + k] = 1;
    mean += H[k * K + k]! / K;
  }
  return dampedUpperFactor(H, K, percdamp, mean)?.u;
}

/** index of the entry of table[a, a + m) nearest to x (ties to the lower) */
function nearest(table: Float32Array, a: number, m: number, x: number): number {
  let lo = 0;
  let hi = m - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (table[a + mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(x - table[a + lo - 1]!) <= Math.abs(x - table[a + lo]!)) lo--;
  return lo;
}

/** the entry next to the zero entry z that is nearest to x (the zero entry itself when alone) */
function nonZeroNeighbour(table: Float32Array, a: number, m: number, z: number, x: number): number {
  if (z === 0) return m > 1 ? 1 : 0;
  if (z === m - 1) return z - 1;
  return Math.abs(x - table[a + z - 1]!) <= Math.abs(x - table[a + z + 1]!) ? z - 1 : z + 1;
}

/**
 * Snap w [K, N] to the column codebooks with GPTQ's error compensation; returns each weight's index
 * in its column's codebook ([K·N], row-major like w), or undefined when H cannot be factored.
 */
export async function clusterGptq(
  w: Float32Array,
  K: number,
  N: number,
  h: Float64Array,
  books: ColumnCodebooks,
  gemm: GemmFn,
  options: ClusterGptqOptions = {},
): Promise<Uint8Array | undefined> {
  const U = dampedFactor(h, K, options.percdamp ?? 0.01);
  if (!U) return undefined;
  const keepZeros = options.keepZeros ?? true;
  const { table, stride, count, groupOf } = books;
  const zeroAt = Int32Array.from(count, (m, g) => table.subarray(g * stride, g * stride + m).indexOf(0));
  const W = Float32Array.from(w);
  const out = new Uint8Array(K * N);
  const batch = Math.max(1, options.lazyBatch ?? 128);
  const err = new Float32Array(batch * N);
  for (let i1 = 0; i1 < K; i1 += batch) {
    const i2 = Math.min(K, i1 + batch);
    for (let k = i1; k < i2; k++) {
      const d = U[k * K + k]!;
      const row = k * N;
      const e = (k - i1) * N;
      for (let n = 0; n < N; n++) {
        const g = groupOf[n]!;
        const a = g * stride;
        const v = W[row + n]!;
        const z = zeroAt[g]!;
        let q = nearest(table, a, count[g]!, v);
        if (keepZeros && z >= 0) {
          if (w[row + n] === 0) q = z;
          else if (q === z) q = nonZeroNeighbour(table, a, count[g]!, z, v);
        }
        out[row + n] = q;
        err[e + n] = (v - table[a + q]!) / d;
      }
      // rule 3: the rest of this batch now, the rows below after the batch (one product)
      pushErrorWithin(W, K, N, U, k, i2, err.subarray(e, e + N));
    }
    await pushErrorBelow(W, K, N, U, i1, i2, err, gemm);
  }
  return out;
}

/**
 * rule 4: the codebook values that minimise tr((W − Q)ᵀ H (W − Q)) for the given indices (Q[k, n] =
 * the entry idx[k, n] of column n's codebook), group by group: the normal equations A·c = b with
 * A[j, l] = Σ_n Σ_{idx(a,n)=j, idx(b,n)=l} H[a, b] and b[j] = Σ_n Σ_{idx(a,n)=j} (H·w_n)[a], solved
 * with a small ridge; an exact 0 entry stays 0 (keepZeros). Returns the new table (same layout).
 */
export function refitCodebooks(
  w: Float32Array,
  K: number,
  N: number,
  h: Float64Array,
  books: ColumnCodebooks,
  idx: Uint8Array,
  keepZeros = true,
): Float32Array {
  const { table, stride: S, count, groupOf } = books;
  const G = count.length;
  const A = Array.from({ length: G }, () => new Float64Array(S * S));
  const B = Array.from({ length: G }, () => new Float64Array(S));
  const col = new Int32Array(K);
  const wn = new Float64Array(K);
  for (let n = 0; n < N; n++) {
    const g = groupOf[n]!;
    const a = A[g]!;
    const b = B[g]!;
    for (let k = 0; k < K; k++) {
      col[k] = idx[k * N + n]!;
      wn[k] = w[k * N + n]!;
    }
    for (let i = 0; i < K; i++) {
      const ri = col[i]! * S;
      const row = i * K;
      let hw = 0;
      for (let j = 0; j < K; j++) {
        const v = h[row + j]!;
        a[ri + col[j]!]! += v;
        hw += v * wn[j]!;
      }
      b[col[i]!]! += hw;
    }
  }
  const out = Float32Array.from(table);
  for (let g = 0; g < G; g++) {
    const m = count[g]!;
    const fixed = keepZeros ? table.subarray(g * S, g * S + m).indexOf(0) : -1;
    const free = Array.from({ length: m }, (_, j) => j).filter((j) => j !== fixed);
    const c = solveRidge(A[g]!, B[g]!, S, free);
    if (!c) continue;
    free.forEach((j, t) => {
      out[g * S + j] = c[t]!;
    });
  }
  return out;
}

/** Solve A[free, free]·c = b[free] (plus 1e-6 · mean diag ridge) by Gaussian elimination; undefined if singular. */
function solveRidge(A: Float64Array, b: Float64Array, S: number, free: number[]): Float64Array | undefined {
  const m = free.length;
  const M = new Float64Array(m * (m + 1));
  let mean = 0;
  for (let i = 0; i < m; i++) mean += A[free[i]! * S + free[i]!]! / m;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++)
      M[i * (m + 1) + j] = A[free[i]! * S + free[j]!]! + (i === j ? 1e-6 * mean : 0);
    M[i * (m + 1) + m] = b[free[i]!]!;
  }
  for (let p = 0; p < m; p++) {
    let best = p;
    for (let r = p + 1; r < m; r++)
      if (Math.abs(M[r * (m + 1) + p]!) > Math.abs(M[best * (m + 1) + p]!)) best = r;
    if (!(Math.abs(M[best * (m + 1) + p]!) > 0)) return undefined;
    if (best !== p)
      for (let j = 0; j <= m; j++) {
        const t = M[p * (m + 1) + j]!;
        M[p * (m + 1) + j] = M[best * (m + 1) + j]!;
        M[best * (m + 1) + j] = t;
      }
    for (let r = 0; r < m; r++) {
      if (r === p) continue;
      const f = M[r * (m + 1) + p]! / M[p * (m + 1) + p]!;
      if (f === 0) continue;
      for (let j = p; j <= m; j++) M[r * (m + 1) + j] = M[r * (m + 1) + j]! - f * M[p * (m + 1) + j]!;
    }
  }
  return Float64Array.from({ length: m }, (_, i) => M[i * (m + 1) + m]! / M[i * (m + 1) + i]!);
}
