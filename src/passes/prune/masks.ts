// Score-based masks of prune-weights ('magnitude' and 'wanda'), on a weight tensor in its own layout:
//  1. score per weight: |w| ('magnitude'), or |w| · ||x_k|| ('wanda', Sun et al. 2023), with ||x_k||
//     the L2 norm of input feature k over the calibration data (channel k of a Conv input)
//  2. unstructured: the k lowest-scoring weights are set to 0 (ties in index order)
//  3. N:M: in every group of m consecutive weights along the input dimension (the same output and
//     kernel position), the m - n lowest-scoring are set to 0; a trailing group shorter than m stays

import { EdgefitError } from '../../errors.js';
import { attrInt } from '../../ir/builder.js';
import type { Model, Node } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import type { PassContext } from '../pass.js';
import { asFloat32 } from '../util.js';

/** For weight element i: the input feature it multiplies. */
export function inputIndexer(n: Node, dims: number[]): (i: number) => number {
  if (n.opType === 'Conv') {
    const inner = dims.slice(2).reduce((a, b) => a * b, 1);
    const cPer = dims[1]!;
    const group = attrInt(n, 'group', 1);
    const outPerGroup = dims[0]! / group;
    return (i) => {
      const o = Math.floor(i / (cPer * inner));
      const c = Math.floor(i / inner) % cPer;
      return Math.floor(o / outPerGroup) * cPer + c;
    };
  }
  if (n.opType === 'ConvTranspose') {
    const inner = dims.slice(1).reduce((a, b) => a * b, 1);
    return (i) => Math.floor(i / inner);
  }
  const transB = n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1;
  const cols = dims[1]!;
  return transB ? (i) => i % cols : (i) => Math.floor(i / cols);
}

/** An id for the weights that share an output (and spatial position): the row the N:M groups run along. */
function rowOf(n: Node, dims: number[], i: number): number {
  if (n.opType === 'Conv') {
    const inner = dims.slice(2).reduce((a, b) => a * b, 1);
    const cPer = dims[1]!;
    const o = Math.floor(i / (cPer * inner));
    return o * inner + (i % inner);
  }
  if (n.opType === 'ConvTranspose') return i % dims.slice(1).reduce((a, b) => a * b, 1);
  const transB = n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1;
  const cols = dims[1]!;
  return transB ? Math.floor(i / cols) : i % cols;
}

/** rule 1: |w|, times the input feature's norm when `norm` (summed squares per feature) is given. */
export function scoresOf(n: Node, t: Tensor, w: Float32Array, norm?: Float64Array): Float64Array {
  const feature = inputIndexer(n, t.dims);
  return Float64Array.from(w, (v, i) => Math.abs(v) * (norm ? Math.sqrt(norm[feature(i)] ?? 0) : 1));
}

/** rule 2: zero the k lowest-scoring entries of w, in place. */
export function pruneLowest(w: Float32Array, score: Float64Array, k: number): void {
  if (k <= 0) return;
  const threshold = Float64Array.from(score).sort()[k - 1]!;
  let removed = 0;
  for (let i = 0; i < w.length && removed < k; i++)
    if (score[i]! <= threshold) {
      w[i] = 0;
      removed++;
    }
}

/** rule 3: N:M along the input dimension, in place. */
export function pruneNM(
  n: Node,
  dims: number[],
  w: Float32Array,
  score: Float64Array,
  keep: number,
  m: number,
): void {
  const feature = inputIndexer(n, dims);
  const groups = new Map<string, number[]>();
  for (let i = 0; i < w.length; i++) {
    const key = `${rowOf(n, dims, i)}:${Math.floor(feature(i) / m)}`;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  for (const g of groups.values()) {
    if (g.length < m) continue;
    g.sort((a, b) => score[a]! - score[b]!);
    for (let j = 0; j < g.length - keep; j++) w[g[j]!] = 0;
  }
}

/** Wanda's input feature norms: Σ x² per input feature of each named main-graph activation. */
export async function wandaNorms(
  model: Model,
  names: string[],
  ctx: PassContext,
  samples: number,
): Promise<Map<string, Float64Array>> {
  if (!ctx.calibration || !ctx.collect)
    throw new EdgefitError('BAD_ARGUMENT', 'wanda pruning needs calibration data', 'pass --calib FILE');
  const norms = new Map<string, Float64Array>();
  await ctx.collect(
    model,
    names,
    (values) => {
      for (const [name, t] of Object.entries(values)) {
        const x = asFloat32(t);
        const rank = t.dims.length;
        const c = rank >= 3 ? t.dims[1]! : t.dims[rank - 1]!;
        const inner = rank >= 3 ? t.dims.slice(2).reduce((a, b) => a * b, 1) : 1;
        const acc = norms.get(name) ?? new Float64Array(c);
        for (let i = 0; i < x.length; i++)
          acc[rank >= 3 ? Math.floor(i / inner) % c : i % c]! += x[i]! * x[i]!;
        norms.set(name, acc);
      }
    },
    { limit: samples },
  );
  return norms;
}
