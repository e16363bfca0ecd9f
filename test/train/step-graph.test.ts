// Step graphs end to end: loss head + backward + optimizer in one ONNX model run by onnxruntime-node,
// checked against finite differences of the loss itself, PyTorch's first AdamW step, masks, the NCHWc
// rewrite, and the training loop (determinism, write-back of encodings).
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.js';
import type { Model } from '../../src/ir/graph.js';
import type { HostTensor } from '../../src/ir/host-tensor.js';
import { encodeModel } from '../../src/ir/serialize.js';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import type { LossOptions } from '../../src/train/loss.js';
import { nchwcBlockSize, toNchwc } from '../../src/train/nchwc.js';
import { type OptimizerOptions, optimizerScalars } from '../../src/train/optimizer.js';
import { buildStepGraph } from '../../src/train/step-graph.js';
import { initialState, trainModel } from '../../src/train/trainer.js';
import { GraphBuilder, newModel, randn, weight } from '../helpers/models.js';

const N = 4;
const C = 3;

/** Conv(2->4, 3x3) + Tanh (smooth: finite differences see no kinks) + GlobalAveragePool + Flatten + Gemm(4->3) */
function tinyCnn(zeros = false): Model {
  const m = newModel({ '': 13 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: ['batch', 2, 5, 5] });
  const w = weight(b, 'w', [4, 2, 3, 3], 1);
  if (zeros) {
    const v = w.initializer!.toFloat32().map((e, i) => (i % 2 ? 0 : e));
    w.initializer!.setData(new Uint8Array(v.buffer));
  }
  const h = b.op('Tanh', [b.op('Conv', [x, w, weight(b, 'bc', [4], 2, 0.1)], { pads: [1, 1, 1, 1] })]);
  const f = b.op('Flatten', [b.op('GlobalAveragePool', [h])]);
  const y = b.op('Gemm', [f, weight(b, 'wf', [C, 4], 3), weight(b, 'bf', [C], 4, 0.1)], { transB: 1 });
  y.name = 'logits';
  b.output(y);
  return m;
}

const xs = randn(N * 50, 7);
const labels = BigInt64Array.from([0n, 2n, 1n, 2n]);
const teacher = randn(N * C, 8, 2);

/** host-side loss of `model` on the fixed batch (float64 sums) */
async function hostLoss(model: Model, loss: LossOptions): Promise<number> {
  const s = await nodeRuntime.createSession(encodeModel(model));
  const z = (await s.run({ x: { dtype: 1, dims: [N, 2, 5, 5], data: xs } })).logits!.data as Float32Array;
  await s.release();
  const T = loss.temperature ?? 4;
  const alpha = loss.kind === 'ce' ? 0 : loss.kind === 'kd' ? 1 : (loss.alpha ?? 0.5);
  const logSoftmax = (row: number[]) => {
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
    return row.map((v) => v - lse);
  };
  let ce = 0;
  let kd = 0;
  for (let n = 0; n < N; n++) {
    const row = Array.from(z.subarray(n * C, n * C + C));
    ce -= logSoftmax(row)[Number(labels[n])]!;
    const lp = logSoftmax(row.map((v) => v / T));
    const lq = logSoftmax(Array.from(teacher.subarray(n * C, n * C + C), (v) => v / T));
    kd += lq.reduce((a, q, c) => a + Math.exp(q) * (q - lp[c]!), 0) * T * T;
  }
  return ((1 - alpha) * ce + alpha * kd) / N;
}

/** one step of the step graph: the trained values after it, by initializer name */
async function oneStep(
  model: Model,
  loss: LossOptions,
  optimizer: OptimizerOptions,
  lr: number,
  block?: number,
) {
  const step = buildStepGraph(model, { batch: N, loss, optimizer, ...(block ? { block } : {}) });
  if (block) toNchwc(step.model, block);
  const s = await nodeRuntime.createSession(encodeModel(step.model));
  const feeds: Record<string, HostTensor> = { x: { dtype: 1, dims: [N, 2, 5, 5], data: xs } };
  if (step.labels) feeds[step.labels] = { dtype: DataType.INT64, dims: [N], data: labels };
  if (step.teacher) feeds[step.teacher] = { dtype: 1, dims: [N, C], data: teacher };
  for (const [k, v] of Object.entries(optimizerScalars(optimizer, 1, lr)))
    feeds[k] = { dtype: 1, dims: [], data: Float32Array.of(v) };
  for (const [k, v] of initialState(step)) feeds[k] = v;
  const out = await s.run(feeds);
  await s.release();
  const after = new Map<string, Float32Array>();
  for (const t of step.trained) after.set(t.name, out[t.output]!.data as Float32Array);
  return { after, loss: (out[step.loss]!.data as Float32Array)[0]!, step };
}

