// slim on exporter-shaped fixtures (test/fixtures/models, made by scripts/make-fixtures.py).
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { verifyModel } from '../../src/ir/verify.js';
import { FIXTURES, slimFixture } from '../corpus/slim-check.js';

const DIR = FIXTURES;

async function slimAndCompare(name: string) {
  const r = await slimFixture(name);
  expect(verifyModel(r.slim)).toEqual([]);
  return r;
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
