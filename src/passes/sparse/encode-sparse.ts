// encode-sparse: store mostly-zero weights as values + positions (sparse-storage.ts), expanded by
// ONNX Runtime when it loads the model: the file shrinks, not only its brotli size, and inference
// runs on the dense weight at dense speed.
//  1. candidates: initializers of at least minElements elements read only as a weight — input 1 of
//     Conv/ConvTranspose/MatMul/Gemm/MatMulInteger/ConvInteger, input 0 of DequantizeLinear — with at
//     least minSparsity zeros, float or integer, byte-aligned
//  2. only where the sparse form is smaller (sparse-storage.ts rule 3) and the opset is >= 11
//  3. a codebook weight (cluster-weights) whose most frequent index holds at least minSparsity of the
//     elements (a pruned weight's exact 0) gets its indices stored sparse instead, that index moved to
//     entry 0 of the codebook — where that takes at most 10% more than its packed indices (brotli then
//     gains more than that), one codebook per tensor
//  4. lossless: the expansion gives back the same bytes

import { z } from 'zod';
import type { Model, Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { writeCodebook } from '../cluster/codebook.js';
import { codebookWeights, dropNodes } from '../encoding.js';
import { definePass, type PassContext } from '../pass.js';
import { gapEntries, SPARSE_MIN_OPSET, sparseBytes, worthSparse, writeSparse } from './sparse-storage.js';

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

/** Rule 3: codebooks whose indices are mostly one value get sparse indices; returns how many. */
function sparseCodebooks(model: Model, minSparsity: number, ctx: PassContext) {
  let n = 0;
  for (const u of codebookWeights(model, ctx.selects)) {
    const { cb } = u;
    if (cb.sparseIndices || (cb.groups ?? 1) > 1) continue;
    const k = cb.codebook.dims[0]!;
    const counts = new Uint32Array(k);
    for (const i of cb.indices) counts[i]!++;
    const top = counts.indexOf(Math.max(...counts));
    if (counts[top]! / cb.indices.length < minSparsity) continue;
    // entry `top` becomes entry 0 (and 0 becomes `top`): the sparse fill is index 0
    const swap = (i: number) => (i === top ? 0 : i === 0 ? top : i);
    const indices = Uint8Array.from(cb.indices, swap);
    const width = cb.codebook.byteLength / k;
    const src = cb.codebook.bytes();
    const table = new Uint8Array(src.length);
    for (let i = 0; i < k; i++) table.set(src.subarray(swap(i) * width, (swap(i) + 1) * width), i * width);
    const positions: number[] = [];
    indices.forEach((i, p) => {
      if (i !== 0) positions.push(p);
    });
    // up to 10% more raw bytes than the packed indices is still worth it: brotli codes the gaps and the
    // byte-wide indices near their entropy, 3/5/6-bit words (which straddle bytes) far from it
    const sparse = gapEntries(positions) * 2;
    if (sparse + 96 >= 1.1 * ((indices.length * cb.bits) / 8)) continue;
    const codebook = Tensor.fromBytes('', cb.codebook.dtype, [...cb.codebook.dims], table);
    const base = u.value.name.replace(/_(gather|clustered)(_\d+)?$/, '');
    const out = writeCodebook(u.graph, base, { ...cb, codebook, indices, bits: 8, sparseIndices: true });
    u.value.replaceAllUsesWith(out);
    dropNodes(u.graph, cb.nodes ?? []);
    n++;
  }
  return n;
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
      return { changed: false, stats: { tensors, codebooks: 0, bytesBefore, bytesAfter } };
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
    const codebooks = sparseCodebooks(model, o.minSparsity, ctx);
    return { changed: tensors + codebooks > 0, stats: { tensors, codebooks, bytesBefore, bytesAfter } };
  },
});
