// eval / bench / compare on the bundled example and on the full Fashion-MNIST test set.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { encodeNpy } from '../../src/data/npy.js';
import { encodeNpz } from '../../src/data/npz.js';
import { decodeModel, encodeModel } from '../../src/ir/serialize.js';
import { Rng } from '../../src/kernels/random.js';
import { exposeValues } from '../../src/runtime/expose.js';
import { runCli } from '../helpers/cli.js';

const FM = '/usr/share/datasets/fashion-mnist';
const dir = mkdtempSync(join(tmpdir(), 'edgefit-eval-'));
const MODEL = 'examples/fashion-mnist.onnx';
const NPZ = 'examples/fashion-mnist-1k.npz';
const idxFlags = [
  '--labels',
  `${FM}/t10k-labels-idx1-ubyte.gz`,
  '--scale',
  String(1 / 255),
  '--mean',
  '0.2860',
  '--std',
  '0.3530',
];

/** An independent top-1: parse the IDX bytes by hand and run onnxruntime-node directly. */
async function independentTop1(limit: number): Promise<number> {
  const img = gunzipSync(readFileSync(`${FM}/t10k-images-idx3-ubyte.gz`));
  const lab = gunzipSync(readFileSync(`${FM}/t10k-labels-idx1-ubyte.gz`));
  const s = await ort.InferenceSession.create(MODEL);
  let correct = 0;
  for (let start = 0; start < limit; start += 500) {
    const n = Math.min(500, limit - start);
    const x = new Float32Array(n * 784);
    for (let i = 0; i < n * 784; i++) x[i] = (img[16 + start * 784 + i]! / 255 - 0.286) / 0.353;
    const out = (await s.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) })).logits!
      .data as Float32Array;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < 10; j++) if (out[i * 10 + j]! > out[i * 10 + best]!) best = j;
      if (best === lab[8 + start + i]) correct++;
    }
  }
  return correct / limit;
}

describe.skipIf(!existsSync(FM))('eval', () => {
  it('npz, IDX and an independent computation give the same top-1 (1k slice and full 10k)', async () => {
    const npz = JSON.parse(runCli(['eval', MODEL, '--data', NPZ, '--json']).stdout);
    const idx1k = JSON.parse(
      runCli([
        'eval',
        MODEL,
        '--data',
        `${FM}/t10k-images-idx3-ubyte.gz`,
        ...idxFlags,
        '--limit',
        '1000',
        '--json',
      ]).stdout,
    );
    expect(npz.samples).toBe(1000);
    expect(idx1k.samples).toBe(1000);
    expect(idx1k.top1).toBe(npz.top1);
    expect(npz.top1).toBeCloseTo(await independentTop1(1000), 10);
    const full = JSON.parse(
      runCli(['eval', MODEL, '--data', `${FM}/t10k-images-idx3-ubyte.gz`, ...idxFlags, '--json']).stdout,
    );
    expect(full.samples).toBe(10000);
    expect(full.top1).toBeCloseTo(await independentTop1(10000), 10);
    expect(full.top1).toBeGreaterThan(0.9);
  });

  it('--runtime web (onnxruntime-web wasm) gives the same top-1 as node', () => {
    const node = JSON.parse(runCli(['eval', MODEL, '--data', NPZ, '--limit', '200', '--json']).stdout);
    const web = JSON.parse(
      runCli(['eval', MODEL, '--data', NPZ, '--limit', '200', '--runtime', 'web', '--json']).stdout,
    );
    expect(web.samples).toBe(200);
    expect(web.top1).toBe(node.top1);
  });

  it('a model against itself: agreement 1, SQNR infinite', () => {
    const r = JSON.parse(runCli(['eval', MODEL, '--data', NPZ, '--reference', MODEL, '--json']).stdout);
    expect(r.agreement).toBe(1);
    expect(r.sqnr).toBe('Infinity');
  });

  it('known noise on one weight: SQNR as expected within 0.5 dB', async () => {
    // noise dW ~ N(0, s^2) on the classifier weight W[10,128] adds x . dW_j to logit j for features x
    // (the Gemm input); so the expected SQNR is 10 log10(sum y^2 / sum_i sum_j (x_i . dW_j)^2),
    // computed here from the exposed features, independently of edgefit's metric code
    const model = decodeModel(new Uint8Array(readFileSync(MODEL)));
    const gemm = model.graph.nodes.find((n) => n.opType === 'Gemm')!;
    const w = gemm.inputs[1]!.initializer!;
    const s = 0.02;
    const rng = new Rng(5);
    const clean = w.toFloat32().slice();
    const noisy = Float32Array.from(clean, (v) => v + s * rng.normal());
    const features = gemm.inputs[0]!.name;
    const original = encodeModel(exposeValues(model, [features]));
    w.setData(new Uint8Array(noisy.buffer));
    const noisyPath = join(dir, 'noisy.onnx');
    writeFileSync(noisyPath, encodeModel(model));
    const sess = await ort.InferenceSession.create(original);
    const x = (await import('../../src/data/npz.js'))
      .decodeNpz(new Uint8Array(readFileSync(NPZ)))
      .get('input')!.data as Float32Array;
    const out = await sess.run({ input: new ort.Tensor('float32', x, [1000, 1, 28, 28]) });
    const y = out.logits!.data as Float32Array;
    const f = out[features]!.data as Float32Array;
    let sig = 0;
    for (const v of y) sig += v * v;
    let noise = 0;
    for (let i = 0; i < 1000; i++)
      for (let j = 0; j < 10; j++) {
        let d = 0;
        for (let k = 0; k < 128; k++) d += f[i * 128 + k]! * (noisy[j * 128 + k]! - clean[j * 128 + k]!);
        noise += d * d;
      }
    const expected = 10 * Math.log10(sig / noise);
    expect(expected).toBeGreaterThan(10);
    expect(expected).toBeLessThan(60);
    const r = JSON.parse(runCli(['eval', noisyPath, '--data', NPZ, '--reference', MODEL, '--json']).stdout);
    expect(Math.abs(r.sqnr - expected)).toBeLessThan(0.5);
    expect(r.agreement).toBeLessThan(1);
  });
});

