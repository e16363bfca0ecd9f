// cluster-weights on the trained fixtures (LeNet-300-100: Gemm transB; VGG-style CNN: Conv + Gemm),
// with the Fashion-MNIST calibration images: packed indices shrink the raw file and run in ORT to
// exactly what the dense-centroid model computes; per-channel codebooks beat one per tensor; pruned
// zeros survive clustering; Hessian weighting and GPTQ-style compensation lower the layer-output error.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bindArrays, type Dataset } from '../../src/data/dataset.js';
import { sqnr } from '../../src/data/metrics.js';
import { decodeNpz } from '../../src/data/npz.js';
import { isEdgefitError } from '../../src/errors.js';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model, Node } from '../../src/ir/graph.js';
import { encodeModel } from '../../src/ir/serialize.js';
import { verifyModel } from '../../src/ir/verify.js';
import { loadModel } from '../../src/node/model-io.js';
import * as lib from '../../src/node.js';
import { clusterWeights } from '../../src/passes/cluster/cluster-weights.js';
import { expandCodebook, readCodebook } from '../../src/passes/cluster/codebook.js';
import { pruneWeights } from '../../src/passes/prune/prune-weights.js';
import { constantOf, removeUnused } from '../../src/passes/util.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { run } from '../helpers/models.js';
import { passContext } from './context.js';

const LENET = 'test/fixtures/models/lenet-300-100.onnx';
const VGG = 'test/fixtures/models/vgg-cnn.onnx';
const CALIB = 'test/fixtures/models/fmnist-calib.npz';

let lenet: Model;
let vgg: Model;
let calib: Dataset;
let feeds: Record<string, HostTensor>;

beforeAll(() => {
  lenet = loadModel(LENET);
  vgg = loadModel(VGG);
  calib = bindArrays(lenet, decodeNpz(new Uint8Array(readFileSync(CALIB)), CALIB), CALIB);
  feeds = calib.slice(256, 384); // not among the 256 the statistics come from
});

async function cluster(model: Model, options: Record<string, unknown>, select?: (n: Node) => boolean) {
  const m = cloneModel(model);
  const ctx = { ...passContext(calib), ...(select ? { selects: select } : {}) };
  const r = await clusterWeights.apply(m, clusterWeights.options.parse({ samples: 256, ...options }), ctx);
  removeUnused(m.graph);
  expect(verifyModel(m)).toEqual([]);
  return { m, r, warnings: ctx.warnings };
}

const logits = async (m: Model) => Object.values(await run(m, feeds))[0]!.data as Float32Array;

/** the effective weights of the Gemm/Conv nodes, in node order */
function weights(m: Model): Float32Array[] {
  return m.graph.nodes
    .filter((n) => n.opType === 'Gemm' || n.opType === 'Conv')
    .map((n) => {
      const cb = readCodebook(n.inputs[1]!);
      return cb ? expandCodebook(cb) : constantOf(n.inputs[1])!.toFloat32();
    });
}

/** ‖X·(W − Ŵ)ᵀ‖² of LeNet's fc1 (its input is the flattened image) over the 128 held-out images */
function fc1Error(w: Float32Array, q: Float32Array): number {
  const x = feeds.input!.data as Float32Array;
  let e = 0;
  for (let s = 0; s < 128; s++)
    for (let o = 0; o < 300; o++) {
      let d = 0;
      for (let k = 0; k < 784; k++) d += x[s * 784 + k]! * (w[o * 784 + k]! - q[o * 784 + k]!);
      e += d * d;
    }
  return e;
}

