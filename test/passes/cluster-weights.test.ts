// cluster-weights on a hand-built MLP: K shared values per weight, stored as codebook + packed indices
// (or uint8 behind Cast + Gather, or uint4 at opset 21); ONNX Runtime computes exactly what the centroid
// weights compute. Bad options are one line each.
import { describe, expect, it } from 'vitest';
import { isEdgefitError } from '../../src/errors.js';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model } from '../../src/ir/graph.js';
import { verifyModel } from '../../src/ir/verify.js';
import { loadModel } from '../../src/node/model-io.js';
import { removeIdentity } from '../../src/passes/cleanup/remove-identity.js';
import { clusterWeights } from '../../src/passes/cluster/cluster-weights.js';
import { expandCodebook, readCodebook } from '../../src/passes/cluster/codebook.js';
import { constantOf } from '../../src/passes/util.js';
import type { HostTensor } from '../../src/runtime/types.js';
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
  it('codebook: 16 centroids, 4-bit packed indices, each weight its nearest centroid, ORT output exact', async () => {
    const { m, r } = await cluster({ clusters: 16 });
    expect(verifyModel(m)).toEqual([]);
    // w2 (320 elements) is below minElements 1024: only w1 is clustered
    expect(r.stats).toMatchObject({ tensors: 1, elements: 2048, clusters: 16, indexBits: 4 });
    // Lloyd-Max on a Gaussian with 16 levels: 20.2 dB
    expect(r.stats.weightSqnrDb).toBeGreaterThan(19);
    expect(r.stats.weightSqnrDb).toBeLessThan(23);
    const matmul = m.graph.nodes.find((n) => n.opType === 'MatMul')!;
    const cb = readCodebook(matmul.inputs[1]!)!;
    expect(cb.bits).toBe(4);
    expect(cb.dims).toEqual([64, 32]);
    // opset 17: 1024 bytes of packed indices (two per byte) in a uint8 [1024, 1] initializer
    const packed = m.graph.initializers.find((v) => v.name.startsWith('w1_indices'))!.initializer!;
    expect([packed.dtype, packed.dims, packed.byteLength]).toEqual([2, [1024, 1], 1024]);
    const codebook = cb.codebook.toFloat32();
    expect(codebook.length).toBe(16);
    expect([...codebook]).toEqual([...codebook].sort((a, b) => a - b));
    const idx = cb.indices;
    for (let i = 0; i < W1.length; i++) {
      const d = Math.abs(codebook[idx[i]!]! - W1[i]!);
      for (const c of codebook) expect(d).toBeLessThanOrEqual(Math.abs(c - W1[i]!) + 1e-7);
    }
    // ORT: the clustered model computes exactly what the model with centroid weights computes
    const centroidWeights = expandCodebook(cb);
    const feeds = { x: floatFeed([4, 64], 9) };
    const [clustered, reference, original] = [
      await run(m, feeds),
      await run(mlp(centroidWeights), feeds),
      await run(mlp(), feeds),
    ];
    const y = Object.keys(reference)[0]!;
    expect(maxAbsDiff(clustered[y]!, reference[y]!)).toBe(0);
    expect(maxAbsDiff(clustered[y]!, original[y]!)).toBeGreaterThan(0);
    // pack false: uint8 indices behind Cast + Gather, the same codebook and the same outputs
    const plain = await cluster({ clusters: 16, pack: false });
    expect(plain.m.graph.nodes.map((n) => n.opType)).toEqual(['Cast', 'Gather', 'MatMul', 'Relu', 'Gemm']);
    expect(readCodebook(plain.m.graph.nodes[2]!.inputs[1]!)!.bits).toBe(8);
    expect(maxAbsDiff((await run(plain.m, feeds))[y]!, clustered[y]!)).toBe(0);
    // opset 21: a uint4 initializer of the weight's shape
    const m21 = mlp();
    m21.opsetImports.set('', 21);
    m21.irVersion = 10;
    await clusterWeights.apply(m21, clusterWeights.options.parse({ clusters: 16 }), passContext());
    const u4 = m21.graph.initializers.find((v) => v.initializer!.dtype === 21)!.initializer!;
    expect([u4.dims, u4.byteLength]).toEqual([[64, 32], 1024]);
    expect(maxAbsDiff((await run(m21, feeds))[y]!, clustered[y]!)).toBe(0);
  });

  it('bad options: K outside 2-256, data-aware options without calibration data: one line each', async () => {
    for (const clusters of [1, 257, 4.5])
      expect(clusterWeights.options.safeParse({ clusters }).success, String(clusters)).toBe(false);
    for (const o of [{ weighting: 'hessian' }, { compensate: true }]) {
      const e = await cluster(o).catch((x: unknown) => x);
      expect(isEdgefitError(e), JSON.stringify(o)).toBe(true);
      expect((e as Error).message).toMatch(/needs calibration data/);
      expect((e as Error).message).not.toContain('\n');
    }
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

describe('cluster-weights on Constant-node weights and subgraphs', () => {
  it.each([
    ['tf-style', { x: floatFeed([3, 8], 1) }],
    ['if-branches', { x: floatFeed([1, 4], 2), cond: { dtype: 9, dims: [], data: Uint8Array.of(1) } }],
    ['if-branches', { x: floatFeed([1, 4], 3), cond: { dtype: 9, dims: [], data: Uint8Array.of(0) } }],
  ] as const)(
    '%s: codebooks where the weights are, ORT output equal to the dense centroids',
    async (name, feeds) => {
      const base = loadModel(`test/fixtures/models/${name}.onnx`);
      const outputs: Record<string, HostTensor>[] = [];
      for (const storage of ['codebook', 'dense']) {
        const m = cloneModel(base);
        await removeIdentity.apply(m, removeIdentity.options.parse({}), passContext());
        const r = await clusterWeights.apply(
          m,
          clusterWeights.options.parse({ clusters: 3, minElements: 0, storage }),
          passContext(),
        );
        expect(verifyModel(m)).toEqual([]);
        expect(r.stats.tensors).toBeGreaterThanOrEqual(1);
        outputs.push(await run(m, feeds as Record<string, HostTensor>));
      }
      const y = Object.keys(outputs[0]!)[0]!;
      expect(maxAbsDiff(outputs[0]![y]!, outputs[1]![y]!)).toBe(0);
    },
  );
});
