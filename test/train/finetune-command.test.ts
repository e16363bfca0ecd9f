// edgefit finetune as a library call over files: the fine-tuned model is written with the original
// graph, the report is the versioned transform report plus the curve, and option errors are one line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/index.js';
import { finetune, loadModel } from '../../src/node.js';

const MODEL = 'test/fixtures/models/mlp-gemm.onnx';
const DATA = 'test/fixtures/models/fmnist-calib.npz'; // 512 labelled Fashion-MNIST training images
const dir = mkdtempSync(join(tmpdir(), 'edgefit-finetune-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('finetune (edgefit/node)', () => {
  it('trains, writes the original graph with new weights, and reports the curve', async () => {
    const out = join(dir, 'ft.onnx');
    const r = await finetune(MODEL, {
      output: out,
      data: DATA,
      val: DATA,
      steps: 12,
      batchSize: 32,
      lr: 1e-3,
      seed: 1,
    });
    expect(r.schemaVersion).toBe(SCHEMA_VERSION);
    expect(r.command).toBe('finetune');
    expect(r.after.params).toBe(r.before.params);
    const training = r.training as { steps: number; trainedTensors: number; batchSize: number };
    expect(training).toMatchObject({ steps: 12, trainedTensors: 6, batchSize: 32 });
    const curve = r.curve as { step: number; loss: number; accuracy?: number }[];
    expect(curve.at(-1)!.step).toBe(12);
    expect(curve.every((p) => Number.isFinite(p.loss) && p.loss > 0)).toBe(true);
    expect(curve.at(-1)!.accuracy).toBeGreaterThan(0.8);
    const acc = r.accuracy as { before: number; after: number };
    expect(acc.before).toBeGreaterThan(0.8);
    const [a, b] = [loadModel(MODEL), loadModel(out)];
    expect(b.graph.nodes.map((n) => n.opType)).toEqual(a.graph.nodes.map((n) => n.opType));
    const w = (m: typeof a) =>
      m.graph.initializers.find((v) => v.name === 'net.1.weight')!.initializer!.toFloat32();
    expect(w(b)).not.toEqual(w(a));
  });

  it('refuses --epochs with --steps, and ce without labels, in one line', async () => {
    const out = join(dir, 'x.onnx');
    await expect(finetune(MODEL, { output: out, data: DATA, epochs: 1, steps: 5 })).rejects.toThrow(
      /^give --epochs or --steps, not both/,
    );
    await expect(finetune(MODEL, { output: out, data: DATA, loss: 'kd', steps: 2, lr: 0 })).rejects.toThrow(
      /--lr/,
    );
  });
});