/** central-difference gradient of the host loss for element i of initializer `name` */
async function fdGrad(model: Model, name: string, i: number, loss: LossOptions, h = 1e-3): Promise<number> {
  const v = model.graph.initializers.find((w) => w.name === name)!;
  const base = Float32Array.from(v.initializer!.toFloat32());
  const at = async (d: number) => {
    const moved = Float32Array.from(base);
    moved[i] = base[i]! + d;
    v.initializer!.setData(new Uint8Array(moved.buffer));
    return hostLoss(model, loss);
  };
  const g = ((await at(h)) - (await at(-h))) / (2 * h);
  v.initializer!.setData(new Uint8Array(base.buffer));
  return g;
}

const LOSSES: LossOptions[] = [{ kind: 'ce' }, { kind: 'kd', temperature: 3 }, { kind: 'ce+kd', alpha: 0.3 }];

describe('step graph', () => {
  for (const loss of LOSSES)
    it(`one SGD step moves every weight by -lr·dL/dw (${loss.kind} loss vs finite differences)`, async () => {
      const model = tinyCnn();
      const lr = 0.5;
      const { after, loss: l } = await oneStep(model, loss, { kind: 'sgd', momentum: 0.9 }, lr);
      expect(l).toBeCloseTo(await hostLoss(model, loss), 5);
      let worst = 0;
      let scale = 0;
      for (const name of ['w', 'bc', 'wf', 'bf']) {
        const w0 = model.graph.initializers.find((v) => v.name === name)!.initializer!.toFloat32();
        for (const i of new Set([0, Math.min(3, w0.length - 1), w0.length - 1])) {
          const g = (w0[i]! - after.get(name)![i]!) / lr;
          const fd = await fdGrad(model, name, i, loss);
          worst = Math.max(worst, Math.abs(g - fd));
          scale = Math.max(scale, Math.abs(fd));
        }
      }
      expect(worst / scale).toBeLessThan(1e-3);
    });

  it("AdamW's first step is PyTorch's: w(1 - lr·λ) - lr·g/(|g| + ε), decay on matrices only", async () => {
    const model = tinyCnn();
    const lr = 0.01;
    const sgd = await oneStep(model, { kind: 'ce' }, { kind: 'sgd', momentum: 0 }, 1);
    const adam = await oneStep(model, { kind: 'ce' }, { kind: 'adamw', weightDecay: 0.1 }, lr);
    for (const name of ['w', 'bf']) {
      const w0 = model.graph.initializers.find((v) => v.name === name)!.initializer!.toFloat32();
      const decay = name === 'w' ? 1 - lr * 0.1 : 1;
      for (let i = 0; i < w0.length; i++) {
        const g = w0[i]! - sgd.after.get(name)![i]!;
        const expected = w0[i]! * decay - (lr * g) / (Math.abs(g) + 1e-8);
        expect(adam.after.get(name)![i]).toBeCloseTo(expected, 6);
      }
    }
  });

  it('pruned zeros stay exactly zero; the rest moves', async () => {
    const model = tinyCnn(true);
    const { after, step } = await oneStep(model, { kind: 'ce' }, { kind: 'sgd', weightDecay: 0.01 }, 0.5);
    expect(step.trained.find((t) => t.name === 'w')!.masked).toBe(36);
    const w = after.get('w')!;
    const w0 = model.graph.initializers.find((v) => v.name === 'w')!.initializer!.toFloat32();
    for (let i = 0; i < w.length; i++) {
      if (i % 2) expect(w[i]).toBe(0);
      else expect(w[i]).not.toBe(w0[i]);
    }
  });

  it('blocked convolutions (NCHWc) give the same step', async () => {
    const block = await nchwcBlockSize(nodeRuntime);
    expect(block).toBeGreaterThanOrEqual(8);
    // channel counts that fill blocks: Conv(2->16) + Relu + Conv(16->16) + GAP + Gemm
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: ['batch', 2, 5, 5] });
    const h1 = b.op('Relu', [
      b.op('Conv', [x, weight(b, 'w1', [block!, 2, 3, 3], 1), weight(b, 'b1', [block!], 2, 0.1)], {
        pads: [1, 1, 1, 1],
      }),
    ]);
    const h2 = b.op('Relu', [
      b.op('Conv', [h1, weight(b, 'w2', [block!, block!, 3, 3], 3, 0.2)], { pads: [1, 1, 1, 1] }),
    ]);
    const y = b.op(
      'Gemm',
      [b.op('Flatten', [b.op('GlobalAveragePool', [h2])]), weight(b, 'wf', [C, block!], 4)],
      { transB: 1 },
    );
    y.name = 'logits';
    b.output(y);
    const plain = await oneStep(m, { kind: 'ce' }, { kind: 'sgd' }, 0.1);
    const blocked = await oneStep(m, { kind: 'ce' }, { kind: 'sgd' }, 0.1, block);
    expect(
      blocked.step.model.graph.nodes.filter((n) => n.domain === 'com.microsoft.nchwc').length,
    ).toBeGreaterThan(4);
    expect(blocked.loss).toBeCloseTo(plain.loss, 5);
    for (const [name, w] of plain.after) {
      const v = blocked.after.get(name)!;
      for (let i = 0; i < w.length; i++) expect(Math.abs(v[i]! - w[i]!)).toBeLessThan(1e-5);
    }
  });
});

