// Quantization passes on hand-built models: dynamic int8 runs as DynamicQuantizeMatMul, CLE and
// SmoothQuant keep the float function, static int8 fuses into QLinearConv/QGemm.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bindArrays } from '../../src/data/dataset.js';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model } from '../../src/ir/graph.js';
import { encodeModel } from '../../src/ir/serialize.js';
import { verifyModel } from '../../src/ir/verify.js';
import { crossLayerEqualization } from '../../src/passes/quantize/cross-layer-equalization.js';
import { quantizeDynamicInt8 } from '../../src/passes/quantize/quantize-dynamic-int8.js';
import { quantizeStaticInt8 } from '../../src/passes/quantize/quantize-static-int8.js';
import { smoothQuant } from '../../src/passes/quantize/smooth-quant.js';
import { kernelReport } from '../../src/pipeline/kernels.js';
import { compareOutputs } from '../../src/pipeline/pass-manager.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { floatFeed, GraphBuilder, newModel, randn, run, Tensor, weight } from '../helpers/models.js';
import { passContext } from './context.js';

const ctx = (calibration?: ReturnType<typeof bindArrays>) => passContext(calibration);

function calibData(model: Model, name: string, dims: number[], n: number, seed: number) {
  const per = dims.reduce((a, b) => a * b, 1);
  return bindArrays(
    model,
    new Map([[name, { dtype: 'float32' as const, shape: [n, ...dims], data: randn(n * per, seed) }]]),
    'test data',
  );
}

async function outputsOf(m: Model, feeds: Record<string, HostTensor>[]) {
  const s = await nodeRuntime.createSession(encodeModel(m));
  const out = [];
  for (const f of feeds) out.push(await s.run(f));
  await s.release();
  return out;
}

function mlp(): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: ['batch', 256] });
  const h = b.op('Relu', [b.op('MatMul', [x, weight(b, 'w1', [256, 256], 1, 0.06)])]);
  const y = b.op('Gemm', [h, weight(b, 'w2', [64, 256], 2, 0.06), weight(b, 'b2', [64], 3, 0.1)], {
    transB: 1,
  });
  b.output(y);
  return m;
}

describe('dynamic int8', () => {
  it('MatMul and Gemm run as DynamicQuantizeMatMul with high fidelity', async () => {
    const m = mlp();
    const q = cloneModel(m);
    const r = await quantizeDynamicInt8.apply(q, quantizeDynamicInt8.options.parse({}), ctx());
    expect(r.stats.matmuls).toBe(2);
    expect(verifyModel(q)).toEqual([]);
    const feeds = [{ x: floatFeed([8, 256], 1) }];
    const d = compareOutputs(await outputsOf(m, feeds), await outputsOf(q, feeds));
    expect(d.sqnr).toBeGreaterThan(30);
    const k = await kernelReport(
      nodeRuntime,
      encodeModel(q),
      feeds[0]!,
      join(mkdtempSync(join(tmpdir(), 'ef-')), 'p'),
    );
    expect(k!.kernels.DynamicQuantizeMatMul).toBe(2);
    expect(k!.floatNodes).toEqual([]);
  });
});

describe('static int8 on a conv net', () => {
  it('fuses into QLinearConv and QGemm, with no Q/DQ left but at the input', async () => {
    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: ['N', 8, 16, 16] });
    const c1 = b.op('Relu', [
      b.op('Conv', [x, weight(b, 'w1', [16, 8, 3, 3], 1, 0.2), weight(b, 'b1', [16], 2, 0.1)], {
        pads: [1, 1, 1, 1],
      }),
    ]);
    const c2 = b.op('Conv', [c1, weight(b, 'w2', [16, 16, 3, 3], 3, 0.1)], { pads: [1, 1, 1, 1] });
    const res = b.op('Relu', [b.op('Add', [c1, c2])]);
    const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [res])]);
    b.output(
      b.op('Gemm', [pooled, weight(b, 'fc', [10, 16], 4, 0.3), weight(b, 'fcb', [10], 5, 0.1)], {
        transB: 1,
      }),
    );
    const q = cloneModel(m);
    const r = await quantizeStaticInt8.apply(
      q,
      quantizeStaticInt8.options.parse({ samples: 64 }),
      ctx(calibData(m, 'x', [8, 16, 16], 64, 7)),
    );
    expect(r.stats.foldedActivations).toBe(2);
    expect(verifyModel(q)).toEqual([]);
    const feeds = [{ x: floatFeed([2, 8, 16, 16], 9) }];
    const d = compareOutputs(await outputsOf(m, feeds), await outputsOf(q, feeds));
    expect(d.sqnr).toBeGreaterThan(25);
    const k = await kernelReport(
      nodeRuntime,
      encodeModel(q),
      feeds[0]!,
      join(mkdtempSync(join(tmpdir(), 'ef-')), 'p'),
    );
    expect(k!.kernels.QLinearConv).toBe(2);
    expect(k!.kernels.QGemm).toBe(1);
    expect(k!.kernels.QLinearAdd).toBe(1);
    expect(k!.kernels.QuantizeLinear).toBe(1);
    expect(k!.kernels.DequantizeLinear ?? 0).toBe(0);
    expect(k!.floatNodes).toEqual([]);
  });

  it('needs calibration data', async () => {
    await expect(
      quantizeStaticInt8.apply(mlp(), quantizeStaticInt8.options.parse({}), ctx()),
    ).rejects.toThrow(/needs calibration data/);
  });
});

