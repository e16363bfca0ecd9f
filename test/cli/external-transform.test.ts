// Transforms on models with external data: the output's data goes beside it, sizes count both files,
// and the result still evaluates like the original.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('transforms with external data', () => {
  it('slim --external-data writes OUT.data, counts it, and quantize reads it back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-ext-'));
    const out = join(dir, 'm.onnx');
    const r = runCli(['slim', 'examples/fashion-mnist.onnx', '-o', out, '--external-data', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const files = statSync(out).size + statSync(`${out}.data`).size;
    expect(statSync(out).size).toBeLessThan(20_000);
    expect(j.after.bytes).toBe(files);
    expect(j.after.bytes).toBeGreaterThan(0.9 * j.before.bytes);
    const q = join(dir, 'q.onnx');
    const s = runCli([
      'quantize',
      out,
      '-o',
      q,
      '--mode',
      'static',
      '--calib',
      'examples/fashion-mnist-1k.npz',
      '--samples',
      '64',
      '--json',
    ]);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).before.bytes).toBe(files);
    const e = JSON.parse(
      runCli([
        'eval',
        q,
        '--data',
        'examples/fashion-mnist-1k.npz',
        '--reference',
        'examples/fashion-mnist.onnx',
        '--json',
      ]).stdout,
    );
    expect(e.agreement).toBeGreaterThan(0.98);
  });
});
