// SparseGPT (Frantar & Alistarh, "SparseGPT: Massive Language Models Can Be Accurately Pruned in
// One-Shot", 2023), written for W [K, N] like kernels/gptq.ts (the paper's W is [N, K]): rows k are
// input features, columns n outputs. With H = XᵀX (any positive multiple) of the layer's inputs,
// dampened by percdamp · mean(diag H), and U the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU):
//  1. rows are taken in blocks of B (128); on entering a block, its mask is chosen from the current
//     (already updated) weights by the OBS saliency w² / U[k,k]²: unstructured, the lowest-saliency
//     entries of the block, as many as bring the tensor to floor(Z · i2 / K) zeros by the block's
//     end (Z = floor(S · K · N), or given: the whole tensor has exactly Z); N:M, in every group of M rows
//     (aligned to M) each column keeps the N entries of highest saliency, chosen when the group is
//     entered (SparseGPT's N:M variant)
//  2. row k is pruned (masked entries set to 0) and its error e = (w - q) / U[k,k] is pushed onto the
//     rows not yet pruned: w_j -= U[k,j] · e, inside the block at once and to the rest of W after the
//     block with one product through `gemm` (ONNX Runtime): W[i2:] -= U[i1:i2, i2:]ᵀ · E
//     (kernels/obs-update.ts, shared with GPTQ-style clustering)
//  3. the OBS loss Σ e² is the layer's output error ΔWᵀHΔW (exact for the dampened H); `relError`
//     divides it by tr(WᵀHW), so layers compare (the sensitivity allocation of prune-weights)
//  4. inputs that never fire (H[k,k] = 0) carry nothing: their rows are zeroed first (saliency 0)

import { dampedUpperFactor } from './cholesky.js';
import type { GemmFn } from './matmul.js';
import { pushErrorBelow, pushErrorWithin } from './obs-update.js';

export interface SparseGptFactor {
  K: number;
  /** upper triangular, UᵀU = (H + λI)⁻¹ */
  u: Float64Array;
  /** inputs that never fire: their rows are zeroed */
  dead: Uint8Array;
  /** the dampened H as float32 (for output-error measurements) */
  h: Float32Array;
}

/** Dampen and factor H [K, K]; undefined when no damping up to 1e5× makes it positive definite. */
export function sparseGptFactor(h: Float64Array, K: number, percdamp = 0.01): SparseGptFactor | undefined {
  const H = Float64Array.from(h);
  const dead = new Uint8Array(K);
  let meanDiag = 0;
  for (let k = 0; k < K; k++) {
    if (!(H[k * K + k]! > 0)) {
      dead[k] = 1;
      for (let j = 0; j < K; j++) H[k * K + j] = H[j * K + k] = 0;
      H[k * K + k] = 1;
    }
    meanDiag += H[k * K + k]! / K;
  }
  const f = dampedUpperFactor(H, K, percdamp, meanDiag);
  return f && { K, u: f.u, dead, h: Float32Array.from(f.hd) };
}

export interface SparseGptOptions {
  /** unstructured: the fraction of weights set to zero */
  sparsity?: number;
  /** unstructured: exactly this many zeros (instead of floor(sparsity · K · N)) */
  zeros?: number;
  /** N:M: keep `keep` of every `m` consecutive rows per column (sparsity is then ignored) */
  nm?: { keep: number; m: number };
  /** rows per block (a multiple of m for N:M; default 128) */
  blockSize?: number;
}

export interface SparseGptResult {
  /** the pruned and reconstructed W [K, N] */
  weights: Float32Array;
  /** Σ e² over every pruned weight: the output error ΔWᵀHΔW of the dampened H (rule 3) */
  loss: number;
}

