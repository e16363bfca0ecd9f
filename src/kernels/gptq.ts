// GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers", 2022), written for W [K, N] (the paper's W is [N, K]): with H = 2·XᵀX/M from the
// layer's inputs X [M, K] (dampened by percdamp · mean(diag H)) and U the upper Cholesky factor of
// H⁻¹ (H⁻¹ = UᵀU), quantize rows k = 0..K-1 in order; after row k, spread its error
// e = (w_k - q_k) / U[k,k] over the rows not yet quantized: w_j -= U[k,j] · e. Updates are applied
// lazily: inside a batch of rows at once, to the rest of W with one product through `gemm` (ONNX
// Runtime): W[i2:] -= U[i1:i2, i2:]ᵀ · E. Batches are a multiple of the block size, so a block's
// scales are computed from its current (already updated) rows when the block is entered.

import {
  blockParams,
  emptyMatrix,
  levels,
  MAGIC,
  type QuantizedMatrix,
  quantizeRtn,
  type WeightScheme,
} from './block-quant.js';
import { dampedUpperFactor } from './cholesky.js';
import type { GemmFn } from './matmul.js';
import { pushErrorBelow, pushErrorWithin } from './obs-update.js';

export interface GptqOptions {
  /** dampening, as a fraction of the mean diagonal of H (GPTQ's percdamp) */
  percdamp?: number;
  /** rows per lazy update batch (rounded up to a multiple of the block size) */
  lazyBatch?: number;
  /**
   * keep the weights that are exactly 0 in `w` at code = zero point (dequantized exactly 0), their
   * error spread like any other (default true): pruning's mask survives quantization
   */
  keepZeros?: boolean;
}

/**
 * GPTQ quantization of w [K, N] given h [K, K] (a multiple of XᵀX over the calibration rows; only
 * its shape matters). `gemm` does the big products (ONNX Runtime through runtime/ort-matmul.ts).
 */
export async function quantizeGptq(
  w: Float32Array,
  K: number,
  N: number,
  h: Float64Array,
  scheme: WeightScheme,
  gemm: GemmFn,
  options: GptqOptions = {},
): Promise<QuantizedMatrix> {
  const W = Float32Array.from(w);
  const H = Float64Array.from(h);
  const keepZeros = options.keepZeros ?? true;
  // inputs that never fire carry no information: quantize their (zeroed) rows exactly
  let meanDiag = 0;
  for (let k = 0; k < K; k++) {
    if (H[k * K + k] === 0) {
      H[k * K + k] = 1;
      W.fill(0, k * N, (k + 1) * N);
    }
    meanDiag += H[k * K + k]! / K;
  }
  const U = dampedUpperFactor(H, K, options.percdamp ?? 0.01, meanDiag)?.u;
  if (!U) return quantizeRtn(w, K, N, scheme); // numerically hopeless: fall back to RTN

  const qm = emptyMatrix(K, N, scheme);
  const bs = qm.blockSize;
  const grouped = bs < K;
  // per channel / per tensor: the grid comes from the original weights, as GPTQ does without groups
  if (!grouped) blockParams(W, N, 0, K, 0, qm);
  const batch = grouped
    ? Math.ceil(Math.max(options.lazyBatch ?? 128, bs) / bs) * bs
    : (options.lazyBatch ?? 128);
  const { qmin, qmax } = levels(qm);
  const { codes, scales, zeroPoints } = qm;
  const err = new Float32Array(batch * N);
  for (let i1 = 0; i1 < K; i1 += batch) {
    const i2 = Math.min(K, i1 + batch);
    for (let k = i1; k < i2; k++) {
      const b = Math.floor(k / bs);
      if (grouped && k % bs === 0) blockParams(W, N, k, Math.min(K, k + bs), b, qm);
      const so = b * N;
      const d = U[k * K + k]!;
      const row = k * N;
      const e = (k - i1) * N;
      for (let n = 0; n < N; n++) {
        const v = W[row + n]!;
        const s = scales[so + n]!;
        const z = zeroPoints ? zeroPoints[so + n]! : 0;
        let q = Math.fround(v / s) + MAGIC - MAGIC + z;
        q = keepZeros && w[row + n] === 0 ? z : Math.max(qmin, Math.min(qmax, q));
        codes[row + n] = q;
        err[e + n] = (v - Math.fround((q - z) * s)) / d;
      }
      // spread the error over the rest of this batch (the rows below wait for the batch product)
      pushErrorWithin(W, K, N, U, k, i2, err.subarray(e, e + N));
    }
    await pushErrorBelow(W, K, N, U, i1, i2, err, gemm);
  }
  return qm;
}
