// prune-weights: unstructured and N:M sparsity of Conv, ConvTranspose, MatMul and Gemm weights.
//  1. score per weight: magnitude |w| ('magnitude'), or |w| · ||x_k|| ('wanda', Sun et al. 2023),
//     with ||x_k|| the L2 norm of input feature k over the calibration data (channel k of a Conv input)
//  2. 'unstructured': the lowest-scoring fraction S of each tensor's weights is set to 0
//     'n:m' (e.g. 2:4): in every group of m consecutive weights along the input dimension, the m - n
//     lowest-scoring are set to 0 (the pattern sparse tensor cores accelerate)
//  3. zeros are stored densely: ONNX Runtime's CPU kernels do not exploit unstructured sparsity
//     (docs/ORT.md §1.7), so this shrinks the transport size (brotli), not the file or the latency; structured
//     (channel) pruning is what makes models faster

import { z } from 'zod';
import { EdgefitError } from '../../errors.js';
import { attrInt } from '../../ir/builder.js';
import type { Node } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass } from '../pass.js';
import { nothingReason, weightCensus } from '../reasons.js';
import { asFloat32, constantOf, replaceInputWeight } from '../util.js';

const PRUNED_OPS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);

const options = z
  .object({
    sparsity: z
      .number()
      .min(0)
      .max(0.99)
      .default(0.5)
      .describe('fraction of weights set to zero (unstructured)'),
    pattern: z
      .enum(['unstructured', '2:4', '4:8', '1:4'])
      .default('unstructured')
      .describe('unstructured, or N:M (N kept in every M consecutive weights along the input)'),
    method: z
      .enum(['magnitude', 'wanda'])
      .default('magnitude')
      .describe('scores: |w|, or wanda |w| · input feature norm (needs calibration data)'),
    minElements: z.number().int().min(0).default(1024).describe('leave weights with fewer elements alone'),
    samples: z
      .number()
      .int()
      .min(1)
      .max(100000)
      .default(128)
      .describe('calibration samples for method wanda'),
  })
  .strict();

/** For weight element i: the input feature it multiplies, and its position along that axis's groups. */
function inputIndexer(n: Node, dims: number[]): (i: number) => number {
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

export const pruneWeights = definePass({
  id: 'prune-weights',
  summary: 'unstructured or N:M weight sparsity (magnitude or Wanda scores)',
  lossless: false,
  options,
  searchSpace: { sparsity: [0.3, 0.5, 0.7], pattern: ['unstructured', '2:4'] },
  async apply(model, o, ctx) {
    const targets = [...model.graph.allNodes()].filter((n) => {
      const t = constantOf(n.inputs[1]);
      return (
        n.domain === '' &&
        PRUNED_OPS.has(n.opType) &&
        ctx.selects(n) &&
        t?.dtype === DataType.FLOAT &&
        t.size >= o.minElements &&
        (n.opType !== 'Gemm' || attrInt(n, 'transA', 0) === 0)
      );
    });
    // rule 1: input feature norms for Wanda
    const norms = new Map<string, Float64Array>();
    if (o.method === 'wanda') {
      if (!ctx.calibration || !ctx.collect)
        throw new EdgefitError('BAD_ARGUMENT', 'wanda pruning needs calibration data', 'pass --calib FILE');
      const names = [
        ...new Set(targets.filter((n) => n.graph === model.graph).map((n) => n.inputs[0]!.name)),
      ];
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
        { limit: o.samples },
      );
    }
    let tensors = 0;
    let zeros = 0;
    let total = 0;
    for (const n of targets) {
      const t = constantOf(n.inputs[1])!;
      const w = t.toFloat32().slice();
      const feature = inputIndexer(n, t.dims);
      const norm = norms.get(n.inputs[0]!.name);
      const score = Float64Array.from(
        w,
        (v, i) => Math.abs(v) * (norm ? Math.sqrt(norm[feature(i)] ?? 0) : 1),
      );
      if (o.pattern === 'unstructured') {
        const k = Math.floor(o.sparsity * w.length);
        if (k === 0) continue;
        const threshold = Float64Array.from(score).sort()[k - 1]!;
        let removed = 0;
        for (let i = 0; i < w.length && removed < k; i++)
          if (score[i]! <= threshold) {
            w[i] = 0;
            removed++;
          }
      } else {
        // rule 2, n:m along the input dimension: group weights by (output, input feature block)
        const [keep, m] = o.pattern.split(':').map(Number) as [number, number];
        const groups = new Map<string, number[]>();
        for (let i = 0; i < w.length; i++) {
          const f = feature(i);
          // elements sharing everything but the input feature form a row; blocks of m features in it
          const key = `${rowOf(n, t.dims, i)}:${Math.floor(f / m)}`;
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
      let z = 0;
      for (const v of w) if (v === 0) z++;
      zeros += z;
      total += w.length;
      replaceInputWeight(n, 1, [...t.dims], w, 'pruned');
      tensors++;
    }
    if (!tensors)
      ctx.log.warn(
        nothingReason('prune-weights', weightCensus(model, o.minElements, ctx.selects), o.minElements, {
          recurrent: 'LSTM/GRU weights are not pruned',
        }),
      );
    return { changed: tensors > 0, stats: { tensors, sparsity: total ? zeros / total : 0 } };
  },
});

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
