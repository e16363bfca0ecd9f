// cluster-weights: k-means weight clustering (palettization). Each weight tensor of a Conv,
// ConvTranspose, MatMul or Gemm becomes K shared values (a codebook) plus an index per element.
//  1. K centroids per tensor from optimal 1-D k-means (dynamic programming on a histogram, kernels/kmeans1d)
//  2. storage 'codebook' (default): indices as a uint8 initializer, codebook as float32 [K];
//        W' = Gather(codebook, Cast(indices, int64))
//     ONNX Runtime folds Cast and Gather of constants when it loads the model, so inference runs on
//     float weights at float speed while the file holds one byte per weight (ORT has no LUT kernel for
//     general graphs: docs/ORT.md §2.8). Brotli shrinks K <= 16 indices further (4 bits of entropy each).
//  3. storage 'dense': every weight replaced in place by its centroid: the same file size, but few
//     distinct values compress well (transport size), and later passes still see plain weights
//  4. tensors smaller than minElements, and non-float weights, are left alone

import { z } from 'zod';
import { EdgefitError } from '../../errors.js';
import { setAttr } from '../../ir/builder.js';
import { type Graph, Node, Value } from '../../ir/graph.js';
import { Tensor, viewBytes } from '../../ir/tensor.js';
import { kmeans1d } from '../../kernels/kmeans1d.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass } from '../pass.js';
import { nothingReason, weightCensus } from '../reasons.js';
import { newFloatWeight } from '../util.js';

const CLUSTERED_OPS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);

const options = z
  .object({
    clusters: z.number().int().min(2).max(256).default(16).describe('centroids per weight tensor'),
    storage: z
      .enum(['codebook', 'dense'])
      .default('codebook')
      .describe(
        'codebook: uint8 indices + codebook, expanded by ORT at load; dense: centroid values in place',
      ),
    minElements: z
      .number()
      .int()
      .min(0)
      .default(1024)
      .describe('leave weight tensors with fewer elements alone'),
  })
  .strict();

/** initializers read as the weight (input 1) of a clusterable node that the selector lets us touch */
function clusterable(graph: Graph, selects: (n: Node) => boolean, minElements: number): Value[] {
  return graph.initializers.filter((v) => {
    const t = v.initializer!;
    if (v.isGraphInput || t.dtype !== DataType.FLOAT || t.size < minElements) return false;
    return (
      v.uses.length > 0 &&
      v.uses.every(
        (u) => u.index === 1 && u.node.domain === '' && CLUSTERED_OPS.has(u.node.opType) && selects(u.node),
      )
    );
  });
}

export const clusterWeights = definePass({
  id: 'cluster-weights',
  summary: 'k-means weight clustering: K shared values per weight tensor, stored as codebook + indices',
  lossless: false,
  options,
  searchSpace: { clusters: [4, 16, 64] },
  apply(model, o, ctx) {
    const opset = model.opset('') ?? 0;
    if (o.storage === 'codebook' && opset < 6)
      throw new EdgefitError(
        'UNSUPPORTED',
        `codebook storage needs ai.onnx opset >= 6 (the model has ${opset})`,
        'use --storage dense',
      );
    let tensors = 0;
    let elements = 0;
    let sse = 0;
    let energy = 0;
    for (const graph of model.graph.allGraphs()) {
      for (const v of clusterable(graph, ctx.selects, o.minElements)) {
        const t = v.initializer!;
        const w = t.toFloat32();
        const { centroids, assignment, sse: e } = kmeans1d(w, o.clusters);
        sse += e;
        for (const x of w) energy += x * x;
        tensors++;
        elements += w.length;
        if (o.storage === 'dense') {
          const dense = Float32Array.from(assignment, (a) => centroids[a]!);
          for (const u of [...v.uses])
            u.node.setInput(u.index, newFloatWeight(graph, `${v.name}_clustered`, [...t.dims], dense));
          continue;
        }
        // rule 2: codebook + uint8 indices, expanded by Cast + Gather (folded by ORT at load)
        const codebook = newFloatWeight(graph, `${v.name}_codebook`, [centroids.length], centroids);
        const idxName = graph.model.uniqueName(`${v.name}_indices`);
        const indices = new Value(graph, idxName, { elemType: DataType.UINT8, shape: [...t.dims] });
        graph.addInitializer(
          indices,
          Tensor.fromBytes(idxName, DataType.UINT8, [...t.dims], viewBytes(assignment)),
        );
        const cast = new Node(graph, 'Cast', '', graph.model.uniqueName(`${v.name}_indices_Cast`));
        cast.addInput(indices);
        const idx64 = new Value(graph, graph.model.uniqueName(`${v.name}_indices_int64`), {
          elemType: DataType.INT64,
          shape: [...t.dims],
        });
        cast.addOutput(idx64);
        setAttr(cast, 'to', DataType.INT64);
        const gather = new Node(graph, 'Gather', '', graph.model.uniqueName(`${v.name}_Gather`));
        gather.addInput(codebook);
        gather.addInput(idx64);
        const expanded = new Value(graph, graph.model.uniqueName(`${v.name}_clustered`), {
          elemType: DataType.FLOAT,
          shape: [...t.dims],
        });
        gather.addOutput(expanded);
        graph.insertNode(cast, 0);
        graph.insertNode(gather, 1);
        for (const u of [...v.uses]) u.node.setInput(u.index, expanded);
      }
    }
    if (!tensors)
      ctx.log.warn(
        nothingReason('cluster-weights', weightCensus(model, o.minElements, ctx.selects), o.minElements, {
          recurrent: 'LSTM/GRU weights are not clustered',
        }),
      );
    return {
      changed: tensors > 0,
      stats: {
        tensors,
        elements,
        clusters: o.clusters,
        weightSqnrDb: energy > 0 && sse > 0 ? 10 * Math.log10(energy / sse) : 0,
      },
    };
  },
});
