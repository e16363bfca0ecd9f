// Truncated SVD A ≈ U S Vᵀ of a row-major A [m, n].
//  1. exact (min(m, n) <= 256, or method 'exact'): the Gram matrix of the short side (AᵀA or AAᵀ) in
//     float64, its eigen-decomposition (Householder tridiagonalisation + implicit QL with Wilkinson
//     shifts: tred2/tql2 of EISPACK), σ = √λ, and the other side's vectors as A·V·Σ⁻¹ (or Σ⁻¹·Uᵀ·A).
//  2. randomized (Halko, Martinsson & Tropp 2011) with scikit-learn's randomized_svd defaults: work on
//     the tall orientation (Aᵀ when m < n); c = r + 10 columns; Ω Gaussian [n, c]; power iterations
//     'auto' = 7 when r < 0.1·min(m, n) else 4; every product is re-normalised (scikit-learn uses LU;
//     here a Cholesky-QR, whose products run on the same engine as the rest: G = YᵀY = RᵀR,
//     Y ← Y·R⁻¹; SVQB where G is not numerically positive definite, i.e. a rank-deficient A);
//     Q = orth(A·Z) by two such passes; B = QᵀA; B Bᵀ = Ũ Σ² Ũᵀ in float64 (the tql2 above);
//     U = Q·Ũ, Vᵀ = Σ⁻¹·Ũᵀ·B (both products on the engine).
//     The big products go through a GemmFn (kernels/matmul.ts): ONNX Runtime in the passes, plain
//     float32-in, float64-accumulate loops here when none is given (truncatedSvd, synchronous).
// The algorithm is written once as a generator that yields the products it needs; truncatedSvd answers
// them with the loops, truncatedSvdAsync with the given GemmFn.

import { EdgefitError } from '../errors.js';
import type { GemmFn, GemmOptions } from './matmul.js';
import { Rng } from './random.js';

/** C[m,n] = A[m,k] · B[k,n] (row-major, float64) */
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

/**
 * Eigen-decomposition of a symmetric S[n,n] (Householder tridiagonalisation, then implicit QL with
 * shifts: EISPACK's tred2/tql2, as in JAMA): values descending, vectors as columns.
 */
