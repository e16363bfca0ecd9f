// Sparse storage (passes/sparse/): mostly-zero weights as values + uint8 gaps, expanded by ORT at
// load; lossless, kept by slim, and kept through static int8 (the int8 weight is stored sparse again).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as lib from '../../src/node.js';
import { DataType } from '../../src/onnx/dtype.js';
import { readCodebook } from '../../src/passes/cluster/codebook.js';
import { readSparse, writeSparse } from '../../src/passes/sparse/sparse-storage.js';
import { newModel, Tensor } from '../helpers/models.js';

const MLP = 'test/fixtures/models/lenet-300-100.onnx';
const NPZ = 'examples/fashion-mnist-1k.npz';
const dir = mkdtempSync(join(tmpdir(), 'edgefit-sparse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const out = (name: string) => join(dir, `${name}.onnx`);
const recipe = join(dir, 'sparse.yaml');

let pruned: lib.TransformReport;
beforeAll(async () => {
  writeFileSync(recipe, '- pass: encode-sparse\n');
  pruned = (await lib.prune(MLP, { output: out('p90'), sparsity: 0.9 })) as lib.TransformReport;
}, 60_000);

describe('sparse storage', () => {
  it('round-trips any gaps, including gaps over 255 and a first non-zero far in', () => {
    const m = newModel({ '': 13 });
    const data = new Float32Array(2000);
    for (const [i, v] of [
      [700, 1.5],
      [701, -2],
      [1999, 3],
      [1000, -0.25],
    ] as const)
      data[i] = v;
    const t = Tensor.fromFloat32('w', [40, 50], data);
    const v = writeSparse(m.graph, 'w', t);
    const back = readSparse(v)!;
    expect(back.tensor.dims).toEqual([40, 50]);
    expect(Array.from(back.tensor.toFloat32())).toEqual(Array.from(data));
    expect(back.nodes.map((n) => n.opType)).toEqual([
      'Cast',
      'CumSum',
      'ConstantOfShape',
      'ScatterElements',
      'Reshape',
    ]);
  });

  it('90% pruned MLP: the file shrinks ~7x, outputs and top-1 unchanged, slim keeps it', async () => {
    const r = (await lib.optimize(out('p90'), { output: out('p90-sparse'), recipe })) as lib.TransformReport;
    expect(r.after.bytes).toBeLessThan(pruned.after.bytes * 0.16);
    expect(r.after.brotliBytes).toBeLessThan(pruned.after.brotliBytes);
    const stats = r.passes.find((p) => p.name === 'encode-sparse')!;
    expect(stats.rolledBack ?? false).toBe(false); // the lossless guard ran it in ORT and saw no change
    expect(stats.stats.tensors).toBe(2);
    const [a, b] = [
      await lib.evaluate(out('p90'), { data: NPZ }),
      await lib.evaluate(out('p90-sparse'), { data: NPZ }),
    ];
    expect(b.top1).toBe(a.top1);
    const s = (await lib.slim(out('p90-sparse'), { output: out('p90-sparse-slim') })) as lib.TransformReport;
    expect(s.after.bytes).toBeLessThanOrEqual(r.after.bytes);
  }, 60_000);

  it('static int8 after sparse storage: int8 values stored sparse again, QGemm kernels', async () => {
    const r = (await lib.quantize(out('p90-sparse'), {
      output: out('p90-sparse-int8'),
      mode: 'static',
      calib: NPZ,
      limit: 128,
    })) as lib.TransformReport;
    expect((r.kernels as Record<string, number>).QGemm).toBe(3);
    const values = lib
      .loadModel(out('p90-sparse-int8'))
      .graph.initializers.filter((v) => /_values/.test(v.name) && v.initializer!.dtype === DataType.INT8);
    expect(values).toHaveLength(2);
    // int8 at 10% density: 2 bytes per non-zero instead of 1 per weight
    expect(r.after.bytes).toBeLessThan(r.before.bytes * 0.5);
  }, 60_000);
});

describe('sparse codebook indices', () => {
  it('prune 80% → cluster K=8 → encode-sparse: indices stored sparse, outputs unchanged', async () => {
    await lib.prune(MLP, { output: out('p80'), sparsity: 0.8 });
    const c = (await lib.cluster(out('p80'), { output: out('p80-k8'), clusters: 8 })) as lib.TransformReport;
    const r = (await lib.optimize(out('p80-k8'), {
      output: out('p80-k8-sp'),
      recipe,
    })) as lib.TransformReport;
    const pass = r.passes.find((p) => p.name === 'encode-sparse')!;
    expect(pass.rolledBack ?? false).toBe(false);
    expect(pass.stats.codebooks).toBe(2);
    expect(r.after.brotliBytes).toBeLessThan(c.after.brotliBytes);
    const m = lib.loadModel(out('p80-k8-sp'));
    const gathers = m.graph.nodes.filter((n) => n.opType === 'Gather');
    const cbs = gathers.map((g) => readCodebook(g.outputs[0]!)!);
    expect(cbs.map((cb) => cb.sparseIndices)).toEqual([true, true]);
    // entry 0 is the pruned zero, and at least 80% of the indices point at it
    for (const cb of cbs) {
      expect(cb.codebook.toFloat32()[0]).toBe(0);
      expect(cb.indices.filter((i) => i === 0).length / cb.indices.length).toBeGreaterThanOrEqual(0.8);
    }
    const [a, b] = [
      await lib.evaluate(out('p80-k8'), { data: NPZ }),
      await lib.evaluate(out('p80-k8-sp'), { data: NPZ }),
    ];
    expect(b.top1).toBe(a.top1);
  }, 60_000);
});