describe('cluster-weights on LeNet-300-100 and the VGG-style CNN', () => {
  it('packed indices: raw file 7x smaller at K = 16, 13x at K = 4; ORT output equal to the dense centroids', async () => {
    const raw = encodeModel(lenet).length;
    for (const [k, bits, ratio] of [
      [16, 4, 7],
      [8, 3, 9],
      [4, 2, 13],
    ] as const) {
      const packed = await cluster(lenet, { clusters: k });
      const dense = await cluster(lenet, { clusters: k, storage: 'dense' });
      expect(packed.r.stats.indexBits).toBe(bits);
      const bytes = encodeModel(packed.m).length;
      expect(raw / bytes, `K=${k}: ${raw} -> ${bytes} bytes`).toBeGreaterThan(ratio);
      expect(encodeModel(dense.m).length).toBeGreaterThan(raw * 0.99);
      expect([...(await logits(packed.m))]).toEqual([...(await logits(dense.m))]);
    }
    // per-channel codebooks of the CNN's convs ([G, K] tables, group offsets): the same equality
    const convs = (n: Node) => n.opType === 'Conv';
    const packed = await cluster(vgg, { clusters: 8, granularity: 'channel', minElements: 0 }, convs);
    const dense = await cluster(
      vgg,
      { clusters: 8, granularity: 'channel', minElements: 0, storage: 'dense' },
      convs,
    );
    expect(packed.r.stats.tensors).toBe(4);
    expect([...(await logits(packed.m))]).toEqual([...(await logits(dense.m))]);
  });

  it('per-channel and grouped codebooks: lower weight and output error than one per tensor', async () => {
    for (const [model, k] of [
      [lenet, 4],
      [vgg, 8],
    ] as const) {
      const ref = await logits(model);
      const tensor = await cluster(model, { clusters: k });
      const group = await cluster(model, { clusters: k, granularity: 'group', groupSize: 16 });
      const channel = await cluster(model, { clusters: k, granularity: 'channel' });
      const [t, g, c] = [tensor, group, channel].map((x) => x.r.stats.weightSqnrDb!);
      // LeNet K=4: 7.4 / 7.5 / 8.5 dB; VGG K=8: 13.3 / 13.7 / 14.2 dB
      expect(g).toBeGreaterThan(t);
      expect(c).toBeGreaterThan(g + 0.3);
      const [ot, oc] = [await logits(tensor.m), await logits(channel.m)].map((y) => sqnr(ref, y));
      expect(oc).toBeGreaterThan(ot + 1);
    }
  });

  it('prune 50% then cluster K = 16: 16 distinct values including 0, the same zeros, sparsity unchanged', async () => {
    const pruned = cloneModel(lenet);
    await pruneWeights.apply(pruned, pruneWeights.options.parse({ sparsity: 0.5 }), passContext());
    const before = weights(pruned);
    const { m, r } = await cluster(pruned, { clusters: 16 });
    expect(r.stats).toMatchObject({ tensors: 2, zeroKept: 2, indexBits: 4 });
    const after = weights(m);
    for (const i of [0, 1]) {
      const [w, q] = [before[i]!, after[i]!];
      expect(new Set(q).size).toBe(16);
      expect(new Set(q).has(0)).toBe(true);
      let zeros = 0;
      for (let j = 0; j < w.length; j++) {
        expect(q[j] === 0).toBe(w[j] === 0);
        if (w[j] === 0) zeros++;
      }
      expect(zeros / w.length).toBeCloseTo(0.5, 2);
    }
    // with compensation too: the zeros, and only they, stay 0
    const comp = weights((await cluster(pruned, { clusters: 16, compensate: true })).m);
    for (const i of [0, 1])
      for (let j = 0; j < before[i]!.length; j++) expect(comp[i]![j] === 0).toBe(before[i]![j] === 0);
  });

  it('compensation lowers the layer-output error of fc1 on held-out calibration data; weighting the logit error', async () => {
    const w = weights(lenet)[0]!;
    const ref = await logits(lenet);
    const errors: Record<string, number> = {};
    const db: Record<string, number> = {};
    for (const [name, o] of [
      ['plain', {}],
      ['hessian', { weighting: 'hessian' }],
      ['compensate', { compensate: true }],
      ['both', { weighting: 'hessian', compensate: true }],
    ] as const) {
      const { m, r } = await cluster(lenet, { clusters: 8, ...o });
      if (name !== 'plain') expect(r.stats.weighted + r.stats.compensated).toBe(name === 'both' ? 4 : 2);
      errors[name] = fc1Error(w, weights(m)[0]!);
      db[name] = sqnr(ref, await logits(m));
    }
    // measured: fc1 error plain 9612, hessian 9727, compensate 2236, both 2359; logit SQNR 18.4, 19.6, 26.0, 25.8 dB
    expect(errors.compensate!).toBeLessThan(errors.plain! * 0.5);
    expect(errors.both!).toBeLessThan(errors.plain! * 0.5);
    expect(db.hessian!).toBeGreaterThan(db.plain! + 0.5);
    expect(db.compensate!).toBeGreaterThan(db.plain! + 5);
    // on the CNN's convs (im2col Hessians, layer by layer): the logits move less
    const convs = (n: Node) => n.opType === 'Conv';
    const vref = await logits(vgg);
    const plain = sqnr(vref, await logits((await cluster(vgg, { clusters: 4 }, convs)).m));
    const comp = sqnr(vref, await logits((await cluster(vgg, { clusters: 4, compensate: true }, convs)).m));
    // measured: 9.1 dB plain, 13.5 dB compensated
    expect(comp).toBeGreaterThan(plain + 3);
  });

  it('the cluster command: data-aware options without --calib, K outside 2-256: one line each', async () => {
    for (const o of [
      { weighting: 'hessian' as const },
      { compensate: true },
      { clusters: 1 },
      { clusters: 300 },
    ]) {
      const e = await lib
        .cluster(LENET, { output: join(tmpdir(), 'edgefit-never-written.onnx'), clusters: 16, ...o })
        .catch((x: unknown) => x);
      expect(isEdgefitError(e), JSON.stringify(o)).toBe(true);
      expect((e as Error).message).toMatch(/needs calibration data|--clusters must be/);
      expect((e as Error).message).not.toContain('\n');
    }
  });
});