describe('bench and compare', () => {
  it('bench --json has latency, sizes and a profile naming the kernels', () => {
    const r = runCli(['bench', MODEL, '--runs', '20', '--warmup', '3', '--profile', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.latencyMs.median).toBeGreaterThan(0);
    expect(j.latencyMs.p90).toBeGreaterThanOrEqual(j.latencyMs.median);
    expect(j.latencyMs.min).toBeLessThanOrEqual(j.latencyMs.median);
    expect(j.bytes).toBe(readFileSync(MODEL).length);
    expect(j.brotliBytes).toBeLessThan(j.bytes);
    expect(j.profile.byOpType.map((k: { kernel: string }) => k.kernel)).toContain('Conv');
  });

  it('compare prints size, latency and accuracy ratios side by side', () => {
    const r = runCli(['compare', MODEL, MODEL, '--data', NPZ, '--runs', '10', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ratios.bytes).toBe(1);
    expect(j.ratios.top1DropPt).toBe(0);
    expect(j.schemaVersion).toBe(1);
    expect(j.reference.top1).toBeCloseTo(0.932, 3);
    expect(j.candidate.agreement).toBe(1);
    expect(j.ratios.latency).toBeGreaterThan(0);
  });
});

describe('bad data: exit 2, one line naming the input and what was expected', () => {
  const bad = (name: string, arrays: Record<string, Parameters<typeof encodeNpy>[0]>) => {
    const p = join(dir, name);
    writeFileSync(p, encodeNpz(arrays));
    return p;
  };
  const f32 = (shape: number[]) => ({
    dtype: 'float32' as const,
    shape,
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
  });
  const cases: [string, () => string, RegExp][] = [
    [
      'wrong input name',
      () => bad('name.npz', { images: f32([4, 1, 28, 28]), other: f32([4, 2]) }),
      /no array for model input "input" \(it has: images, other\)/,
    ],
    [
      'wrong dtype',
      () =>
        bad('dtype.npz', {
          input: { dtype: 'float64', shape: [4, 1, 28, 28], data: new Float64Array(4 * 784) },
        }),
      /input "input" expects float \[batch,1,28,28\]; the data has float64 \[4,1,28,28\] \(wrong dtype\)/,
    ],
    [
      'wrong shape',
      () => bad('shape.npz', { input: f32([4, 784]) }),
      /input "input" expects float \[batch,1,28,28\]; the data has float32 \[4,784\] \(wrong rank\)/,
    ],
    [
      'labels count',
      () =>
        bad('labels.npz', {
          input: f32([4, 1, 28, 28]),
          labels: { dtype: 'int64', shape: [3], data: new BigInt64Array(3) },
        }),
      /labels has shape \[3\] but the data has 4 samples/,
    ],
    [
      'corrupt npz',
      () => {
        const p = join(dir, 'corrupt.npz');
        writeFileSync(p, readFileSync(NPZ).subarray(0, 5000));
        return p;
      },
      /corrupt\.npz/,
    ],
    [
      'empty folder',
      () => {
        const p = join(dir, 'empty');
        mkdirSync(p, { recursive: true });
        return p;
      },
      /holds no images in class subfolders/,
    ],
  ];
  for (const [label, make, pattern] of cases)
    it(label, () => {
      const r = runCli(['eval', MODEL, '--data', make()]);
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^edgefit: error: /);
      expect(lines[0]).toMatch(pattern);
    });
});

void create;
void toBinary;
