// --finetune on the compression commands (issue 11 item 6), on the LeNet-300-100 fixture with 512
// training images and 1000 test images: the pruned model recovers top-1, the written file keeps its
// zeros; a sparse-stored weight (encode-sparse) is trained dense with its mask and stored sparse again;
// a codebook's exact 0 centroid stays 0; flags that need --finetune say so in one line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TransformReport } from '../../src/index.js';
import type { Model } from '../../src/ir/graph.js';
import { cluster, evaluate, finetune, loadModel, optimize, prune, quantize } from '../../src/node.js';
import { DataType } from '../../src/onnx/dtype.js';
import { readCodebook } from '../../src/passes/cluster/codebook.js';
import { readSparse } from '../../src/passes/sparse/sparse-storage.js';

const MODEL = 'test/fixtures/models/lenet-300-100.onnx';
const TRAIN = 'test/fixtures/models/fmnist-calib.npz'; // 512 labelled training images
const VAL = 'examples/fashion-mnist-1k.npz'; // the first 1000 test images
const dir = mkdtempSync(join(tmpdir(), 'edgefit-ft-after-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const top1 = async (path: string) => (await evaluate(path, { data: VAL })).top1;

/** The fraction of exact zeros of each rank-2 weight (sparse-stored weights expanded). */
function zeros(m: Model): number[] {
  const out: number[] = [];
  for (const n of m.graph.nodes) {
    if (n.opType !== 'Gemm') continue;
    const w = n.inputs[1]!;
    const t = w.initializer ?? readSparse(w)?.tensor;
    const values = t!.toFloat32();
    out.push(values.filter((x) => x === 0).length / values.length);
  }
  return out;
}

interface FinetuneJson {
  training: { steps: number; maskedTensors: number; sparseTensors: number };
  accuracy: { original: number; before: number; after: number };
  curve: { step: number; loss: number; accuracy?: number }[];
}

describe('--finetune on prune', () => {
  it('recovers top-1 of a 95%-pruned MLP and writes it with its zeros kept', async () => {
    const out = join(dir, 'p95-ft.onnx');
    const r = (await prune(MODEL, {
      output: out,
      sparsity: 0.95,
      finetune: true,
      train: TRAIN,
      val: VAL,
      epochs: 2,
      batchSize: 32,
      lr: 2e-3,
    })) as TransformReport;
    const ft = r.finetune as FinetuneJson;
    expect(ft.training.steps).toBe(32);
    expect(ft.training.maskedTensors).toBe(2);
    // the 1000 test images: the original 89.9%; 95% magnitude pruning loses points, 32 steps win most back
    expect(ft.accuracy.original).toBeCloseTo(0.899, 3);
    expect(ft.accuracy.before).toBeLessThan(ft.accuracy.original - 0.03);
    expect(ft.accuracy.after).toBeGreaterThan(ft.accuracy.before + 0.02);
    expect(ft.curve.at(-1)).toMatchObject({ step: 32, accuracy: ft.accuracy.after });
    // the written file is the fine-tuned model, its pruned weights as sparse as before
    expect(await top1(out)).toBeCloseTo(ft.accuracy.after, 6);
    const z = zeros(loadModel(out));
    expect(z[0]).toBeGreaterThanOrEqual(0.95);
    expect(z[1]).toBeGreaterThanOrEqual(0.95);
    expect(r.after.params).toBe(r.before.params);
  });

  it('says in one line what a fine-tuning flag needs', async () => {
    const output = join(dir, 'x.onnx');
    await expect(prune(MODEL, { output, sparsity: 0.5, train: TRAIN })).rejects.toThrow(
      /^--train applies only with --finetune/,
    );
    await expect(prune(MODEL, { output, sparsity: 0.5, finetune: true })).rejects.toThrow(
      /^--finetune needs training data/,
    );
    await expect(
      prune(MODEL, { output, sparsity: 0.5, finetune: true, train: TRAIN, epochs: 1, steps: 3 }),
    ).rejects.toThrow(/^give --epochs or --steps, not both/);
  });
});

describe('--finetune on quantize --mode static (QAT, int8 grids kept)', () => {
  it('pruned int8 weights keep their zeros; the int8 zeros of dense weights (rounding) train', async () => {
    const pruned = join(dir, 'p50.onnx');
    await prune(MODEL, { output: pruned, sparsity: 0.5 });
    const run = async (input: string, output: string) =>
      (await quantize(input, {
        output,
        mode: 'static',
        calib: TRAIN,
        finetune: true,
        train: TRAIN,
        val: VAL,
        steps: 16,
        batchSize: 32,
        lr: 1e-4,
      })) as TransformReport;
    const [p, d] = [join(dir, 'p50-int8-qat.onnx'), join(dir, 'int8-qat.onnx')];
    const rp = await run(pruned, p);
    const rd = await run(MODEL, d);
    const int8 = (path: string) =>
      loadModel(path)
        .graph.initializers.filter(
          (v) => v.initializer!.dtype === DataType.INT8 && v.initializer!.dims.length === 2,
        )
        .map((v) => v.initializer!.toFloat32());
    const zerosOf = (w: Float32Array) => w.filter((x) => x === 0).length / w.length;
    // fc1 and fc2 pruned (fc3 has fewer elements than prune's minimum): masked, zeros kept
    expect((rp.finetune as FinetuneJson).training.maskedTensors).toBe(2);
    const [w1, w2] = int8(p);
    expect(zerosOf(w1!)).toBeGreaterThanOrEqual(0.5);
    expect(zerosOf(w2!)).toBeGreaterThanOrEqual(0.5);
    // the dense model's int8 weights have 1.8-3.3% zeros from rounding alone: none is masked
    expect((rd.finetune as FinetuneJson).training.maskedTensors).toBe(0);
    const a = (rd.finetune as FinetuneJson).accuracy;
    expect(a.after).toBeGreaterThan(a.original - 0.01);
    for (const r of [rp, rd]) expect(r.integerNodes).toHaveLength(3); // still QGemm-ready int8 QDQ
  });
});

describe('fine-tuning keeps encodings', () => {
  it('a sparse-stored model is trained with its zeros and stored sparse again', async () => {
    const pruned = join(dir, 'p90.onnx');
    const sparse = join(dir, 'p90-sparse.onnx');
    const out = join(dir, 'p90-sparse-ft.onnx');
    await prune(MODEL, { output: pruned, sparsity: 0.9 });
    const recipe = join(dir, 'sparse.json');
    writeFileSync(recipe, JSON.stringify([{ pass: 'encode-sparse' }]));
    await optimize(pruned, { output: sparse, recipe });
    const before = loadModel(sparse);
    expect(before.graph.nodes.filter((n) => n.opType === 'ScatterElements')).toHaveLength(2);
    const r = await finetune(sparse, { output: out, data: TRAIN, val: VAL, epochs: 1, batchSize: 32 });
    const t = r.training as FinetuneJson['training'];
    expect(t).toMatchObject({ steps: 16, maskedTensors: 2, sparseTensors: 2 });
    const acc = r.accuracy as { before: number; after: number };
    expect(acc.after).toBeGreaterThan(acc.before + 0.005);
    const after = loadModel(out);
    expect(after.graph.nodes.map((n) => n.opType)).toEqual(before.graph.nodes.map((n) => n.opType));
    // same positions of the non-zeros (the gaps), new values, about the same bytes
    const sparseOf = (m: Model) =>
      m.graph.nodes.filter((n) => n.opType === 'Gemm').flatMap((n) => readSparse(n.inputs[1]!)?.tensor ?? []);
    const [a, b] = [sparseOf(before), sparseOf(after)];
    expect(a).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      const [x, y] = [a[i]!.toFloat32(), b[i]!.toFloat32()];
      expect(y.every((v, j) => (v === 0) === (x[j] === 0))).toBe(true);
      expect(y).not.toEqual(x);
    }
    expect(r.after.bytes).toBeLessThan(r.before.bytes * 1.01);
    expect(await top1(out)).toBeCloseTo(acc.after, 6);
  });

  it("a pruned, clustered model keeps its codebooks' exact 0 centroid and its indices", async () => {
    const pruned = join(dir, 'p80.onnx');
    const clustered = join(dir, 'p80-k8.onnx');
    const out = join(dir, 'p80-k8-ft.onnx');
    await prune(MODEL, { output: pruned, sparsity: 0.8 });
    await cluster(pruned, { output: clustered, clusters: 8 });
    const r = await finetune(clustered, { output: out, data: TRAIN, val: VAL, epochs: 1, batchSize: 32 });
    const acc = r.accuracy as { before: number; after: number };
    expect(acc.after).toBeGreaterThan(acc.before);
    const books = (m: Model) =>
      m.graph.nodes.filter((n) => n.opType === 'Gather').map((n) => readCodebook(n.outputs[0]!)!);
    const [a, b] = [books(loadModel(clustered)), books(loadModel(out))];
    expect(a.length).toBeGreaterThanOrEqual(2);
    expect(b).toHaveLength(a.length);
    for (let i = 0; i < a.length; i++) {
      const [x, y] = [Array.from(a[i]!.codebook.toFloat32()), Array.from(b[i]!.codebook.toFloat32())];
      expect(x).toContain(0);
      expect(y.filter((_, k) => x[k] === 0)).toEqual([0]);
      expect(y).not.toEqual(x);
      expect(b[i]!.indices).toEqual(a[i]!.indices);
    }
  });
});