describe('cross-layer equalization', () => {
  it('keeps the function (Relu) and equalizes channel ranges', async () => {
    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 4, 8, 8] });
    // channel ranges differ by 100x in the first conv
    const w1 = randn(8 * 4 * 9, 1).map((v, i) => v * (Math.floor(i / 36) % 2 ? 5 : 0.05));
    const c1 = b.op('Relu', [
      b.op(
        'Conv',
        [x, b.weight('w1', Tensor.fromFloat32('w1', [8, 4, 3, 3], w1)), weight(b, 'b1', [8], 2, 0.1)],
        { pads: [1, 1, 1, 1] },
      ),
    ]);
    b.output(b.op('Conv', [c1, weight(b, 'w2', [8, 1, 3, 3], 3)], { group: 8, pads: [1, 1, 1, 1] }));
    const q = cloneModel(m);
    const r = await crossLayerEqualization.apply(q, crossLayerEqualization.options.parse({}), ctx());
    expect(r.stats.pairs).toBe(1);
    const feeds = [{ x: floatFeed([1, 4, 8, 8], 4) }];
    const d = compareOutputs(await outputsOf(m, feeds), await outputsOf(q, feeds));
    expect(d.maxRelError).toBeLessThan(1e-5);
    const ranges = (t: Float32Array) =>
      Array.from({ length: 8 }, (_, c) => Math.max(...t.subarray(c * 36, (c + 1) * 36).map(Math.abs)));
    const before = ranges(w1);
    const after = ranges(q.graph.nodes[0]!.inputs[1]!.initializer!.toFloat32());
    const spread = (r: number[]) => Math.max(...r) / Math.min(...r);
    // ranges become sqrt(r1 * r2): the 100x spread shrinks to about its square root
    expect(spread(after)).toBeLessThan(spread(before) / 5);
    // and each channel's range now equals the next layer's range for that channel
    const w2 = q.graph.nodes[2]!.inputs[1]!.initializer!.toFloat32();
    const r2 = Array.from({ length: 8 }, (_, c) =>
      Math.max(...w2.subarray(c * 9, (c + 1) * 9).map(Math.abs)),
    );
    for (let c = 0; c < 8; c++) expect(after[c]! / r2[c]!).toBeCloseTo(1, 4);
  });
});

describe('SmoothQuant', () => {
  it('moves activation outliers into the weights without changing the float function', async () => {
    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: ['N', 4, 32] });
    const gamma = Float32Array.from({ length: 32 }, (_, i) => (i === 3 ? 40 : 1));
    const ln = b.op(
      'LayerNormalization',
      [x, b.weight('g', Tensor.fromFloat32('g', [32], gamma)), weight(b, 'beta', [32], 1, 0.1)],
      { axis: -1 },
    );
    const q1 = b.op('MatMul', [ln, weight(b, 'wq', [32, 16], 2, 0.2)]);
    const k1 = b.op('MatMul', [ln, weight(b, 'wk', [32, 16], 3, 0.2)]);
    b.output(b.op('Add', [q1, k1]));
    const q = cloneModel(m);
    const r = await smoothQuant.apply(
      q,
      smoothQuant.options.parse({ samples: 32 }),
      ctx(calibData(m, 'x', [4, 32], 32, 5)),
    );
    expect(r.stats.groups).toBe(1);
    const feeds = [{ x: floatFeed([2, 4, 32], 6) }];
    const d = compareOutputs(await outputsOf(m, feeds), await outputsOf(q, feeds));
    expect(d.maxRelError).toBeLessThan(1e-5);
    const g2 = q.graph.nodes[0]!.inputs[1]!.initializer!.toFloat32();
    // the outlier channel's LayerNorm scale shrank relative to the others
    expect(g2[3]! / g2[0]!).toBeLessThan(40 / 2);
  });
});

void run;