/** SparseGPT of w [K, N] with a factor from sparseGptFactor (rules 1, 2, 4). */
export async function pruneSparseGpt(
  w: Float32Array,
  N: number,
  f: SparseGptFactor,
  gemm: GemmFn,
  options: SparseGptOptions,
): Promise<SparseGptResult> {
  const { K, u: U, dead } = f;
  const W = Float32Array.from(w);
  for (let k = 0; k < K; k++) if (dead[k]) W.fill(0, k * N, (k + 1) * N);
  const nm = options.nm;
  let bs = options.blockSize ?? 128;
  if (nm) bs = Math.max(nm.m, Math.floor(bs / nm.m) * nm.m);
  const target = nm ? 0 : Math.min(K * N, options.zeros ?? Math.floor((options.sparsity ?? 0) * K * N));
  const mask = new Uint8Array(K * N);
  const err = new Float32Array(bs * N);
  let removed = 0;
  let loss = 0;
  for (let i1 = 0; i1 < K; i1 += bs) {
    const i2 = Math.min(K, i1 + bs);
    if (!nm) {
      // rule 1: the block's quota of zeros, lowest saliency first
      const want = Math.floor((target * i2) / K) - removed;
      if (want > 0) {
        const idx = Uint32Array.from({ length: (i2 - i1) * N }, (_, i) => i1 * N + i);
        const sal = new Float64Array(idx.length);
        for (let i = 0; i < idx.length; i++) {
          const k = Math.floor(idx[i]! / N);
          const d = U[k * K + k]!;
          sal[i] = (W[idx[i]!]! * W[idx[i]!]!) / (d * d);
        }
        const order = Array.from(idx.keys()).sort((a, b) => sal[a]! - sal[b]! || a - b);
        for (let i = 0; i < want; i++) mask[idx[order[i]!]!] = 1;
        removed += want;
      }
    }
    for (let k = i1; k < i2; k++) {
      if (nm && (k - i1) % nm.m === 0 && k + nm.m <= K) selectNM(W, N, U, K, k, nm, mask);
      const d = U[k * K + k]!;
      const row = k * N;
      const e = (k - i1) * N;
      for (let n = 0; n < N; n++) {
        if (!mask[row + n]) {
          err[e + n] = 0;
          continue;
        }
        const v = W[row + n]! / d;
        err[e + n] = v;
        loss += v * v;
        W[row + n] = 0;
      }
      pushErrorWithin(W, K, N, U, k, i2, err.subarray(e, e + N));
    }
    await pushErrorBelow(W, K, N, U, i1, i2, err, gemm);
  }
  return { weights: W, loss };
}

/** rule 1, N:M: in rows k..k+m-1, mark the m - keep lowest-saliency entries of each column. */
function selectNM(
  W: Float32Array,
  N: number,
  U: Float64Array,
  K: number,
  k: number,
  nm: { keep: number; m: number },
  mask: Uint8Array,
): void {
  const sal = new Float64Array(nm.m);
  const order = Array.from({ length: nm.m }, (_, t) => t);
  for (let n = 0; n < N; n++) {
    for (let t = 0; t < nm.m; t++) {
      const d = U[(k + t) * K + k + t]!;
      const v = W[(k + t) * N + n]!;
      sal[t] = (v * v) / (d * d);
    }
    order.sort((a, b) => sal[a]! - sal[b]! || a - b);
    for (let t = 0; t < nm.m - nm.keep; t++) mask[(k + order[t]!) * N + n] = 1;
  }
}

/** tr(AᵀHB) for A, B [K, N] and H [K, K] float32: one product H·B through `gemm`. */
export async function traceForm(
  h: Float32Array,
  K: number,
  a: Float32Array,
  b: Float32Array,
  N: number,
  gemm: GemmFn,
): Promise<number> {
  const hb = await gemm(h, [K, K], b, [K, N]);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * hb[i]!;
  return s;
}

/** tr(ΔWᵀHΔW) and tr(WᵀHW) of a pruned layer: its output error ||ΔW X||² and output energy ||W X||². */
export async function outputError(
  f: SparseGptFactor,
  w: Float32Array,
  pruned: Float32Array,
  N: number,
  gemm: GemmFn,
): Promise<{ error: number; energy: number }> {
  const dw = Float32Array.from(w, (v, i) => v - pruned[i]!);
  return {
    error: await traceForm(f.h, f.K, dw, dw, N, gemm),
    energy: await traceForm(f.h, f.K, w, w, N, gemm),
  };
}
