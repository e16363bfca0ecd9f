// Small dense factorizations for GPTQ (float64, row-major n×n): Cholesky, the inverse of a lower
// triangle, and the upper Cholesky factor of an inverse (U with UᵀU = H⁻¹), as GPTQ's update needs.

// Both factorizations work on blocks of ROWS rows: every earlier row is read once per block instead of
// once per row, which keeps the K×K triangle's traffic (not the arithmetic) from dominating.
const ROWS = 16;

/** Σ a[i0 + p] · a[j0 + p] for p < len, with four accumulators (an add's latency bounds one). */
export function dot(a: Float64Array, i0: number, j0: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let p = 0;
  for (; p + 3 < len; p += 4) {
    s0 += a[i0 + p]! * a[j0 + p]!;
    s1 += a[i0 + p + 1]! * a[j0 + p + 1]!;
    s2 += a[i0 + p + 2]! * a[j0 + p + 2]!;
    s3 += a[i0 + p + 3]! * a[j0 + p + 3]!;
  }
  for (; p < len; p++) s0 += a[i0 + p]! * a[j0 + p]!;
  return s0 + s1 + (s2 + s3);
}

/** In-place lower Cholesky factor of a symmetric positive definite a; false if not positive definite. */
function choleskyLower(a: Float64Array, n: number): boolean {
  for (let i0 = 0; i0 < n; i0 += ROWS) {
    const i1 = Math.min(n, i0 + ROWS);
    // L[i][j] = (A[i][j] - L[i][:j] · L[j][:j]) / L[j][j]; row j is final once column j is done
    for (let j = 0; j < i1; j++) {
      const rj = j * n;
      for (let i = Math.max(i0, j); i < i1; i++) {
        const ri = i * n;
        const s = a[ri + j]! - dot(a, ri, rj, j);
        if (i > j) a[ri + j] = s / a[rj + j]!;
        else if (s > 0 && Number.isFinite(s)) a[ri + i] = Math.sqrt(s);
        else return false;
      }
    }
    for (let i = i0; i < i1; i++) a.fill(0, i * n + i + 1, (i + 1) * n);
  }
  return true;
}

/** Inverse of a lower triangular l (row-major n×n), lower triangular. */
function invertLower(l: Float64Array, n: number): Float64Array {
  const x = new Float64Array(n * n);
  // row i of X = (e_i - Σ_{p<i} L[i][p] · X[p]) / L[i][i], X[p] zero beyond column p
  const subtract = (i: number, p: number) => {
    const f = l[i * n + p]!;
    if (f === 0) return;
    const ri = i * n;
    const rp = p * n;
    let j = 0;
    for (; j + 3 <= p; j += 4) {
      x[ri + j] = x[ri + j]! - f * x[rp + j]!;
      x[ri + j + 1] = x[ri + j + 1]! - f * x[rp + j + 1]!;
      x[ri + j + 2] = x[ri + j + 2]! - f * x[rp + j + 2]!;
      x[ri + j + 3] = x[ri + j + 3]! - f * x[rp + j + 3]!;
    }
    for (; j <= p; j++) x[ri + j] = x[ri + j]! - f * x[rp + j]!;
  };
  for (let i0 = 0; i0 < n; i0 += ROWS) {
    const i1 = Math.min(n, i0 + ROWS);
    for (let p = 0; p < i0; p++) for (let i = i0; i < i1; i++) subtract(i, p);
    for (let p = i0; p < i1; p++) {
      const rp = p * n;
      const d = 1 / l[rp + p]!;
      for (let j = 0; j < p; j++) x[rp + j] = x[rp + j]! * d;
      x[rp + p] = d;
      for (let i = p + 1; i < i1; i++) subtract(i, p);
    }
  }
  return x;
}

/**
 * U upper triangular with UᵀU = H⁻¹ (H symmetric positive definite). With J the reversal
 * permutation: JHJ = L'L'ᵀ gives H = VVᵀ with V = JL'J upper, so H⁻¹ = V⁻ᵀV⁻¹ and U = V⁻¹ = J L'⁻¹ J.
 * Returns undefined when H is not positive definite.
 */
export function upperCholeskyOfInverse(h: Float64Array, n: number): Float64Array | undefined {
  const r = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) r[(n - 1 - i) * n + (n - 1 - j)] = h[i * n + j]!;
  if (!choleskyLower(r, n)) return undefined;
  const li = invertLower(r, n);
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) u[(n - 1 - i) * n + (n - 1 - j)] = li[i * n + j]!;
  return u;
}

/**
 * U with UᵀU = (H + damp·I)⁻¹ (GPTQ's dampening), damp = percdamp · meanDiag first, then ×10 (at
 * least 1e-8 · meanDiag) up to five more times until H + damp·I is positive definite; with the
 * dampened H. Undefined when it never is. H is not changed.
 */
export function dampedUpperFactor(
  h: Float64Array,
  n: number,
  percdamp: number,
  meanDiag: number,
): { u: Float64Array; hd: Float64Array } | undefined {
  let damp = percdamp * meanDiag;
  for (let attempt = 0; attempt < 6; attempt++) {
    const hd = Float64Array.from(h);
    for (let k = 0; k < n; k++) hd[k * n + k] = hd[k * n + k]! + damp;
    const u = upperCholeskyOfInverse(hd, n);
    if (u) return { u, hd };
    damp = Math.max(damp * 10, 1e-8 * meanDiag);
  }
  return undefined;
}
