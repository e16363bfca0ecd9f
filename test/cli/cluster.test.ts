import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/node/model-io.js';
import { readCodebook } from '../../src/passes/cluster/codebook.js';
import { runCli } from '../helpers/cli.js';

const MODEL = 'test/fixtures/models/cnn-residual.onnx';
const NPZ = 'examples/fashion-mnist-1k.npz';
const dir = mkdtempSync(join(tmpdir(), 'edgefit-cluster-'));

describe('edgefit cluster', () => {
  it('--clusters 16: codebook + 4-bit indices, 7x smaller file, much smaller brotli, accuracy kept', () => {
    const out = join(dir, 'c16.onnx');
    const r = runCli(['cluster', MODEL, '-o', out, '--clusters', '16', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.after.bytes / j.before.bytes).toBeLessThan(0.16);
    expect(j.after.brotliBytes / j.before.brotliBytes).toBeLessThan(0.2);
    const m = loadModel(out);
    const codebooks = m.graph.nodes
      .filter((n) => n.opType === 'Gather')
      .map((n) => readCodebook(n.outputs[0]!)!);
    expect(codebooks).toHaveLength(7);
    for (const cb of codebooks) {
      expect(cb.bits).toBe(4); // packed two per byte
      expect(Math.max(...cb.indices)).toBeLessThan(16);
    }
    const e = JSON.parse(runCli(['eval', out, '--data', NPZ, '--reference', MODEL, '--json']).stdout);
    expect(e.agreement).toBeGreaterThan(0.97);
    expect(e.top1).toBeGreaterThan(0.9);
  });

  it('--storage dense keeps plain weights with at most K distinct values', () => {
    const out = join(dir, 'd8.onnx');
    expect(runCli(['cluster', MODEL, '-o', out, '--clusters', '8', '--storage', 'dense']).code).toBe(0);
    const m = loadModel(out);
    const big = m.graph.initializers.filter((v) => v.initializer!.size >= 1024);
    expect(big.length).toBe(7);
    for (const v of big) expect(new Set(v.initializer!.toFloat32()).size).toBeLessThanOrEqual(8);
  });

  it('rejects a bad cluster count', () => {
    const r = runCli(['cluster', MODEL, '-o', join(dir, 'x.onnx'), '--clusters', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^edgefit: error: --clusters must be an integer from 2 to 256/);
  });
});

describe('edgefit decompose', () => {
  it('--rank-ratio 0.25 on the MLP: a third of the size, top-1 kept, two MatMuls per layer', () => {
    const out = join(dir, 'lowrank.onnx');
    const r = runCli([
      'decompose',
      'test/fixtures/models/mlp-gemm.onnx',
      '-o',
      out,
      '--rank-ratio',
      '0.25',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.after.bytes / j.before.bytes).toBeLessThan(0.4);
    const stats = j.passes.find((p: { name: string }) => p.name === 'decompose-svd').stats;
    expect(stats.layers).toBe(2);
    expect(stats.paramsAfter).toBeLessThan(stats.paramsBefore / 2);
    const e = JSON.parse(
      runCli(['eval', out, '--data', NPZ, '--reference', 'test/fixtures/models/mlp-gemm.onnx', '--json'])
        .stdout,
    );
    expect(e.agreement).toBeGreaterThan(0.95);
    expect(e.top1).toBeGreaterThan(0.86);
  });

  it('rejects a rank ratio outside (0, 1]', () => {
    const r = runCli([
      'decompose',
      'test/fixtures/models/mlp-gemm.onnx',
      '-o',
      join(dir, 'y.onnx'),
      '--rank-ratio',
      '1.5',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--rank-ratio must be a number > 0 and <= 1/);
  });
});
