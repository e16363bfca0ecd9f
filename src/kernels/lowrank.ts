// Low-rank factorizations of weights (the decompose pass's numerics), row-major, float64 inside; the
// big products go through a GemmFn (kernels/matmul.ts: ONNX Runtime in the passes, loops when none).
//  1. energyRank(spectrum, total, f): the smallest r whose leading squared singular values keep at
//     least f · total.
//  2. plainLowRank(W [K, N]): W ≈ U_r S_r V_rᵀ (kernels/svd), W1 = U_r √S_r [K, r], W2 = √S_r V_rᵀ
//     [r, N]; spectrum = σ², total = ‖W‖²_F. With an energy target the spectrum is computed far enough:
//     exact when min(K, N) <= FULL_MAX, else randomized at doubling ranks until the target is kept.
//  3. whitenedLowRank(W [K, N], G = XᵀX / M [K, K]) (SVD-LLM's truncation-aware whitening): the rank-r
//     Ŵ that minimises ‖X(W − Ŵ)‖_F, the layer's output error on the calibration rows; G is damped by
//     λ = damp · mean(diag G) first.
//       N <= K: the right singular vectors of XW are the eigenvectors V of WᵀGW [N, N]:
//               Ŵ = W V_r V_rᵀ, W1 = W V_r, W2 = V_rᵀ (no Cholesky needed)
//       N > K:  G = L Lᵀ (Cholesky; λ grown ×10 until it succeeds), LᵀW = U Σ Vᵀ through the
//               eigenvectors U of (LᵀW)(LᵀW)ᵀ [K, K]: W1 = L⁻ᵀ U_r, W2 = U_rᵀ Lᵀ W
//     spectrum = the squared singular values of the whitened LᵀW (the output energy per direction),
//     total = tr(WᵀGW). Column j of W1 and row j of W2 are rescaled to equal norms (balanced factors
//     quantize alike afterwards). With the input mean μ, G is centred (G − μμᵀ: no rank is spent on
//     the mean) and the factors come with the bias shift μ(W − W1W2) [N] that keeps the mean output.
//  4. Tucker-2 of a conv kernel W [Cout, Cin, S] (S = kh·kw): W ≈ core ×0 U0 ×1 U1 with U0 [Cout, r2],
//     U1 [Cin, r1] and core [r2, r1, S]: a 1×1 conv U1ᵀ, the k×k core, a 1×1 conv U0.
//     plainTucker2: HOSVD (U0, U1 = leading eigenvectors of the mode-0 / mode-1 unfolding Grams), then
//     `iterations` HOOI sweeps (U0 from W ×1 U1ᵀ, U1 from W ×0 U0ᵀ); core = W ×0 U0ᵀ ×1 U1ᵀ.
//     dataTucker2 (with calibration statistics): the input side is whitenedLowRank of the mode-1
//     unfolding [Cin, Cout·S] with the per-pixel channel Gram of the conv input (cross-pixel
//     correlations ignored); the output side is the leading eigenvectors U0 of the centred covariance
//     of the conv's output channels (Zhang et al. 2016, "Accelerating very deep convolutional networks"),
//     and the mean the projection drops goes into the bias: b' = b + (I − U0U0ᵀ)·μ, μ the mean output
//     before the bias.

import type { GemmFn } from './matmul.js';
import {
  cholesky,
  inverseTransposeOfLower,
  loopGemm,
  type SvdOptions,
  symmetricEigen,
  truncatedSvd,
  truncatedSvdAsync,
} from './svd.js';

/** min(K, N) up to which an energy target computes the whole spectrum exactly */
export const FULL_MAX = 1024;

/** The smallest r (>= 1) with Σ_{j<r} spectrum[j] >= f · total (f in (0, 1]). */
export function energyRank(spectrum: ArrayLike<number>, total: number, f: number): number {
  const goal = f * total * (1 - 1e-12);
  let acc = 0;
  for (let r = 0; r < spectrum.length; r++) {
    acc += Math.max(0, spectrum[r]!);
    if (acc >= goal) return r + 1;
  }
  return Math.max(1, spectrum.length);
}

