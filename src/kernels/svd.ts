// Truncated SVD by randomized range finding (Halko, Martinsson & Tropp 2011):
//   Y = (A Aᵀ)^q A Ω  (Ω Gaussian [N, r+p]),  Q = orth(Y),  B = Qᵀ A  [(r+p), N]
//   B Bᵀ = Ũ Σ² Ũᵀ (Jacobi eigen-decomposition of a small symmetric matrix),  U = Q Ũ,  Vᵀ = Σ⁻¹ Ũᵀ B
// The big products are plain loops over Float64Array here (the matrices edgefit factorizes are a few
// thousand wide at most); only the (r+p)×(r+p) eigenproblem is dense-iterative.

import { Rng } from './random.js';

/** C[m,n] = A[m,k] · B[k,n] (row-major) */
export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      if (av === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j]! += av * b[bp + j]!;
    }
  }
  return c;
}

/** Aᵀ for A[m,n] */
export function transpose(a: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
  return t;
}

/** Orthonormalize the columns of Y[m,c] in place (modified Gram-Schmidt, twice for stability). */
function orthonormalize(y: Float64Array, m: number, c: number): void {
  for (let pass = 0; pass < 2; pass++)
    for (let j = 0; j < c; j++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < m; r++) dot += y[r * c + i]! * y[r * c + j]!;
        for (let r = 0; r < m; r++) y[r * c + j]! -= dot * y[r * c + i]!;
      }
      let norm = 0;
      for (let r = 0; r < m; r++) norm += y[r * c + j]! ** 2;
      norm = Math.sqrt(norm);
      for (let r = 0; r < m; r++) y[r * c + j] = norm > 1e-300 ? y[r * c + j]! / norm : 0;
    }
}

/** Eigen-decomposition of symmetric S[n,n] (cyclic Jacobi): values descending, vectors as columns. */
export function symmetricEigen(s: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(s);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - sn * akq;
          a[k * n + q] = sn * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - sn * aqk;
          a[q * n + k] = sn * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - sn * vkq;
          v[k * n + q] = sn * vkp + c * vkq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src]!;
  });
  return { values, vectors };
}

export interface TruncatedSvd {
  /** [m, r] */
  u: Float64Array;
  /** [r] descending */
  s: Float64Array;
  /** [r, n] (rows are right singular vectors) */
  vt: Float64Array;
  rank: number;
}

/** Rank-r SVD of A[m,n]. */
export function truncatedSvd(
  a: Float64Array,
  m: number,
  n: number,
  r: number,
  options: { oversample?: number; powerIterations?: number; seed?: number } = {},
): TruncatedSvd {
  const c = Math.min(Math.min(m, n), r + (options.oversample ?? 10));
  const rng = new Rng(options.seed ?? 0);
  const omega = Float64Array.from({ length: n * c }, () => rng.normal());
  let y = matmul(a, omega, m, n, c); // [m, c]
  const at = transpose(a, m, n);
  for (let it = 0; it < (options.powerIterations ?? 2); it++) {
    orthonormalize(y, m, c);
    const z = matmul(at, y, n, m, c); // [n, c]
    orthonormalize(z, n, c);
    y = matmul(a, z, m, n, c);
  }
  orthonormalize(y, m, c); // Q [m, c]
  const b = matmul(transpose(y, m, c), a, c, m, n); // [c, n]
  const bbt = matmul(b, transpose(b, c, n), c, n, c); // [c, c]
  const { values, vectors } = symmetricEigen(bbt, c);
  const rank = Math.min(r, c);
  const u = new Float64Array(m * rank);
  const s = new Float64Array(rank);
  const vt = new Float64Array(rank * n);
  const uq = matmul(y, vectors, m, c, c); // [m, c]
  const utb = matmul(transpose(vectors, c, c), b, c, c, n); // [c, n] = Ũᵀ B
  for (let j = 0; j < rank; j++) {
    const sigma = Math.sqrt(Math.max(0, values[j]!));
    s[j] = sigma;
    for (let i = 0; i < m; i++) u[i * rank + j] = uq[i * c + j]!;
    for (let k = 0; k < n; k++) vt[j * n + k] = sigma > 1e-300 ? utb[j * n + k]! / sigma : 0;
  }
  return { u, s, vt, rank };
}
