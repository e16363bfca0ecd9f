// encode-sparse: store mostly-zero weights as values + positions (sparse-storage.ts), expanded by
// ONNX Runtime when it loads the model: the file shrinks, not only its brotli size, and inference
// runs on the dense weight at dense speed.
//  1. candidates: initializers of at least minElements elements read only as a weight — input 1 of
//     Conv/ConvTranspose/MatMul/Gemm/MatMulInteger/ConvInteger, input 0 of DequantizeLinear — with at
//     least minSparsity zeros, float or integer, byte-aligned
//  2. only where the sparse form is smaller (sparse-storage.ts rule 3) and the opset is >= 11
//  3. lossless: the expansion gives back the same bytes

import { z } from 'zod';
import type { Node, Value } from '../../ir/graph.js';
import { definePass } from '../pass.js';
import { SPARSE_MIN_OPSET, sparseBytes, worthSparse, writeSparse } from './sparse-storage.js';

const WEIGHT_READERS: Record<string, number> = {
  Conv: 1,
  ConvTranspose: 1,
  MatMul: 1,
  Gemm: 1,
  MatMulInteger: 1,
  ConvInteger: 1,
  DequantizeLinear: 0,
};

const options = z
  .object({
    minSparsity: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe('store a weight sparsely when at least this fraction of it is zero (and that is smaller)'),
    minElements: z.number().int().min(0).default(1024).describe('leave weights with fewer elements dense'),
  })
  .strict();

/** rule 1: read only as a weight, by nodes the step selects */
function weightOnly(v: Value, selects: (n: Node) => boolean): boolean {
  return (
    v.uses.length > 0 &&
    !v.isGraphInput &&
    !v.isGraphOutput &&
    v.uses.every((u) => u.node.domain === '' && WEIGHT_READERS[u.node.opType] === u.index && selects(u.node))
  );
}

export const encodeSparse = definePass({
  id: 'encode-sparse',
  summary: 'store mostly-zero weights as values + positions, expanded by ONNX Runtime at load',
  lossless: true,
  options,
  searchSpace: { minSparsity: [0.5, 0.7] },
  apply(model, o, ctx) {
    const opset = model.opset('') ?? 0;
    let tensors = 0;
    let bytesBefore = 0;
    let bytesAfter = 0;
    if (opset < SPARSE_MIN_OPSET) {
      ctx.log.warn(
        `encode-sparse: sparse storage needs ai.onnx opset >= ${SPARSE_MIN_OPSET} (the model has ${opset})`,
      );
      return { changed: false, stats: { tensors, bytesBefore, bytesAfter } };
    }
    for (const graph of model.graph.allGraphs())
      for (const v of [...graph.initializers]) {
        const t = v.initializer!;
        if (t.size < o.minElements || !weightOnly(v, ctx.selects) || !worthSparse(t, opset)) continue;
        const { bytes, zeros } = sparseBytes(t)!;
        if (zeros < o.minSparsity) continue;
        const dense = writeSparse(graph, v.name, t);
        v.replaceAllUsesWith(dense);
        graph.removeInitializer(v);
        tensors++;
        bytesBefore += t.byteLength;
        bytesAfter += bytes;
      }
    return { changed: tensors > 0, stats: { tensors, bytesBefore, bytesAfter } };
  },
});