/** A factorized [K, N] matrix: factors at any rank up to spectrum.length. */
export interface LowRank {
  k: number;
  n: number;
  /** squared singular values, descending (of W, or of the whitened LᵀW) */
  spectrum: Float64Array;
  /** Σ of every squared singular value (also those not computed) */
  total: number;
  /** W1 [K, r], W2 [r, N]; `shift` [N] to add to the bias (centred whitening) */
  factors(r: number): MatrixFactors;
}

export interface MatrixFactors {
  w1: Float32Array;
  w2: Float32Array;
  shift?: Float32Array;
}

/** μ(W − W1W2) [N] for the mean μ [K] and μW [N]. */
function meanShift(
  mean: Float64Array,
  muW: Float64Array,
  f: { w1: Float32Array; w2: Float32Array },
  k: number,
  n: number,
): Float32Array {
  const r = f.w1.length / k;
  const m1 = new Float64Array(r);
  for (let i = 0; i < k; i++) for (let j = 0; j < r; j++) m1[j]! += mean[i]! * f.w1[i * r + j]!;
  const shift = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    let a = muW[c]!;
    for (let j = 0; j < r; j++) a -= m1[j]! * f.w2[j * n + c]!;
    shift[c] = a;
  }
  return shift;
}

const loop: GemmFn = async (a, aDims, b, bDims, options) => loopGemm(a, aDims, b, bDims, options);

/** Rescale column j of w1 [K, r] and row j of w2 [r, N] to the same norm (their product is unchanged). */
export function balanceFactors(w1: Float32Array, w2: Float32Array, k: number, r: number, n: number): void {
  for (let j = 0; j < r; j++) {
    let a = 0;
    let b = 0;
    for (let i = 0; i < k; i++) a += w1[i * r + j]! ** 2;
    for (let c = 0; c < n; c++) b += w2[j * n + c]! ** 2;
    if (!(a > 0 && b > 0)) continue;
    const s = Math.sqrt(Math.sqrt(b / a));
    for (let i = 0; i < k; i++) w1[i * r + j]! *= s;
    for (let c = 0; c < n; c++) w2[j * n + c]! /= s;
  }
}

function sumSquares(w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i]! ** 2;
  return s;
}

/** Plain SVD of w [K, N]: `want` a rank, or an energy fraction to compute the spectrum for. */
export async function plainLowRank(
  w: Float64Array,
  k: number,
  n: number,
  want: number | { energy: number },
  options: SvdOptions & { gemm?: GemmFn } = {},
): Promise<LowRank> {
  const p = Math.min(k, n);
  const total = sumSquares(w);
  const svd = (r: number, method = options.method) =>
    options.gemm
      ? truncatedSvdAsync(w, k, n, r, { ...options, method, gemm: options.gemm })
      : Promise.resolve(truncatedSvd(w, k, n, r, { ...options, method }));
  let s: Awaited<ReturnType<typeof svd>>;
  if (typeof want === 'number') s = await svd(Math.min(p, want));
  else if (p <= FULL_MAX) s = await svd(p, 'exact');
  else {
    let r = 64;
    for (;;) {
      s = await svd(Math.min(p, r));
      const spectrum = Float64Array.from(s.s, (x) => x * x);
      if (r >= p || energyRank(spectrum, total, want.energy) < spectrum.length) break;
      r *= 2;
    }
  }
  const { u, vt, rank } = s;
  const sv = s.s;
  return {
    k,
    n,
    spectrum: Float64Array.from(sv, (x) => x * x),
    total,
    factors(r) {
      const q = Math.min(r, rank);
      const w1 = new Float32Array(k * q);
      const w2 = new Float32Array(q * n);
      for (let j = 0; j < q; j++) {
        const sq = Math.sqrt(sv[j]!);
        for (let i = 0; i < k; i++) w1[i * q + j] = u[i * rank + j]! * sq;
        for (let c = 0; c < n; c++) w2[j * n + c] = vt[j * n + c]! * sq;
      }
      return { w1, w2 };
    },
  };
}

/** Symmetrised float64 copy of a float32 product that should be symmetric. */
function symmetric(a: Float32Array, n: number): Float64Array {
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      const v = (a[i * n + j]! + a[j * n + i]!) / 2;
      s[i * n + j] = v;
      s[j * n + i] = v;
    }
  return s;
}