export function symmetricEigen(s: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  // v: row-major working matrix (tred2 turns it into the Householder product)
  const v = Float64Array.from(s);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: v };
  for (let j = 0; j < n; j++) d[j] = v[(n - 1) * n + j]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = v[(i - 1) * n + j]!;
        v[i * n + j] = 0;
        v[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = d[k]! / scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        v[j * n + i] = f;
        g = e[j]! + v[j * n + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += v[k * n + j]! * d[k]!;
          e[k] = e[k]! + v[k * n + j]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = e[j]! / h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = e[j]! - hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) v[k * n + j] = v[k * n + j]! - (f * e[k]! + g * d[k]!);
        d[j] = v[(i - 1) * n + j]!;
        v[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    v[(n - 1) * n + i] = v[i * n + i]!;
    v[i * n + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = v[k * n + i + 1]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += v[k * n + i + 1]! * v[k * n + j]!;
        for (let k = 0; k <= i; k++) v[k * n + j] = v[k * n + j]! - g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) v[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = v[(n - 1) * n + j]!;
    v[(n - 1) * n + j] = 0;
  }
  v[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
  // tql2 on the transposed vectors, so each rotation touches two contiguous rows
  const w = transpose(v, n, n);
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n && Math.abs(e[m]!) > eps * tst1) m++;
    if (m > l) {
      for (let iter = 0; iter < 100; iter++) {
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] = d[i]! - h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let sn = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = sn;
          g = c * e[i]!;
          h = c * p;
          r = Math.sqrt(p * p + e[i]! * e[i]!);
          e[i + 1] = sn * r;
          sn = e[i]! / r;
          c = p / r;
          p = c * d[i]! - sn * g;
          d[i + 1] = h + sn * (c * g + sn * d[i]!);
          const ri = i * n;
          const rj = ri + n;
          for (let k = 0; k < n; k++) {
            const a = w[ri + k]!;
            const b = w[rj + k]!;
            w[rj + k] = sn * a + c * b;
            w[ri + k] = c * a - sn * b;
          }
        }
        p = (-sn * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = sn * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]!) > eps * tst1)) break;
      }
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y]! - d[x]!);
  const values = Float64Array.from(order, (i) => d[i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = w[src * n + k]!;
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

export interface SvdOptions {
  /** 'auto': exact when min(m, n) <= 256, else randomized */
  method?: 'auto' | 'exact' | 'randomized';
  /** extra random columns (scikit-learn's n_oversamples, default 10) */
  oversample?: number;
  /** power iterations (scikit-learn's n_iter): 'auto' = 7 when r < 0.1·min(m, n), else 4 */
  powerIterations?: number | 'auto';
  /**
   * re-normalise after every product of a power iteration (default true; scikit-learn skips it for
   * n_iter <= 2, which its 'auto' never picks: the Gram-based normalisation here needs it in float32)
   */
  normalize?: boolean;
  seed?: number;
}

/** min(m, n) up to which 'auto' takes the exact path */
export const EXACT_MAX = 256;

/** A product the algorithm needs: alpha · op(A) · B as GemmFn takes it. */
interface Product {
  a: Float32Array;
  aDims: [number, number];
  b: Float32Array;
  bDims: [number, number];
  options?: GemmOptions;
}

/** C = op(A)·B in float64 accumulation, float32 out: the GemmFn of truncatedSvd (no engine). */
export function loopGemm(
  a: Float32Array,
  aDims: [number, number],
  b: Float32Array,
  bDims: [number, number],
  options: GemmOptions = {},
): Float32Array {
  const transA = options.transA ?? false;
  const rows = transA ? aDims[1] : aDims[0];
  const inner = transA ? aDims[0] : aDims[1];
  const cols = bDims[1];
  if (inner !== bDims[0]) throw new Error(`gemm: inner dims differ (${inner} vs ${bDims[0]})`);
  const acc = new Float64Array(rows * cols);
  for (let p = 0; p < inner; p++) {
    const bp = p * cols;
    for (let i = 0; i < rows; i++) {
      const av = transA ? a[p * aDims[1] + i]! : a[i * inner + p]!;
      if (av === 0) continue;
      const ci = i * cols;
      for (let j = 0; j < cols; j++) acc[ci + j]! += av * b[bp + j]!;
    }
  }
  const alpha = options.alpha ?? 1;
  const beta = options.beta ?? 1;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = alpha * acc[i]! + (options.c ? beta * options.c[i]! : 0);
  return out;
}

function checkShape(a: Float32Array | Float64Array, m: number, n: number, r: number): void {
  if (!(Number.isInteger(m) && Number.isInteger(n) && m > 0 && n > 0) || a.length !== m * n)
    throw new EdgefitError('BAD_ARGUMENT', `svd: ${a.length} values for a ${m}×${n} matrix`);
  if (!(Number.isInteger(r) && r >= 1))
    throw new EdgefitError('BAD_ARGUMENT', `svd: rank ${r}`, 'ask for a rank of at least 1');
}

/** The float64 Gram matrix of A [m, n]: AᵀA [n, n] when `tall` (default m >= n), else AAᵀ [m, m]. */
function shortGram(a: Float32Array | Float64Array, m: number, n: number, tall = m >= n): Float64Array {
  const p = tall ? n : m;
  const g = new Float64Array(p * p);
  if (!tall) {
    // AAᵀ: dot products of contiguous rows, four accumulators
    const rows = a instanceof Float64Array ? a : Float64Array.from(a);
    for (let i = 0; i < m; i++)
      for (let j = i; j < m; j++) {
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let k = 0;
        const ri = i * n;
        const rj = j * n;
        for (; k + 3 < n; k += 4) {
          s0 += rows[ri + k]! * rows[rj + k]!;
          s1 += rows[ri + k + 1]! * rows[rj + k + 1]!;
          s2 += rows[ri + k + 2]! * rows[rj + k + 2]!;
          s3 += rows[ri + k + 3]! * rows[rj + k + 3]!;
        }
        for (; k < n; k++) s0 += rows[ri + k]! * rows[rj + k]!;
        const v = s0 + s1 + (s2 + s3);
        g[i * m + j] = v;
        g[j * m + i] = v;
      }
    return g;
  }
  // AᵀA: Σ over rows of their outer products (upper triangle, each row read once)
  for (let t = 0; t < m; t++) {
    const rt = t * n;
    for (let i = 0; i < n; i++) {
      const x = a[rt + i]!;
      if (x === 0) continue;
      const gi = i * n;
      for (let j = i; j < n; j++) g[gi + j]! += x * a[rt + j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) g[i * n + j] = g[j * n + i]!;
  return g;
}

/** Exact rank-min(r, m, n) SVD through the float64 Gram matrix of the short side. */
export function exactSvd(a: Float32Array | Float64Array, m: number, n: number, r: number): TruncatedSvd {
  checkShape(a, m, n, r);
  const tall = m >= n;
  const p = tall ? n : m; // the short side
  const q = tall ? m : n;
  const g = shortGram(a, m, n);
  const row = new Float64Array(p);
  const { values, vectors } = symmetricEigen(g, p);
  const rank = Math.min(r, p);
  const s = new Float64Array(rank);
  for (let j = 0; j < rank; j++) s[j] = Math.sqrt(Math.max(0, values[j]!));
  const floor = (s[0] ?? 0) * 1e-300;
  // short-side vectors are eigenvectors; the long side's are A·v/σ (zero for σ = 0)
  const short = new Float64Array(p * rank);
  for (let i = 0; i < p; i++) for (let j = 0; j < rank; j++) short[i * rank + j] = vectors[i * p + j]!;
  const long = new Float64Array(q * rank);
  for (let t = 0; t < q; t++) {
    for (let i = 0; i < p; i++) row[i] = tall ? a[t * n + i]! : a[i * n + t]!;
    for (let j = 0; j < rank; j++) {
      if (!(s[j]! > floor)) continue;
      let acc = 0;
      for (let i = 0; i < p; i++) acc += row[i]! * short[i * rank + j]!;
      long[t * rank + j] = acc / s[j]!;
    }
  }
  if (tall) return { u: long, s, vt: transpose(short, p, rank), rank };
  return { u: short, s, vt: transpose(long, q, rank), rank };
}

/** In-place lower Cholesky of a symmetric a[n,n] (float64); false if not numerically positive definite. */
export function cholesky(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j]!;
    for (let k = 0; k < j; k++) d -= a[rj + k]! * a[rj + k]!;
    if (!(d > 0 && Number.isFinite(d))) return false;
    const l = Math.sqrt(d);
    a[rj + j] = l;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + j]!;
      for (let k = 0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = s / l;
    }
  }
  for (let i = 0; i < n; i++) a.fill(0, i * n + i + 1, (i + 1) * n);
  return true;
}

/** (Lᵀ)⁻¹ as float32 [n, n] for a lower triangular l, so that Y·(Lᵀ)⁻¹ has Gram identity. */
export function inverseTransposeOfLower(l: Float64Array, n: number): Float32Array {
  // X = L⁻¹ row by row: X[i] = (e_i − Σ_{k<i} L[i][k]·X[k]) / L[i][i] (contiguous row updates)
  const x = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const f = l[ri + k]!;
      if (f === 0) continue;
      const rk = k * n;
      for (let j = 0; j <= k; j++) x[ri + j] = x[ri + j]! - f * x[rk + j]!;
    }
    const d = 1 / l[ri + i]!;
    for (let j = 0; j < i; j++) x[ri + j] = x[ri + j]! * d;
    x[ri + i] = d;
  }
  // (Lᵀ)⁻¹ = (L⁻¹)ᵀ
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) out[j * n + i] = x[i * n + j]!;
  return out;
}