/** 64 samples of the tiny CNN's input; the label is which of (mean of channel 0, of channel 1, 0) is largest */
function dataset(): Dataset {
  const size = 64;
  const data = randn(size * 50, 11);
  const labels = Int32Array.from({ length: size }, (_, i) => {
    const mean = (c: number) =>
      data.subarray(i * 50 + c * 25, i * 50 + c * 25 + 25).reduce((a, v) => a + v, 0) / 25;
    const scores = [mean(0), mean(1), 0];
    return scores.indexOf(Math.max(...scores));
  });
  return {
    size,
    labels,
    source: 'test data',
    slice: (s, e) => ({ x: { dtype: 1, dims: [e - s, 2, 5, 5], data: data.subarray(s * 50, e * 50) } }),
  };
}

describe('trainModel', () => {
  it('lowers the loss, is deterministic for a seed, and writes the weights back into the graph', async () => {
    const model = tinyCnn();
    const opts = {
      batchSize: 16,
      epochs: 6,
      lr: 0.05,
      loss: { kind: 'ce' as const },
      optimizer: { kind: 'adamw' as const },
      seed: 3,
    };
    const a = await trainModel(model, dataset(), opts, { runtime: nodeRuntime });
    const b = await trainModel(model, dataset(), opts, { runtime: nodeRuntime });
    expect(a.steps).toBe(24);
    expect(a.curve.at(-1)!.loss).toBeLessThan(a.curve[0]!.loss * 0.8);
    expect(encodeModel(a.model)).toEqual(encodeModel(b.model));
    expect(a.model.graph.nodes.map((n) => n.opType)).toEqual(model.graph.nodes.map((n) => n.opType));
    const c = await trainModel(model, dataset(), { ...opts, seed: 4 }, { runtime: nodeRuntime });
    expect(encodeModel(c.model)).not.toEqual(encodeModel(a.model));
  });

  it('keeps encodings: int8 weights behind DequantizeLinear stay int8, codebook indices stay fixed', async () => {
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: ['batch', 2, 5, 5] });
    const f = b.op('Flatten', [x]);
    const q = b.weight(
      'q',
      Tensor.fromTyped('q', DataType.INT8, [8, 50], Int8Array.from(randn(400, 5, 40), Math.round)),
    );
    const w1 = b.op('DequantizeLinear', [q, b.weight('s', Tensor.fromFloat32('s', [], [0.01]))]);
    const idx = Uint8Array.from(randn(C * 8, 9), (v) => Math.floor(Math.abs(v) * 10) % 4);
    const w2 = b.op('Gather', [
      b.weight('cb', Tensor.fromFloat32('cb', [4], [-0.5, -0.1, 0.2, 0.6])),
      b.op('Cast', [b.weight('idx', Tensor.fromTyped('idx', DataType.UINT8, [C, 8], idx))], {
        to: DataType.INT64,
      }),
    ]);
    const y = b.op('Gemm', [b.op('Relu', [b.op('Gemm', [f, w1], { transB: 1 })]), w2], { transB: 1 });
    y.name = 'logits';
    b.output(y);
    const r = await trainModel(
      m,
      dataset(),
      { batchSize: 16, epochs: 3, lr: 0.05, loss: { kind: 'ce' }, optimizer: { kind: 'sgd' } },
      { runtime: nodeRuntime },
    );
    const get = (name: string) => r.model.graph.initializers.find((v) => v.name === name)!.initializer!;
    expect(get('q').dtype).toBe(DataType.INT8);
    expect(Array.from(get('q').toFloat32())).not.toEqual(Array.from(q.initializer!.toFloat32()));
    expect(Array.from(get('idx').toFloat32())).toEqual(Array.from(idx));
    expect(Array.from(get('cb').toFloat32())).not.toEqual([-0.5, -0.1, 0.2, 0.6].map(Math.fround));
    expect(r.trained.tensors).toBe(2);
  });
});
