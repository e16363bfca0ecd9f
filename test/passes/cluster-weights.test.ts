// cluster-weights on a hand-built MLP: K shared values per weight, stored as codebook + uint8 indices
// behind Cast + Gather; ONNX Runtime computes exactly what the centroid weights compute.
import { describe, expect, it } from 'vitest';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model } from '../../src/ir/graph.js';
import { verifyModel } from '../../src/ir/verify.js';
import { clusterWeights } from '../../src/passes/cluster/cluster-weights.js';
import { constantOf } from '../../src/passes/util.js';
import { floatFeed, GraphBuilder, maxAbsDiff, newModel, randn, run, Tensor } from '../helpers/models.js';
import { passContext } from './context.js';

const W1 = randn(64 * 32, 1, 0.2);

/** x [batch, 64] -> MatMul w1 [64, 32] -> Relu -> Gemm w2 [10, 32] (transB) + b2 -> y */
function mlp(w1 = W1): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: ['batch', 64] });
  const h = b.op('Relu', [b.op('MatMul', [x, b.weight('w1', Tensor.fromFloat32('w1', [64, 32], w1))])]);
  const w2 = b.weight('w2', Tensor.fromFloat32('w2', [10, 32], randn(320, 2, 0.3)));
  const b2 = b.weight('b2', Tensor.fromFloat32('b2', [10], randn(10, 3, 0.1)));
  b.output(b.op('Gemm', [h, w2, b2], { transB: 1 }));
  return m;
}

async function cluster(options: Record<string, unknown>, select = true) {
  const m = cloneModel(mlp());
  const ctx = { ...passContext(), selects: () => select };
  const r = await clusterWeights.apply(m, clusterWeights.options.parse(options), ctx);
  return { m, r };
}

describe('cluster-weights', () => {
  it('codebook: Cast + Gather of 16 centroids, each weight its nearest centroid, ORT output exact', async () => {
    const { m, r } = await cluster({ clusters: 16 });
    expect(verifyModel(m)).toEqual([]);
    // w2 (320 elements) is below minElements 1024: only w1 is clustered
    expect(r.stats).toMatchObject({ tensors: 1, elements: 2048, clusters: 16 });
    // Lloyd-Max on a Gaussian with 16 levels: 20.2 dB
    expect(r.stats.weightSqnrDb).toBeGreaterThan(19);
    expect(r.stats.weightSqnrDb).toBeLessThan(23);
    const ops = m.graph.nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Cast')).toHaveLength(1);
    expect(ops.filter((o) => o === 'Gather')).toHaveLength(1);
    const gather = m.graph.nodes.find((n) => n.opType === 'Gather')!;
    const codebook = constantOf(gather.inputs[0])!.toFloat32();
    const indicesValue = gather.inputs[1]!.producer!.inputs[0]!;
    const indices = constantOf(indicesValue)!;
    expect(codebook.length).toBe(16);
    expect([...codebook]).toEqual([...codebook].sort((a, b) => a - b));
    expect(indices.dtype).toBe(2); // UINT8
    expect(indices.dims).toEqual([64, 32]);
    const idx = indices.typed() as Uint8Array;
    for (let i = 0; i < W1.length; i++) {
      const d = Math.abs(codebook[idx[i]!]! - W1[i]!);
      for (const c of codebook) expect(d).toBeLessThanOrEqual(Math.abs(c - W1[i]!) + 1e-7);
    }
    // ORT: the clustered model computes exactly what the model with centroid weights computes
    const centroidWeights = Float32Array.from(idx, (k) => codebook[k]!);
    const feeds = { x: floatFeed([4, 64], 9) };
    const [clustered, reference, original] = [
      await run(m, feeds),
      await run(mlp(centroidWeights), feeds),
      await run(mlp(), feeds),
    ];
    const y = Object.keys(reference)[0]!;
    expect(maxAbsDiff(clustered[y]!, reference[y]!)).toBe(0);
    expect(maxAbsDiff(clustered[y]!, original[y]!)).toBeGreaterThan(0);
  });

  it('dense: the same values in place, at most K distinct; minElements and the selector are honoured', async () => {
    const dense = await cluster({ clusters: 4, storage: 'dense', minElements: 256 });
    expect(dense.r.stats.tensors).toBe(2);
    expect(dense.m.graph.nodes.map((n) => n.opType)).toEqual(['MatMul', 'Relu', 'Gemm']);
    for (const n of dense.m.graph.nodes.filter((n) => n.opType !== 'Relu')) {
      const w = constantOf(n.inputs[1])!.toFloat32();
      expect(new Set(w).size).toBeLessThanOrEqual(4);
    }
    const codebook = await cluster({ clusters: 4, minElements: 256 });
    const feeds = { x: floatFeed([3, 64], 4) };
    const [a, b] = [await run(dense.m, feeds), await run(codebook.m, feeds)];
    const y = Object.keys(a)[0]!;
    expect(maxAbsDiff(a[y]!, b[y]!)).toBe(0);
    const none = await cluster({ clusters: 4 }, false);
    expect(none.r.changed).toBe(false);
  });
});