/** G = YᵀY [c, c] in float64 (the product on the engine, symmetrised) */
function* gram(y: Float32Array, rows: number, c: number): Generator<Product, Float64Array, Float32Array> {
  const g = Float64Array.from(
    yield { a: y, aDims: [rows, c], b: y, bDims: [rows, c], options: { transA: true } },
  );
  for (let i = 0; i < c; i++)
    for (let j = 0; j < i; j++) {
      const v = (g[i * c + j]! + g[j * c + i]!) / 2;
      g[i * c + j] = v;
      g[j * c + i] = v;
    }
  return g;
}

/**
 * One orthonormalising pass on Y [rows, c]: Cholesky-QR (Y·R⁻¹ with RᵀR = YᵀY), or where YᵀY is not
 * numerically positive definite an SVQB pass (Stathopoulos & Wu 2002: Y·W·Λ^(−1/2) from YᵀY = WΛWᵀ)
 * that drops the directions below float32 noise (λ <= c·2⁻²³·λ_max): a rank-deficient A keeps only
 * the columns it has. Returns the new Y and its column count.
 */
function* orthonormalizeOnce(
  y: Float32Array,
  rows: number,
  c: number,
): Generator<Product, { y: Float32Array; c: number }, Float32Array> {
  const g = yield* gram(y, rows, c);
  const l = Float64Array.from(g);
  if (cholesky(l, c))
    return { y: yield { a: y, aDims: [rows, c], b: inverseTransposeOfLower(l, c), bDims: [c, c] }, c };
  const { values, vectors } = symmetricEigen(g, c);
  const tol = Math.max(0, values[0]!) * c * 2 ** -23;
  let keep = 0;
  while (keep < c && values[keep]! > tol) keep++;
  keep = Math.max(1, keep);
  const t = new Float32Array(c * keep);
  for (let i = 0; i < c; i++)
    for (let j = 0; j < keep; j++)
      t[i * keep + j] = vectors[i * c + j]! / Math.sqrt(Math.max(values[j]!, Number.MIN_VALUE));
  return { y: yield { a: y, aDims: [rows, c], b: t, bDims: [c, keep] }, c: keep };
}

