// quantize on the command line: static int8 on the bundled model, and the bad-input contract.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpz } from '../../src/data/npz.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefit-quant-'));
const MODEL = 'examples/fashion-mnist.onnx';
const NPZ = 'examples/fashion-mnist-1k.npz';

function oneLineError(r: { code: number; stderr: string }, pattern: RegExp) {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^edgefit: error: /);
  expect(lines[0]).toMatch(pattern);
}

describe('quantize --mode static', () => {
  it('the bundled model: int8 kernels, ~3x smaller, accuracy kept', () => {
    const before = readFileSync(MODEL);
    const out = join(dir, 'static.onnx');
    const r = runCli([
      'quantize',
      MODEL,
      '-o',
      out,
      '--mode',
      'static',
      '--calib',
      NPZ,
      '--samples',
      '200',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kernels.QLinearConv).toBe(8);
    expect(j.kernels.QGemm).toBe(1);
    expect(j.floatNodes).toEqual([]);
    // only the input needs quantizing: every other Q/DQ is fused away
    expect(j.kernels.QuantizeLinear).toBe(1);
    expect(j.kernels.DequantizeLinear ?? 0).toBe(0);
    expect(j.after.bytes / j.before.bytes).toBeLessThan(0.34);
    expect(readFileSync(MODEL).equals(before)).toBe(true);
    const e = JSON.parse(runCli(['eval', out, '--data', NPZ, '--reference', MODEL, '--json']).stdout);
    expect(e.top1).toBeGreaterThan(0.925); // float: 0.932
    expect(e.agreement).toBeGreaterThan(0.98);
  });
});

describe('quantize: bad input', () => {
  it('--mode static without --calib names the fix', () =>
    oneLineError(
      runCli(['quantize', MODEL, '-o', join(dir, 'a.onnx'), '--mode', 'static']),
      /--mode static needs calibration data \(pass --calib FILE/,
    ));

  it('calibration data that does not fit: the data layer error', () => {
    const bad = join(dir, 'bad.npz');
    writeFileSync(
      bad,
      encodeNpz({
        input: { dtype: 'float32', shape: [4, 3, 32, 32], data: new Float32Array(4 * 3 * 32 * 32) },
      }),
    );
    oneLineError(
      runCli(['quantize', MODEL, '-o', join(dir, 'b.onnx'), '--mode', 'static', '--calib', bad]),
      /input "input" expects float \[batch,1,28,28\]; the data has float32 \[4,3,32,32\]/,
    );
  });

  it('an already quantized model: a clear message, no output', () => {
    const q = join(dir, 'q.onnx');
    expect(runCli(['quantize', MODEL, '-o', q, '--mode', 'dynamic']).code).toBe(0);
    const again = join(dir, 'again.onnx');
    const r = runCli(['quantize', q, '-o', again, '--mode', 'static', '--calib', NPZ]);
    oneLineError(r, /already quantized/);
    expect(() => readFileSync(again)).toThrow();
  });

  it('an unknown mode', () =>
    oneLineError(
      runCli(['quantize', MODEL, '-o', join(dir, 'c.onnx'), '--mode', 'int3']),
      /--mode must be one of fp16, weight-int8, weight-int4, dynamic, static/,
    ));
});

describe('quantize --max-drop', () => {
  it('meets the budget on the eval data and names the float layers with their measured cost', () => {
    const out = join(dir, 'mixed.onnx');
    const r = runCli(
      [
        'quantize',
        'test/fixtures/models/transformer.onnx',
        '-o',
        out,
        '--mode',
        'static',
        '--calib',
        'test/fixtures/models/fmnist-calib.npz',
        '--data',
        NPZ,
        '--limit',
        '300',
        '--max-drop',
        '0',
        '--json',
      ],
      300_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout).mixedPrecision;
    expect(m.metric).toBe('top1');
    expect(m.met).toBe(true);
    // accuracies are fractions, drops in points (docs/CLI.md)
    expect(m.float).toBeGreaterThan(0.5);
    expect(m.float).toBeLessThanOrEqual(1);
    expect(m.dropPt).toBeLessThanOrEqual(1e-9);
    expect(m.dropPt).toBeCloseTo(100 * (m.float - m.result), 3);
    if (m.float - m.fullInt8 > 1e-9) {
      expect(m.floatLayers.length).toBeGreaterThan(0);
      for (const l of m.floatLayers) expect(typeof l.dropPt).toBe('number');
    }
    // the result really is that accurate on the same data
    const e = JSON.parse(runCli(['eval', out, '--data', NPZ, '--limit', '300', '--json']).stdout);
    expect(e.top1).toBeCloseTo(m.result, 8);
  });
});

describe('quantize: calibration methods', () => {
  for (const method of ['percentile', 'entropy', 'mse'])
    it(`--method ${method}: same fused kernels as minmax, accuracy kept`, () => {
      const out = join(dir, `m-${method}.onnx`);
      const r = runCli([
        'quantize',
        MODEL,
        '-o',
        out,
        '--mode',
        'static',
        '--calib',
        'test/fixtures/models/fmnist-calib.npz',
        '--samples',
        '128',
        '--method',
        method,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      // data-movement ops share their input's scale, so MaxPool runs on uint8 whatever the method
      expect(j.kernels).toMatchObject({
        QLinearConv: 8,
        QGemm: 1,
        QLinearAdd: 1,
        NhwcMaxPool: 1,
        QuantizeLinear: 1,
      });
      expect(j.kernels.DequantizeLinear ?? 0).toBe(0);
      const e = JSON.parse(runCli(['eval', out, '--data', NPZ, '--json']).stdout);
      expect(e.top1).toBeGreaterThan(0.925);
    });
});

describe('recipes reproduce transforms', () => {
  it('quantize --print-recipe, then optimize --recipe with the same data: byte-identical output', () => {
    const calib = 'test/fixtures/models/fmnist-calib.npz';
    const recipe = join(dir, 'static.yaml');
    const printed = runCli([
      'quantize',
      MODEL,
      '-o',
      join(dir, 'unused.onnx'),
      '--mode',
      'static',
      '--calib',
      calib,
      '--samples',
      '64',
      '--print-recipe',
    ]);
    expect(printed.code).toBe(0);
    writeFileSync(recipe, printed.stdout);
    const a = join(dir, 'via-quantize.onnx');
    const b = join(dir, 'via-optimize.onnx');
    expect(
      runCli(['quantize', MODEL, '-o', a, '--mode', 'static', '--calib', calib, '--samples', '64']).code,
    ).toBe(0);
    const r = runCli(['optimize', MODEL, '-o', b, '--recipe', recipe, '--calib', calib]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });
});
