// decompose-svd: low-rank factorization of MatMul and Gemm weights (docs/ORT.md §8.7).
//  1. W = op(B)·alpha as [K, N]; rank r = max(1, round(rankRatio · min(K, N)))
//  2. only when it saves parameters: r·(K + N) < K·N
//  3. W ≈ U S Vᵀ (kernels/svd: exact when min(K, N) <= 256, else randomized with scikit-learn's defaults,
//     products on ONNX Runtime when the context has it); W1 = U √S [K, r], W2 = √S Vᵀ [r, N]
//  4. MatMul(A, B)        -> MatMul(MatMul(A, W1), W2)
//     Gemm(A, B, C)       -> Gemm(MatMul(A, W1), W2, beta·C)   (alpha and transB folded into W)
// Both halves are plain MatMul/Gemm weights, so quantization and pruning apply to them afterwards.

import { z } from 'zod';
import { attrFloat, attrInt, GraphBuilder, setAttr } from '../../ir/builder.js';
import type { Node } from '../../ir/graph.js';
import type { MatMul } from '../../kernels/matmul.js';
import { truncatedSvd, truncatedSvdAsync } from '../../kernels/svd.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass } from '../pass.js';
import { nothingReason, weightCensus } from '../reasons.js';
import { constantOf, newFloatWeight } from '../util.js';

const options = z
  .object({
    rankRatio: z
      .number()
      .gt(0)
      .max(1)
      .default(0.5)
      .describe('kept rank as a fraction of min(K, N), in (0, 1]'),
    minElements: z.number().int().min(0).default(4096).describe('leave weights with fewer elements alone'),
    seed: z.number().int().default(0).describe('seed of the randomized SVD'),
    method: z
      .enum(['auto', 'exact', 'randomized'])
      .default('auto')
      .describe('auto: exact SVD when min(K, N) <= 256, else randomized (scikit-learn defaults)'),
  })
  .strict();

/** op(B)·alpha as [K, N] float64 */
function logicalWeight(n: Node): { w: Float64Array; k: number; n: number } | undefined {
  const t = constantOf(n.inputs[1]);
  if (!t || t.dtype !== DataType.FLOAT || t.dims.length !== 2) return undefined;
  const b = t.toFloat32();
  const [r, c] = t.dims as [number, number];
  const transB = n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1;
  const alpha = n.opType === 'Gemm' ? attrFloat(n, 'alpha', 1) : 1;
  if (!transB) return { w: Float64Array.from(b, (x) => x * alpha), k: r, n: c };
  const w = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) w[j * r + i] = b[i * c + j]! * alpha;
  return { w, k: c, n: r };
}

export const decomposeSvd = definePass({
  id: 'decompose-svd',
  summary: 'low-rank SVD factorization of MatMul/Gemm weights into two thinner products',
  lossless: false,
  encodings: 'keep',
  options,
  searchSpace: { rankRatio: [0.25, 0.5, 0.75] },
  async apply(model, o, ctx) {
    let mm: MatMul | undefined;
    let layers = 0;
    let paramsBefore = 0;
    let paramsAfter = 0;
    let energy = 0;
    let error = 0;
    for (const graph of model.graph.allGraphs()) {
      const b = new GraphBuilder(graph);
      for (const node of [...graph.nodes]) {
        if (node.domain !== '' || !ctx.selects(node)) continue;
        if (node.opType !== 'MatMul' && !(node.opType === 'Gemm' && attrInt(node, 'transA', 0) === 0))
          continue;
        if (node.inputs[0]?.type?.elemType !== undefined && node.inputs[0].type.elemType !== DataType.FLOAT)
          continue;
        const lw = logicalWeight(node);
        if (!lw || lw.k * lw.n < o.minElements) continue;
        const { w, k, n } = lw;
        const r = Math.max(1, Math.round(o.rankRatio * Math.min(k, n)));
        if (r * (k + n) >= k * n) continue; // rule 2
        const svdOptions = { seed: o.seed, method: o.method };
        mm ??= ctx.matmul?.();
        const svd = mm
          ? await truncatedSvdAsync(w, k, n, r, { ...svdOptions, gemm: mm.gemm.bind(mm) })
          : truncatedSvd(w, k, n, r, svdOptions);
        const rank = svd.rank;
        const w1 = new Float32Array(k * rank);
        const w2 = new Float32Array(rank * n);
        for (let j = 0; j < rank; j++) {
          const sq = Math.sqrt(svd.s[j]!);
          for (let i = 0; i < k; i++) w1[i * rank + j] = svd.u[i * rank + j]! * sq;
          for (let c = 0; c < n; c++) w2[j * n + c] = svd.vt[j * n + c]! * sq;
        }
        // how much of the weight the factors keep
        for (let i = 0; i < k; i++)
          for (let c = 0; c < n; c++) {
            let approx = 0;
            for (let j = 0; j < rank; j++) approx += w1[i * rank + j]! * w2[j * n + c]!;
            energy += w[i * n + c]! ** 2;
            error += (w[i * n + c]! - approx) ** 2;
          }
        const at = graph.nodes.indexOf(node);
        const base = node.inputs[1]!.name;
        const first = b.op(
          'MatMul',
          [node.inputs[0], newFloatWeight(graph, `${base}_u`, [k, rank], w1)],
          {},
          { at, name: `${node.name || 'MatMul'}_lowrank_u` },
        );
        node.setInput(0, first);
        node.setInput(1, newFloatWeight(graph, `${base}_v`, [rank, n], w2));
        if (node.opType === 'Gemm') {
          setAttr(node, 'transB', 0);
          setAttr(node, 'alpha', 1.0, true);
        }
        layers++;
        paramsBefore += k * n;
        paramsAfter += rank * (k + n);
      }
    }
    if (!layers)
      ctx.log.warn(
        nothingReason('decompose-svd', weightCensus(model, o.minElements, ctx.selects), o.minElements, {
          linear: `rank ratio ${o.rankRatio} would not save parameters (r·(K+N) >= K·N): lower --rank-ratio`,
          conv: 'Conv low-rank factorization is not available yet (use prune --pattern channel)',
          recurrent: 'not factorized',
        }),
      );
    await mm?.release();
    return {
      changed: layers > 0,
      stats: {
        layers,
        paramsBefore,
        paramsAfter,
        weightSqnrDb: error > 0 ? 10 * Math.log10(energy / error) : 0,
      },
    };
  },
});