/** scikit-learn's randomized_svd on a tall A [m, n] (m >= n) as a sequence of products. */
function* randomized(
  a: Float32Array,
  m: number,
  n: number,
  r: number,
  options: SvdOptions,
): Generator<Product, TruncatedSvd, Float32Array> {
  let c = Math.min(n, r + (options.oversample ?? 10));
  const autoIter = r < 0.1 * Math.min(m, n) ? 7 : 4;
  const iterations =
    options.powerIterations === undefined || options.powerIterations === 'auto'
      ? autoIter
      : options.powerIterations;
  const normalize = options.normalize ?? true;
  const rng = new Rng(options.seed ?? 0);
  let z: Float32Array = new Float32Array(n * c); // Ω [n, c]
  for (let i = 0; i < z.length; i++) z[i] = rng.normal();
  const full = Math.min(r, c);
  for (let it = 0; it < iterations; it++) {
    let y = yield { a, aDims: [m, n], b: z, bDims: [n, c] }; // A·Z [m, c]
    if (normalize) ({ y, c } = yield* orthonormalizeOnce(y, m, c));
    z = yield { a, aDims: [m, n], b: y, bDims: [m, c], options: { transA: true } }; // Aᵀ·Y [n, c]
    if (normalize) ({ y: z, c } = yield* orthonormalizeOnce(z, n, c));
  }
  // Q = orth(A·Z) [m, c] by two passes (c shrinks only for a rank-deficient A)
  let q: Float32Array = yield { a, aDims: [m, n], b: z, bDims: [n, c] };
  for (let pass = 0; pass < 2; pass++) ({ y: q, c } = yield* orthonormalizeOnce(q, m, c));
  // B = QᵀA [c, n]
  const b32 = yield { a: q, aDims: [m, c], b: a, bDims: [m, n], options: { transA: true } };
  // B Bᵀ [c, c] in float64 (σ² in float32 would cost small σ their accuracy)
  const { values, vectors } = symmetricEigen(shortGram(b32, c, n, false), c);
  const rank = Math.min(r, c);
  const s = new Float64Array(rank);
  for (let j = 0; j < rank; j++) s[j] = Math.sqrt(Math.max(0, values[j]!));
  const ut = new Float32Array(c * rank); // Ũ [c, rank]
  for (let i = 0; i < c; i++) for (let j = 0; j < rank; j++) ut[i * rank + j] = vectors[i * c + j]!;
  const u = yield { a: q, aDims: [m, c], b: ut, bDims: [c, rank] }; // Q·Ũ [m, rank]
  // Vᵀ = Σ⁻¹ Ũᵀ B [rank, n]
  const utb = yield { a: ut, aDims: [c, rank], b: b32, bDims: [c, n], options: { transA: true } };
  const vt = new Float64Array(rank * n);
  const floor = (s[0] ?? 0) * 1e-300;
  for (let j = 0; j < rank; j++) {
    if (!(s[j]! > floor)) continue;
    const inv = 1 / s[j]!;
    for (let k = 0; k < n; k++) vt[j * n + k] = utb[j * n + k]! * inv;
  }
  if (rank === full) return { u: Float64Array.from(u), s, vt, rank };
  // rank-deficient: pad with zero directions so the caller gets the rank it asked for
  const u64 = new Float64Array(m * full);
  for (let i = 0; i < m; i++) for (let j = 0; j < rank; j++) u64[i * full + j] = u[i * rank + j]!;
  const s64 = new Float64Array(full);
  s64.set(s);
  const vt64 = new Float64Array(full * n);
  vt64.set(vt);
  return { u: u64, s: s64, vt: vt64, rank: full };
}

