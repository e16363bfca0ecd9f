import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/node/model-io.js';
import { runCli } from '../helpers/cli.js';

const MODEL = 'test/fixtures/models/mlp-gemm.onnx';
const NPZ = 'examples/fashion-mnist-1k.npz';
const dir = mkdtempSync(join(tmpdir(), 'edgefit-prune-'));

/** the big Gemm weights of a pruned MLP, as [N, K] rows (torch Linear: transB = 1) */
function weights(path: string) {
  const m = loadModel(path);
  return m.graph.nodes
    .filter((n) => n.opType === 'Gemm' && n.inputs[1]!.initializer!.size >= 1024)
    .map((n) => ({ t: n.inputs[1]!.initializer!, data: n.inputs[1]!.initializer!.toFloat32() }));
}

describe('edgefit prune', () => {
  it('unstructured 50%: exactly half the weights zero, accuracy close, brotli smaller', () => {
    const out = join(dir, 'u50.onnx');
    const r = runCli(['prune', MODEL, '-o', out, '--sparsity', '0.5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    for (const { data } of weights(out))
      expect(data.filter((v) => v === 0).length).toBe(Math.floor(data.length / 2));
    expect(j.after.brotliBytes / j.before.brotliBytes).toBeLessThan(0.65);
    const e = JSON.parse(runCli(['eval', out, '--data', NPZ, '--json']).stdout);
    expect(e.top1).toBeGreaterThan(0.86); // float: 0.881
  });

  it('2:4 with Wanda scores: every group of 4 inputs keeps at most 2 weights', () => {
    const out = join(dir, 'nm.onnx');
    const r = runCli([
      'prune',
      MODEL,
      '-o',
      out,
      '--sparsity',
      '0.5',
      '--pattern',
      '2:4',
      '--method',
      'wanda',
      '--calib',
      'test/fixtures/models/fmnist-calib.npz',
      '--samples',
      '64',
    ]);
    expect(r.code, r.stderr).toBe(0);
    for (const { t, data } of weights(out)) {
      const [rows, cols] = t.dims as [number, number];
      for (let i = 0; i < rows; i++)
        for (let k = 0; k + 3 < cols; k += 4) {
          let nonzero = 0;
          for (let j = 0; j < 4; j++) if (data[i * cols + k + j] !== 0) nonzero++;
          expect(nonzero).toBeLessThanOrEqual(2);
        }
    }
    const e = JSON.parse(runCli(['eval', out, '--data', NPZ, '--json']).stdout);
    expect(e.top1).toBeGreaterThan(0.85);
  });

  it('clear errors: wanda without data, wanda with channels, bad sparsity', () => {
    const run = (...a: string[]) => runCli(['prune', MODEL, '-o', join(dir, 'x.onnx'), ...a]);
    expect(run('--sparsity', '0.5', '--method', 'wanda').stderr).toMatch(
      /^edgefit: error: --method wanda needs calibration data/,
    );
    expect(run('--sparsity', '0.5', '--pattern', 'channel', '--method', 'wanda').stderr).toMatch(
      /^edgefit: error: --pattern channel ranks channels by l1 norm/,
    );
    const r = run('--sparsity', '2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--sparsity must be a number from 0 to 0\.99/);
  });
});

describe('edgefit prune --pattern channel', () => {
  it('0.3 of the channels of a residual CNN: about half the MACs, a model ORT runs', () => {
    const out = join(dir, 'ch.onnx');
    const r = runCli([
      'prune',
      'test/fixtures/models/cnn-residual.onnx',
      '-o',
      out,
      '--pattern',
      'channel',
      '--sparsity',
      '0.3',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.passes.find((p: { name: string }) => p.name === 'prune-channels').stats.groups).toBeGreaterThan(
      2,
    );
    const before = JSON.parse(runCli(['inspect', 'test/fixtures/models/cnn-residual.onnx', '--json']).stdout);
    const after = JSON.parse(runCli(['inspect', out, '--json']).stdout);
    // (1 - 0.3)^2 = 0.49 of the MACs of convs whose inputs and outputs are both pruned
    expect(after.macs / before.macs).toBeGreaterThan(0.4);
    expect(after.macs / before.macs).toBeLessThan(0.6);
    expect(after.params / before.params).toBeLessThan(0.6);
    const e = JSON.parse(runCli(['eval', out, '--data', NPZ, '--json']).stdout);
    expect(e.samples).toBe(1000); // runs; accuracy needs fine-tuning after this much pruning
  });
});

describe('edgefit prune --pattern channel --round-to 16', () => {
  it('keeps channel counts ORT blocks well (multiples of 16)', () => {
    const out = join(dir, 'ch16.onnx');
    const r = runCli([
      'prune',
      'test/fixtures/models/cnn-wide.onnx',
      '-o',
      out,
      '--pattern',
      'channel',
      '--sparsity',
      '0.3',
      '--round-to',
      '16',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const m = loadModel(out);
    const convs = m.graph.nodes.filter((n) => n.opType === 'Conv');
    for (const c of convs) expect(c.inputs[1]!.initializer!.dims[0]! % 16).toBe(0);
    // 64 -> 48 and 128 -> 96 channels: (48/64)^2 of the conv MACs in each stage, roughly
    expect(convs.map((c) => c.inputs[1]!.initializer!.dims[0])).toContain(48);
    expect(convs.map((c) => c.inputs[1]!.initializer!.dims[0])).toContain(96);
  });
});