/** G + damp · mean(diag G) · I */
function damped(g: Float64Array, k: number, damp: number, grow = 1): Float64Array {
  let mean = 0;
  for (let i = 0; i < k; i++) mean += g[i * k + i]!;
  mean /= k;
  const out = Float64Array.from(g);
  const lambda = Math.max(damp * grow * mean, 1e-12 * (mean || 1));
  for (let i = 0; i < k; i++) out[i * k + i]! += lambda;
  return out;
}

const f32 = (a: Float64Array) => Float32Array.from(a);

/** Activation-aware SVD of w [K, N] for y = x·w, with gram = E[xxᵀ] [K, K] (header, rule 3). */
export async function whitenedLowRank(
  w: Float64Array,
  k: number,
  n: number,
  gram: Float64Array,
  options: { damp?: number; gemm?: GemmFn; mean?: Float64Array } = {},
): Promise<LowRank> {
  const mean = options.mean;
  if (!mean) return whitened(w, k, n, gram, options);
  const cov = Float64Array.from(gram);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) cov[i * k + j]! -= mean[i]! * mean[j]!;
  const inner = await whitened(w, k, n, cov, options);
  const muW = new Float64Array(n);
  for (let i = 0; i < k; i++) for (let c = 0; c < n; c++) muW[c]! += mean[i]! * w[i * n + c]!;
  return {
    ...inner,
    factors(r) {
      const f = inner.factors(r);
      return { ...f, shift: meanShift(mean, muW, f, k, n) };
    },
  };
}

async function whitened(
  w: Float64Array,
  k: number,
  n: number,
  gram: Float64Array,
  options: { damp?: number; gemm?: GemmFn },
): Promise<LowRank> {
  const gemm = options.gemm ?? loop;
  const damp = options.damp ?? 0.01;
  const w32 = f32(w);
  if (n <= k) {
    const g = f32(damped(gram, k, damp));
    const gw = await gemm(g, [k, k], w32, [k, n]);
    const c = symmetric(await gemm(w32, [k, n], gw, [k, n], { transA: true }), n);
    const { values, vectors } = symmetricEigen(c, n);
    const wv = await gemm(w32, [k, n], f32(vectors), [n, n]);
    return whitenedResult(k, n, values, (q, w1, w2) => {
      for (let i = 0; i < k; i++) for (let j = 0; j < q; j++) w1[i * q + j] = wv[i * n + j]!;
      for (let j = 0; j < q; j++) for (let c2 = 0; c2 < n; c2++) w2[j * n + c2] = vectors[c2 * n + j]!;
    });
  }
  let l = damped(gram, k, damp);
  for (let grow = 10; !cholesky(l, k); grow *= 10) l = damped(gram, k, damp, grow);
  const m = await gemm(f32(l), [k, k], w32, [k, n], { transA: true }); // Lᵀ W [K, N]
  const mt = new Float32Array(n * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) mt[j * k + i] = m[i * n + j]!;
  const e = symmetric(await gemm(mt, [n, k], mt, [n, k], { transA: true }), k); // (LᵀW)(LᵀW)ᵀ
  const { values, vectors } = symmetricEigen(e, k);
  const u32 = f32(vectors);
  const utm = await gemm(u32, [k, k], m, [k, n], { transA: true }); // Uᵀ Lᵀ W [K, N]
  const x = await gemm(inverseTransposeOfLower(l, k), [k, k], u32, [k, k]); // L⁻ᵀ U [K, K]
  return whitenedResult(k, n, values, (q, w1, w2) => {
    for (let i = 0; i < k; i++) for (let j = 0; j < q; j++) w1[i * q + j] = x[i * k + j]!;
    w2.set(utm.subarray(0, q * n));
  });
}

/** A whitened LowRank from the eigenvalues and a filler of the rank-q factors (then balanced). */
function whitenedResult(
  k: number,
  n: number,
  values: Float64Array,
  fill: (q: number, w1: Float32Array, w2: Float32Array) => void,
): LowRank {
  const spectrum = Float64Array.from(values, (v) => Math.max(0, v));
  return {
    k,
    n,
    spectrum,
    total: spectrum.reduce((a, b) => a + b, 0),
    factors(r) {
      const q = Math.min(r, k, n);
      const w1 = new Float32Array(k * q);
      const w2 = new Float32Array(q * n);
      fill(q, w1, w2);
      balanceFactors(w1, w2, k, q, n);
      return { w1, w2 };
    },
  };
}