function swapSides(t: TruncatedSvd, m: number, n: number): TruncatedSvd {
  // the SVD of Aᵀ [n, m] is V S Uᵀ: u of A = (vt of Aᵀ)ᵀ, vt of A = (u of Aᵀ)ᵀ
  return { u: transpose(t.vt, t.rank, m), s: t.s, vt: transpose(t.u, n, t.rank), rank: t.rank };
}

function plan(
  a: Float32Array | Float64Array,
  m: number,
  n: number,
  r: number,
  options: SvdOptions,
): { exact: TruncatedSvd } | { steps: Generator<Product, TruncatedSvd, Float32Array>; wide: boolean } {
  checkShape(a, m, n, r);
  const method = options.method ?? 'auto';
  if (method === 'exact' || (method === 'auto' && Math.min(m, n) <= EXACT_MAX))
    return { exact: exactSvd(a, m, n, r) };
  // scikit-learn's transpose='auto': the range finder runs on the tall orientation
  const wide = m < n;
  const a32 = wide
    ? Float32Array.from(transpose(Float64Array.from(a), m, n))
    : a instanceof Float32Array
      ? a
      : Float32Array.from(a);
  return { steps: randomized(a32, wide ? n : m, wide ? m : n, r, options), wide };
}

/** Rank-r SVD of A[m,n] with the products as plain loops (no engine). */
export function truncatedSvd(
  a: Float32Array | Float64Array,
  m: number,
  n: number,
  r: number,
  options: SvdOptions = {},
): TruncatedSvd {
  const p = plan(a, m, n, r, options);
  if ('exact' in p) return p.exact;
  let step = p.steps.next();
  while (!step.done) {
    const q = step.value;
    step = p.steps.next(loopGemm(q.a, q.aDims, q.b, q.bDims, q.options));
  }
  return p.wide ? swapSides(step.value, m, n) : step.value;
}

/** Rank-r SVD of A[m,n] with the big products on `gemm` (ONNX Runtime in the passes). */
export async function truncatedSvdAsync(
  a: Float32Array | Float64Array,
  m: number,
  n: number,
  r: number,
  options: SvdOptions & { gemm: GemmFn },
): Promise<TruncatedSvd> {
  const p = plan(a, m, n, r, options);
  if ('exact' in p) return p.exact;
  let step = p.steps.next();
  while (!step.done) {
    const q = step.value;
    step = p.steps.next(await options.gemm(q.a, q.aDims, q.b, q.bDims, q.options));
  }
  return p.wide ? swapSides(step.value, m, n) : step.value;
}
