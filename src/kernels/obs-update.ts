// The error update GPTQ, SparseGPT and GPTQ-style clustering share (Frantar et al. 2022): W [K, N]
// row-major, rows = input features, U the upper Cholesky factor of H⁻¹. After row k is rounded,
// pruned or snapped with scaled error e = (w_k − q_k) / U[k,k], the rows j > k not yet done get
// w_j −= U[k,j] · e. Lazily: inside the current batch of rows [i1, i2) at once (pushErrorWithin),
// onto the rows below the batch with one product through `gemm` (ONNX Runtime) when the batch is done
// (pushErrorBelow): W[i2:] −= U[i1:i2, i2:]ᵀ · E.

import type { GemmFn } from './matmul.js';

/** w_j −= U[k,j] · e for the rows k < j < i2 of the batch; `e` is row k's scaled error [N] */
export function pushErrorWithin(
  W: Float32Array,
  K: number,
  N: number,
  U: Float64Array,
  k: number,
  i2: number,
  e: Float32Array,
): void {
  for (let j = k + 1; j < i2; j++) {
    const f = U[k * K + j]!;
    if (f === 0) continue;
    const rj = j * N;
    for (let n = 0; n < N; n++) W[rj + n] = W[rj + n]! - f * e[n]!;
  }
}

/** W[i2:] −= U[i1:i2, i2:]ᵀ · E, E [i2 − i1, N] the batch's scaled errors (one Gemm: alpha −1, beta 1) */
export async function pushErrorBelow(
  W: Float32Array,
  K: number,
  N: number,
  U: Float64Array,
  i1: number,
  i2: number,
  err: Float32Array,
  gemm: GemmFn,
): Promise<void> {
  if (i2 >= K) return;
  const rows = i2 - i1;
  const rest = K - i2;
  const u = new Float32Array(rows * rest);
  for (let i = 0; i < rows; i++) for (let j = 0; j < rest; j++) u[i * rest + j] = U[(i1 + i) * K + i2 + j]!;
  const updated = await gemm(u, [rows, rest], err.subarray(0, rows * N), [rows, N], {
    transA: true,
    alpha: -1,
    beta: 1,
    c: W.subarray(i2 * N),
  });
  W.set(updated, i2 * N);
}