// ---- Tucker-2 ----

/** Gram of the mode-`mode` unfolding of x [A, B, S]: [A, A] (mode 0) or [B, B] (mode 1). */
export function modeGram(x: Float64Array, a: number, b: number, s: number, mode: 0 | 1): Float64Array {
  const d = mode === 0 ? a : b;
  const g = new Float64Array(d * d);
  if (mode === 0) {
    const len = b * s;
    for (let i = 0; i < a; i++)
      for (let j = i; j < a; j++) {
        let acc = 0;
        for (let t = 0; t < len; t++) acc += x[i * len + t]! * x[j * len + t]!;
        g[i * a + j] = acc;
        g[j * a + i] = acc;
      }
    return g;
  }
  for (let o = 0; o < a; o++) {
    const base = o * b * s;
    for (let i = 0; i < b; i++)
      for (let j = i; j < b; j++) {
        let acc = 0;
        for (let t = 0; t < s; t++) acc += x[base + i * s + t]! * x[base + j * s + t]!;
        g[i * b + j]! += acc;
      }
  }
  for (let i = 0; i < b; i++) for (let j = 0; j < i; j++) g[i * b + j] = g[j * b + i]!;
  return g;
}

/** x ×mode Uᵀ for x [A, B, S] and U [dim, r]: [r, B, S] (mode 0) or [A, r, S] (mode 1). */
export function modeProduct(
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  mode: 0 | 1,
  u: Float64Array,
  r: number,
): Float64Array {
  if (mode === 0) {
    const len = b * s;
    const y = new Float64Array(r * len);
    for (let i = 0; i < a; i++)
      for (let t = 0; t < r; t++) {
        const f = u[i * r + t]!;
        if (f === 0) continue;
        for (let p = 0; p < len; p++) y[t * len + p]! += f * x[i * len + p]!;
      }
    return y;
  }
  const y = new Float64Array(a * r * s);
  for (let o = 0; o < a; o++)
    for (let c = 0; c < b; c++)
      for (let t = 0; t < r; t++) {
        const f = u[c * r + t]!;
        if (f === 0) continue;
        const src = (o * b + c) * s;
        const dst = (o * r + t) * s;
        for (let p = 0; p < s; p++) y[dst + p]! += f * x[src + p]!;
      }
  return y;
}

/** The leading r eigenvectors of a symmetric g [d, d] as [d, r], and every eigenvalue. */
function leading(g: Float64Array, d: number, r: number): { u: Float64Array; values: Float64Array } {
  const { values, vectors } = symmetricEigen(g, d);
  const u = new Float64Array(d * r);
  for (let i = 0; i < d; i++) for (let j = 0; j < r; j++) u[i * r + j] = vectors[i * d + j]!;
  return { u, values };
}

export interface Tucker2Factors {
  /** U1ᵀ [r1, Cin] */
  first: Float32Array;
  /** [r2, r1, S] */
  core: Float32Array;
  /** U0 [Cout, r2] */
  last: Float32Array;
  /** added to the bias [Cout] (data-aware output side) */
  biasShift?: Float32Array;
}

export interface Tucker2 {
  /** squared singular values of the mode-1 (input, Cin) and mode-0 (output, Cout) sides, descending */
  spectra: [Float64Array, Float64Array];
  totals: [number, number];
  /** factors at input rank r1 and output rank r2 */
  factors(r1: number, r2: number): Tucker2Factors;
}

const clampValues = (v: Float64Array) => Float64Array.from(v, (x) => Math.max(0, x));
const sum = (v: Float64Array) => v.reduce((a, b) => a + b, 0);

