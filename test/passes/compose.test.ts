// Techniques that compose (passes/encoding.ts): a later step keeps the structure an earlier one made —
// cluster → static/dynamic int8 quantizes the codebook (not the expanded weight) and runs ORT's
// integer kernels, prune → GPTQ keeps the zeros, cluster → prune re-encodes, orders that cannot keep
// an encoding say so. On the LeNet-300-100 fixture, the 1k Fashion-MNIST slice.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as lib from '../../src/node.js';
import { DataType } from '../../src/onnx/dtype.js';

const MLP = 'test/fixtures/models/lenet-300-100.onnx';
const NPZ = 'examples/fashion-mnist-1k.npz';
const dir = mkdtempSync(join(tmpdir(), 'edgefit-compose-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const out = (name: string) => join(dir, `${name}.onnx`);

/** the float values of a model's weight initializers of at least `min` elements, by name */
function bigInitializers(path: string, min = 1024) {
  const m = lib.loadModel(path);
  return m.graph.initializers.filter((v) => v.initializer!.size >= min).map((v) => v.initializer!);
}

let clustered: lib.TransformReport;
let clusteredTop1: number;

beforeAll(async () => {
  clustered = (await lib.cluster(MLP, { output: out('c16'), clusters: 16 })) as lib.TransformReport;
  clusteredTop1 = (await lib.evaluate(out('c16'), { data: NPZ })).top1!;
}, 60_000);

describe('cluster → quantize keeps the codebook', () => {
  it('static int8: int8 codebooks, QGemm kernels, no larger than cluster alone, same accuracy', async () => {
    const r = (await lib.quantize(out('c16'), {
      output: out('c16-static'),
      mode: 'static',
      calib: NPZ,
      limit: 256,
    })) as lib.TransformReport;
    expect(r.after.brotliBytes).toBeLessThanOrEqual(clustered.after.brotliBytes);
    // metadata (activation scales, int32 biases) may add a few hundred bytes, never a weight's worth
    expect(r.after.bytes).toBeLessThan(clustered.after.bytes * 1.005);
    const codebooks = lib
      .loadModel(out('c16-static'))
      .graph.initializers.filter((v) => v.initializer!.dtype === DataType.INT8 && v.initializer!.size === 16);
    expect(codebooks).toHaveLength(2); // fc1 and fc2 (fc3 has 1000 weights: never clustered)
    expect((r.kernels as Record<string, number>).QGemm).toBe(3);
    const e = await lib.evaluate(out('c16-static'), { data: NPZ });
    expect(Math.abs(e.top1! - clusteredTop1)).toBeLessThanOrEqual(0.01);
  }, 60_000);

  it('dynamic int8: DynamicQuantizeMatMul on the codebook weights, no larger than cluster alone', async () => {
    const r = (await lib.quantize(out('c16'), {
      output: out('c16-dyn'),
      mode: 'dynamic',
    })) as lib.TransformReport;
    expect(r.after.bytes).toBeLessThanOrEqual(clustered.after.bytes);
    expect(r.after.brotliBytes).toBeLessThanOrEqual(clustered.after.brotliBytes);
    expect((r.kernels as Record<string, number>).DynamicQuantizeMatMul).toBe(3);
    const e = await lib.evaluate(out('c16-dyn'), { data: NPZ });
    expect(Math.abs(e.top1! - clusteredTop1)).toBeLessThanOrEqual(0.01);
  }, 60_000);

  it('weight-only int4 leaves the codebooks and says why', async () => {
    const r = (await lib.quantize(out('c16'), {
      output: out('c16-w4'),
      mode: 'weight-int4',
      force: true,
    })) as lib.TransformReport;
    expect(r.warnings.join('\n')).toMatch(/2 clustered weight\(s\) already take <= 8 bits/);
    expect(r.after.bytes).toBeLessThanOrEqual(clustered.after.bytes);
  }, 60_000);

  it('slim after cluster does not expand the codebooks', async () => {
    const r = (await lib.slim(out('c16'), { output: out('c16-slim') })) as lib.TransformReport;
    expect(r.after.bytes).toBeLessThanOrEqual(clustered.after.bytes);
  }, 30_000);
});

describe('masks survive', () => {
  it('prune 50% → GPTQ int8 (qdq): every pruned zero stays an exact zero code', async () => {
    await lib.prune(MLP, { output: out('p50'), sparsity: 0.5 });
    await lib.quantize(out('p50'), {
      output: out('p50-gptq'),
      mode: 'weight-int8',
      format: 'qdq',
      algorithm: 'gptq',
      calib: NPZ,
      limit: 256,
    });
    const pruned = bigInitializers(out('p50')).filter((t) => t.dtype === DataType.FLOAT && t.size >= 30000);
    const q = bigInitializers(out('p50-gptq')).filter((t) => t.dtype === DataType.INT8);
    expect(q).toHaveLength(pruned.length);
    for (const t of pruned) {
      const w = t.toFloat32();
      // Gemm weights [N, K] come back as the int8 [K, N] of DQ → MatMul
      const match = q.find((x) => x.size === t.size)!;
      const codes = match.typed() as Int8Array;
      const [n, k] = t.dims as [number, number];
      let zeros = 0;
      let kept = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < k; j++) {
          if (w[i * k + j] !== 0) continue;
          zeros++;
          if (codes[j * n + i] === 0) kept++;
        }
      expect(zeros / t.size).toBeGreaterThanOrEqual(0.5);
      expect(kept).toBe(zeros);
    }
  }, 90_000);

  it('cluster → prune re-encodes as a codebook with an exact zero instead of expanding', async () => {
    const r = (await lib.prune(out('c16'), { output: out('c16-p50'), sparsity: 0.5 })) as lib.TransformReport;
    // 17 values (16 centroids + 0: magnitude pruning per row leaves part of every class) need 5-bit
    // indices where 16 took 4 (6 per uint32 word); expanded, the weights would take 8x more
    expect(r.after.bytes).toBeLessThanOrEqual(clustered.after.bytes * 1.35);
    expect(r.after.brotliBytes).toBeLessThan(clustered.after.brotliBytes);
    expect(r.warnings.join('\n')).not.toMatch(/stored dense/);
  }, 60_000);
});

describe('orders that cannot keep an encoding say so', () => {
  it('decompose after cluster leaves the codebooks and names the order that works', async () => {
    const r = (await lib.decompose(out('c16'), {
      output: out('c16-svd'),
      rankRatio: 0.3,
      minElements: 0,
    })) as lib.TransformReport;
    expect(r.warnings.join('\n')).toMatch(
      /decompose-svd: 2 weight\(s\) are stored as codebooks .*run decompose-svd before cluster-weights/,
    );
    expect(r.after.bytes).toBeLessThanOrEqual(clustered.after.bytes);
  }, 60_000);

  it('cluster after static int8 leaves the quantized weights and says to cluster first', async () => {
    await lib.quantize(MLP, { output: out('static'), mode: 'static', calib: NPZ, limit: 128 });
    const r = (await lib.cluster(out('static'), {
      output: out('static-c16'),
      clusters: 16,
    })) as lib.TransformReport;
    expect(r.warnings.join('\n')).toMatch(
      /cluster-weights: 3 weight\(s\) are already quantized by an earlier step .*run cluster-weights before quantizing/,
    );
  }, 60_000);
});

describe('int4 Conv weights with GPTQ (a size mode: ORT has no int4 Conv kernel)', () => {
  it('GPTQ on the im2col Hessian loses less than rounding on the VGG-style CNN', async () => {
    const VGG = 'test/fixtures/models/vgg-cnn.onnx';
    const top1 = async (algorithm: 'rtn' | 'gptq') => {
      const r = (await lib.quantize(VGG, {
        output: out(`vgg-w4-${algorithm}`),
        mode: 'weight-int4',
        conv: true,
        algorithm,
        calib: 'test/fixtures/models/fmnist-calib.npz',
        limit: 128,
      })) as lib.TransformReport;
      expect(r.warnings.join('\n')).toMatch(/no int4 Conv kernel\): smaller file, not faster/);
      const stats = r.passes.find((p) => p.name === 'quantize-weight-int4')!.stats;
      expect(stats.conv).toBe(3); // the first conv has 288 weights, below --min-elements 1024
      expect(stats.convGptq).toBe(algorithm === 'gptq' ? 3 : 0);
      return (await lib.evaluate(out(`vgg-w4-${algorithm}`), { data: NPZ })).top1!;
    };
    const [rtn, gptq] = [await top1('rtn'), await top1('gptq')];
    const float = (await lib.evaluate(VGG, { data: NPZ })).top1!;
    expect(gptq).toBeGreaterThanOrEqual(rtn);
    expect(float - gptq).toBeLessThan(0.01);
  }, 120_000);
});
