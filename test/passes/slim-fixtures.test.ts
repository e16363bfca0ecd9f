// slim on exporter-shaped fixtures (test/fixtures/models, made by scripts/make-fixtures.py).
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { synthesizeInputs } from '../../src/data/synthetic.js';
import { decodeModel, encodeModel } from '../../src/ir/serialize.js';
import { modelCounts } from '../../src/ir/stats.js';
import { verifyModel } from '../../src/ir/verify.js';
import { SLIM_PASSES } from '../../src/passes/registry.js';
import { compareOutputs, runPasses } from '../../src/pipeline/pass-manager.js';
import { step } from '../../src/pipeline/recipe.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import type { HostTensor } from '../../src/runtime/types.js';

const DIR = 'test/fixtures/models';
const steps = () => [...SLIM_PASSES.map((id) => step(id)), step('topological-sort')];

async function outputs(bytes: Uint8Array, feeds: Record<string, HostTensor>[]) {
  const s = await nodeRuntime.createSession(bytes);
  const out = [];
  for (const f of feeds) out.push(await s.run(f));
  await s.release();
  return out;
}

async function slimAndCompare(name: string) {
  const bytes = new Uint8Array(readFileSync(`${DIR}/${name}.onnx`));
  const model = decodeModel(bytes);
  const feeds = [0, 1, 2, 3].map((seed) => {
    const f = synthesizeInputs(model, { seed, batch: 3 });
    if (f.cond) f.cond = { dtype: 9, dims: [], data: Uint8Array.of(seed % 2) };
    return f;
  });
  const { model: slim } = await runPasses(decodeModel(bytes), steps(), {
    runtime: nodeRuntime,
    fixedPoint: true,
  });
  expect(verifyModel(slim)).toEqual([]);
  const diff = compareOutputs(await outputs(bytes, feeds), await outputs(encodeModel(slim), feeds));
  return { before: modelCounts(model).opTypes, after: modelCounts(slim).opTypes, diff, slim };
}

describe.skipIf(!existsSync(`${DIR}/cnn-bn-train.onnx`))('slim on exporter-shaped fixtures', () => {
  it('PyTorch convnet with BatchNorm, Dropout and Identity: all removed, outputs within 1e-5', async () => {
    const r = await slimAndCompare('cnn-bn-train');
    expect(r.before.BatchNormalization).toBe(6);
    for (const op of ['BatchNormalization', 'Identity', 'Dropout']) expect(r.after[op]).toBeUndefined();
    expect(r.diff.maxRelError).toBeLessThan(1e-5);
  });

  it('TensorFlow/Paddle-style graph: Constant weights lifted, static shape chain folded, outputs unchanged', async () => {
    const r = await slimAndCompare('tf-style');
    expect(r.before.Constant).toBeGreaterThan(5);
    expect(r.after.Constant).toBeUndefined();
    expect(r.after.Identity).toBeUndefined();
    expect(r.after.Dropout).toBeUndefined();
    // one shape chain depends on the dynamic batch and must stay; the static one is folded
    expect(r.after.Shape).toBe(1);
    expect(r.after.Reshape).toBe(2);
    // the weight used by two MatMuls is still one initializer
    expect(r.diff.maxRelError).toBeLessThan(1e-6);
  });

  it('If whose branches hold weights: slimmed inside both branches', async () => {
    const r = await slimAndCompare('if-branches');
    const branches = r.slim.graph.nodes.find((n) => n.opType === 'If')!.subgraphs();
    expect(branches).toHaveLength(2);
    for (const g of branches) {
      expect(g.nodes.some((n) => n.opType === 'Identity' || n.opType === 'Constant')).toBe(false);
      expect(g.nodes.some((n) => n.opType === 'Gemm')).toBe(true);
    }
    expect(r.diff.maxRelError).toBeLessThan(1e-5);
  });
});