/** HOSVD + HOOI of w [Cout, Cin, S] (header, rule 4). */
export function plainTucker2(
  w: Float64Array,
  cout: number,
  cin: number,
  s: number,
  iterations: number,
): Tucker2 {
  const out = clampValues(symmetricEigen(modeGram(w, cout, cin, s, 0), cout).values);
  const inn = clampValues(symmetricEigen(modeGram(w, cout, cin, s, 1), cin).values);
  return {
    spectra: [inn, out],
    totals: [sum(inn), sum(out)],
    factors(r1, r2) {
      let u1 = leading(modeGram(w, cout, cin, s, 1), cin, r1).u;
      let u0 = leading(modeGram(w, cout, cin, s, 0), cout, r2).u;
      for (let it = 0; it < iterations; it++) {
        const y = modeProduct(w, cout, cin, s, 1, u1, r1); // [Cout, r1, S]
        u0 = leading(modeGram(y, cout, r1, s, 0), cout, r2).u;
        const z = modeProduct(w, cout, cin, s, 0, u0, r2); // [r2, Cin, S]
        u1 = leading(modeGram(z, r2, cin, s, 1), cin, r1).u;
      }
      const core = modeProduct(modeProduct(w, cout, cin, s, 0, u0, r2), r2, cin, s, 1, u1, r1);
      const first = new Float32Array(r1 * cin);
      for (let c = 0; c < cin; c++) for (let t = 0; t < r1; t++) first[t * cin + c] = u1[c * r1 + t]!;
      return { first, core: f32(core), last: f32(u0) };
    },
  };
}

/** Calibration statistics of one conv for dataTucker2. */
export interface ConvStatistics {
  /** per-pixel E[x xᵀ] of the input channels [Cin, Cin] */
  inGram: Float64Array;
  /** centred covariance of the output channels [Cout, Cout] */
  outCov: Float64Array;
  /** mean output per channel, before the bias [Cout] */
  outMean: Float64Array;
}

/** Data-aware Tucker-2 of w [Cout, Cin, S] (header, rule 4). */
export async function dataTucker2(
  w: Float64Array,
  cout: number,
  cin: number,
  s: number,
  stats: ConvStatistics,
  options: { damp?: number; gemm?: GemmFn } = {},
): Promise<Tucker2> {
  // mode-1 unfolding Q [Cin, Cout·S]: Q[c, o·S + p] = W[o, c, p]
  const q = new Float64Array(cin * cout * s);
  for (let o = 0; o < cout; o++)
    for (let c = 0; c < cin; c++)
      for (let p = 0; p < s; p++) q[c * cout * s + o * s + p] = w[(o * cin + c) * s + p]!;
  const input = await whitenedLowRank(q, cin, cout * s, stats.inGram, options);
  const { values, vectors } = symmetricEigen(stats.outCov, cout);
  const out = clampValues(values);
  return {
    spectra: [input.spectrum, out],
    totals: [input.total, sum(out)],
    factors(r1, r2) {
      const { w1, w2 } = input.factors(r1); // w1 [Cin, r1], w2 [r1, Cout·S]
      const q1 = w2.length / (cout * s);
      const a = new Float64Array(cout * q1 * s); // [Cout, r1, S]
      for (let t = 0; t < q1; t++)
        for (let o = 0; o < cout; o++)
          for (let p = 0; p < s; p++) a[(o * q1 + t) * s + p] = w2[t * cout * s + o * s + p]!;
      const u0 = new Float64Array(cout * r2);
      for (let i = 0; i < cout; i++) for (let j = 0; j < r2; j++) u0[i * r2 + j] = vectors[i * cout + j]!;
      const core = modeProduct(a, cout, q1, s, 0, u0, r2);
      const first = new Float32Array(q1 * cin);
      for (let c = 0; c < cin; c++) for (let t = 0; t < q1; t++) first[t * cin + c] = w1[c * q1 + t]!;
      // b' = b + (I − U0U0ᵀ)μ
      const biasShift = new Float32Array(cout);
      const proj = new Float64Array(r2);
      for (let j = 0; j < r2; j++)
        for (let i = 0; i < cout; i++) proj[j]! += u0[i * r2 + j]! * stats.outMean[i]!;
      for (let i = 0; i < cout; i++) {
        let back = 0;
        for (let j = 0; j < r2; j++) back += u0[i * r2 + j]! * proj[j]!;
        biasShift[i] = stats.outMean[i]! - back;
      }
      return { first, core: f32(core), last: f32(u0), biasShift };
    },
  };
}
