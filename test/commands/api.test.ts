// The core library over bytes gives the same files as edgefit/node over paths (and so as the CLI,
// which is built on edgefit/node): one engine, three shells.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as core from '../../src/index.js';
import * as lib from '../../src/node.js';

const MODEL = 'examples/fashion-mnist.onnx';
const NPZ = 'examples/fashion-mnist-1k.npz';
const dir = mkdtempSync(join(tmpdir(), 'edgefit-api-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = { runtime: lib.nodeRuntime, sizer: lib.transportSizes };

describe('core (bytes) and edgefit/node (paths) agree byte for byte', () => {
  it('slim', async () => {
    const out = join(dir, 'slim.onnx');
    const r = (await lib.slim(MODEL, { output: out })) as lib.TransformReport;
    expect(r.schemaVersion).toBe(1);
    expect(r.warnings).toEqual([]);
    const c = (await core.slim(new Uint8Array(readFileSync(MODEL)), {}, env)) as core.BytesResult;
    expect(Buffer.compare(Buffer.from(c.bytes), readFileSync(out))).toBe(0);
    expect(c.report.after.bytes).toBe(r.after.bytes);
    expect(c.report.after.brotliBytes).toBe(r.after.brotliBytes);
  });

  it('quantize --mode static with calibration data', async () => {
    const out = join(dir, 'int8.onnx');
    const r = (await lib.quantize(MODEL, {
      output: out,
      mode: 'static',
      calib: NPZ,
      limit: 256,
    })) as lib.TransformReport;
    expect(r.integerNodes).toHaveLength(11);
    const model = lib.loadModel(MODEL);
    const calib = await lib.openDataset(model, NPZ, { limit: 256 });
    const c = (await core.quantize(
      new Uint8Array(readFileSync(MODEL)),
      { mode: 'static', limit: 256 },
      { ...env, calib },
    )) as core.BytesResult;
    expect(Buffer.compare(Buffer.from(c.bytes), readFileSync(out))).toBe(0);
    // the written model is as accurate as the float one within 1 pt on the 1k slice
    const e = await lib.evaluate(out, { data: NPZ });
    const f = await lib.evaluate(MODEL, { data: NPZ });
    expect(e.top1!).toBeGreaterThan(f.top1! - 0.01);
    expect(e.top1!).toBeLessThanOrEqual(1);
  });

  it('a typo in an option is one clear error, not a ZodError', async () => {
    await expect(lib.cluster(MODEL, { output: join(dir, 'c.onnx'), clusters: 300 })).rejects.toThrow(
      /^--clusters must be an integer from 2 to 256, not 300/,
    );
    await expect(
      lib.slim(MODEL, { output: join(dir, 's.onnx'), sede: 1 } as unknown as lib.SlimOptions),
    ).rejects.toThrow(/unknown option sede/);
  });

  it('a transform that changes nothing says so', async () => {
    // the bundled CNN has no MatMul/Gemm big enough for low-rank factors at the default minimum
    const r = (await lib.decompose(MODEL, {
      output: join(dir, 'd.onnx'),
      rankRatio: 0.5,
      minElements: 1e9,
    })) as lib.TransformReport;
    expect(
      r.warnings.some((w) => /^decompose-svd changed 0 of \d+ weight tensors: .*below minElements/.test(w)),
    ).toBe(true);
  });
});

describe('core transforms with finetune: true (the browser app trains the same way)', () => {
  it('prune 90% then fine-tune on env.train recovers accuracy; without env.train one clear error', async () => {
    const mlp = new Uint8Array(readFileSync('test/fixtures/models/mlp-gemm.onnx'));
    const model = core.decodeModel(mlp);
    const train = await lib.openDataset(model, 'test/fixtures/models/fmnist-calib.npz');
    const opts = { sparsity: 0.9 } as const;
    const plain = (await core.prune(mlp, opts, env)) as core.BytesResult;
    const tuned = (await core.prune(
      mlp,
      { ...opts, finetune: true, epochs: 2, lr: 0.01 },
      { ...env, train },
    )) as core.BytesResult;
    const top1 = async (bytes: Uint8Array) => {
      const p = join(dir, `ft-${bytes.length}-${Math.random()}.onnx`);
      writeFileSync(p, bytes);
      return (await lib.evaluate(p, { data: NPZ, limit: 500 })).top1!;
    };
    const [a, b] = [await top1(plain.bytes), await top1(tuned.bytes)];
    expect(b).toBeGreaterThan(a + 0.05);
    expect((tuned.report as { finetune?: unknown }).finetune).toBeDefined();
    await expect(core.prune(mlp, { ...opts, finetune: true }, env)).rejects.toThrow(
      /finetune: true needs training data/,
    );
  }, 120_000);
});
