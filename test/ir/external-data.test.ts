// External data on Node: saving weights beside the model (aligned offsets, the ModelProto read back
// with protobuf-es as the oracle), lazy loading, subfolder locations, every refusal (unsafe or
// missing locations, ranges past the file, lengths that do not match the shape, symlinks escaping
// the folder), and the guarantees of saving (input untouched, no overwrite without force, no
// temporary files left behind). ONNX Runtime, loading each file from its path, is the judge that the
// inline and external versions are the same model.

import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { afterAll, describe, expect, it } from 'vitest';
import { EdgefitError } from '../../src/errors.js';
import { GraphBuilder, newModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { Rng } from '../../src/kernels/random.js';
import { loadModel, saveModel } from '../../src/node/model-io.js';
import { DataType } from '../../src/onnx/dtype.js';
import {
  type ModelProto,
  ModelProtoSchema,
  type TensorProto,
  TensorProto_DataLocation,
} from '../../src/onnx/gen/onnx_pb.js';
import { nodeRuntime } from '../../src/runtime/node.js';

const FLOAT = DataType.FLOAT;
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'edgefit-extdata-'));
  dirs.push(d);
  return d;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * scale;
  return out;
}

/**
 * x[1,64] -> MatMul w1[64,300] (76.8 KB, 4096-aligned) -> Relu -> MatMul w2[300,32] (38.4 KB, 64-aligned)
 * -> Add b[32] (128 bytes: stays inline) -> y. Tensor byte lengths are not multiples of the alignment,
 * so the offsets after the first really need padding.
 */
function buildModel(): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: FLOAT, shape: [1, 64] });
  const w1 = b.weight('w1', Tensor.fromFloat32('w1', [64, 300], randomFloats(64 * 300, 1, 0.2)));
  const w2 = b.weight('w2', Tensor.fromFloat32('w2', [300, 32], randomFloats(300 * 32, 2, 0.1)));
  const bias = b.weight('b', Tensor.fromFloat32('b', [32], randomFloats(32, 3)));
  const h = b.op('Relu', [b.op('MatMul', [x, w1])]);
  const y = b.op('Add', [b.op('MatMul', [h, w2]), bias]);
  y.setType({ elemType: FLOAT, shape: [1, 32] });
  b.output(y);
  return m;
}

const INPUT = { x: { dtype: FLOAT, dims: [1, 64], data: randomFloats(64, 42) } };

async function runOrt(path: string): Promise<Float32Array> {
  const session = await nodeRuntime.createSession(path);
  try {
    const out = await session.run(INPUT);
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function readProto(path: string): ModelProto {
  return fromBinary(ModelProtoSchema, new Uint8Array(readFileSync(path)));
}

function initializer(p: ModelProto, name: string): TensorProto {
  const t = p.graph!.initializer.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t;
}

function externalEntries(t: TensorProto): Record<string, string> {
  return Object.fromEntries(t.externalData.map((e) => [e.key, e.value]));
}

function setExternal(t: TensorProto, entries: Record<string, string>): void {
  for (const e of t.externalData) if (entries[e.key] !== undefined) e.value = entries[e.key]!;
}

/** A folder holding model.onnx + model.onnx.data as saveModel writes them. */
function savedExternal(): { dir: string; path: string; data: string; model: Model } {
  const dir = tempDir();
  const path = join(dir, 'model.onnx');
  const model = buildModel();
  saveModel(model, path, { externalData: true });
  return { dir, path, data: `${path}.data`, model };
}

/** Rewrite model.onnx in `dir` after editing its proto. */
function rewrite(path: string, edit: (p: ModelProto) => void): void {
  const p = readProto(path);
  edit(p);
  writeFileSync(path, toBinary(ModelProtoSchema, p));
}

function expectEdgefitError(fn: () => unknown, code: string, ...mentions: string[]): EdgefitError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(EdgefitError);
  const err = caught as EdgefitError;
  expect(err.code).toBe(code);
  for (const m of mentions) expect(err.message).toContain(m);
  return err;
}

function tempLeftovers(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.includes('.tmp-'));
}

describe('saving with external data', () => {
  it('writes the .data file beside the model with aligned offsets, as ModelProto says', () => {
    const { dir, path, data, model } = savedExternal();
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'model.onnx.data']);
    const proto = readProto(path);
    const dataBytes = new Uint8Array(readFileSync(data));
    const ranges: [number, number][] = [];
    for (const name of ['w1', 'w2']) {
      const t = initializer(proto, name);
      expect(t.dataLocation).toBe(TensorProto_DataLocation.EXTERNAL);
      expect(t.rawData.length).toBe(0);
      const e = externalEntries(t);
      expect(e['location']).toBe('model.onnx.data');
      const offset = Number(e['offset']);
      const length = Number(e['length']);
      const original = model.graph.initializers.find((v) => v.name === name)!.initializer!;
      expect(length).toBe(original.byteLength);
      expect(offset % (length >= 65536 ? 4096 : 64)).toBe(0);
      expect(dataBytes.subarray(offset, offset + length)).toEqual(original.bytes());
      ranges.push([offset, offset + length]);
    }
    // w2 comes after w1 without overlapping; the file ends with the last tensor
    expect(ranges[1]![0]).toBeGreaterThanOrEqual(ranges[0]![1]);
    expect(ranges[1]![0]).toBeGreaterThan(0);
    expect(dataBytes.length).toBe(ranges[1]![1]);
    // the small bias stays inline
    const bias = initializer(proto, 'b');
    expect(bias.dataLocation).toBe(TensorProto_DataLocation.DEFAULT);
    expect(bias.externalData).toEqual([]);
    expect(bias.rawData.length).toBe(128);
  });

  it('returns where it wrote what', () => {
    const dir = tempDir();
    const path = join(dir, 'm.onnx');
    const r = saveModel(buildModel(), path, { externalData: true });
    expect(r.dataPath).toBe(join(dir, 'm.onnx.data'));
    expect(r.dataBytes).toBe(readFileSync(r.dataPath!).length);
    expect(r.bytes).toBe(readFileSync(path).length);
    const inline = saveModel(buildModel(), join(dir, 'inline.onnx'), { externalData: false });
    expect(inline.dataPath).toBeUndefined();
    expect(readdirSync(dir).sort()).toEqual(['inline.onnx', 'm.onnx', 'm.onnx.data']);
  });

  it('"auto" keeps a small model inline', () => {
    const dir = tempDir();
    saveModel(buildModel(), join(dir, 'auto.onnx'));
    expect(readdirSync(dir)).toEqual(['auto.onnx']);
    for (const t of readProto(join(dir, 'auto.onnx')).graph!.initializer)
      expect(t.dataLocation).toBe(TensorProto_DataLocation.DEFAULT);
  });
});

describe('loading external data', () => {
  it('resolves the data lazily, reading the file on each access', () => {
    const { path, data, model } = savedExternal();
    const loaded = loadModel(path);
    const w1 = loaded.graph.initializers.find((v) => v.name === 'w1')!.initializer!;
    expect(w1.isExternal).toBe(true);
    expect(w1.external).toMatchObject({ location: 'model.onnx.data', length: 64 * 300 * 4 });
    const original = model.graph.initializers.find((v) => v.name === 'w1')!.initializer!;
    expect(w1.bytes()).toEqual(original.bytes());
    expect(w1.toFloat32()).toEqual(original.toFloat32());
    // not cached: a change to the file after loading shows on the next read
    const offset = w1.external!.offset;
    const file = new Uint8Array(readFileSync(data));
    file.fill(0, offset, offset + 8);
    writeFileSync(data, file);
    expect(Array.from(w1.bytes().subarray(0, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(w1.materialize().isExternal).toBe(false);
    // the inline bias was decoded from the model file itself
    expect(loaded.graph.initializers.find((v) => v.name === 'b')!.initializer!.isExternal).toBe(false);
  });

  it('inline and external versions give identical ONNX Runtime outputs', async () => {
    const dir = tempDir();
    const model = buildModel();
    const inline = join(dir, 'inline.onnx');
    const external = join(dir, 'external.onnx');
    saveModel(model, inline, { externalData: false });
    saveModel(model, external, { externalData: true });
    // and a round trip: load the external model, save it inline and external again
    const reloaded = loadModel(external);
    const again = join(dir, 'again', 'again.onnx');
    mkdirSync(join(dir, 'again'));
    saveModel(reloaded, again, { externalData: true });
    const back = join(dir, 'back-inline.onnx');
    saveModel(reloaded, back, { externalData: false });
    expect(new Uint8Array(readFileSync(back))).toEqual(new Uint8Array(readFileSync(inline)));

    const a = await runOrt(inline);
    expect(a.length).toBe(32);
    expect(a.some((v) => v !== 0)).toBe(true);
    expect(await runOrt(external)).toEqual(a);
    expect(await runOrt(again)).toEqual(a);
  });

  it('follows a location in a subfolder (sub/w.bin)', async () => {
    const { dir, path, data } = savedExternal();
    const inlinePath = join(tempDir(), 'inline.onnx');
    saveModel(buildModel(), inlinePath, { externalData: false });
    mkdirSync(join(dir, 'sub'));
    renameSync(data, join(dir, 'sub', 'w.bin'));
    rewrite(path, (p) => {
      for (const t of p.graph!.initializer)
        if (t.externalData.length) setExternal(t, { location: 'sub/w.bin' });
    });
    const loaded = loadModel(path);
    const w2 = loaded.graph.initializers.find((v) => v.name === 'w2')!.initializer!;
    expect(w2.external?.location).toBe('sub/w.bin');
    const inlineModel = loadModel(inlinePath);
    expect(w2.bytes()).toEqual(
      inlineModel.graph.initializers.find((v) => v.name === 'w2')!.initializer!.bytes(),
    );
    expect(await runOrt(path)).toEqual(await runOrt(inlinePath));
    // saving it elsewhere gathers the data into the new model's own data file
    const outDir = tempDir();
    const out = join(outDir, 'copy.onnx');
    saveModel(loaded, out, { externalData: true });
    expect(readdirSync(outDir).sort()).toEqual(['copy.onnx', 'copy.onnx.data']);
    expect(await runOrt(out)).toEqual(await runOrt(inlinePath));
  });
});

describe('refusals', () => {
  it('a location with ..', () => {
    const { path } = savedExternal();
    rewrite(path, (p) => setExternal(initializer(p, 'w1'), { location: '../model.onnx.data' }));
    expectEdgefitError(() => loadModel(path), 'EXTERNAL_DATA', 'w1', '../model.onnx.data');
    rewrite(path, (p) => setExternal(initializer(p, 'w1'), { location: 'sub/../model.onnx.data' }));
    expectEdgefitError(() => loadModel(path), 'EXTERNAL_DATA', 'w1', 'sub/../model.onnx.data');
  });

  it('an absolute location', () => {
    const { path, data } = savedExternal();
    rewrite(path, (p) => setExternal(initializer(p, 'w2'), { location: data }));
    expectEdgefitError(() => loadModel(path), 'EXTERNAL_DATA', 'w2', data);
  });

  it('a missing external file', () => {
    const { path } = savedExternal();
    rewrite(path, (p) => setExternal(initializer(p, 'w1'), { location: 'nowhere.bin' }));
    expectEdgefitError(() => loadModel(path), 'EXTERNAL_DATA', 'nowhere.bin', 'missing');
  });

  it('offset + length past the end of the file', () => {
    const { path, data } = savedExternal();
    const size = readFileSync(data).length;
    rewrite(path, (p) => setExternal(initializer(p, 'w2'), { offset: String(size - 100) }));
    expectEdgefitError(() => loadModel(path), 'EXTERNAL_DATA', 'w2', 'model.onnx.data', 'past the end');
    // a data file truncated under the model
    const { path: path2, data: data2 } = savedExternal();
    truncateSync(data2, 1000);
    expectEdgefitError(() => loadModel(path2), 'EXTERNAL_DATA', 'w1', 'model.onnx.data', 'past the end');
  });

  it('a length that does not match the shape', () => {
    const { path } = savedExternal();
    rewrite(path, (p) => setExternal(initializer(p, 'w1'), { length: String(64 * 300 * 4 - 4) }));
    expectEdgefitError(
      () => loadModel(path),
      'EXTERNAL_DATA',
      'w1',
      String(64 * 300 * 4 - 4),
      String(64 * 300 * 4),
    );
  });

  it('a symlink in the model folder pointing outside it', () => {
    const { dir, path, data } = savedExternal();
    const outside = tempDir();
    const target = join(outside, 'stolen.bin');
    renameSync(data, target);
    symlinkSync(target, join(dir, 'link.bin'));
    rewrite(path, (p) => {
      for (const t of p.graph!.initializer)
        if (t.externalData.length) setExternal(t, { location: 'link.bin' });
    });
    expectEdgefitError(() => loadModel(path), 'EXTERNAL_DATA', 'link.bin', 'outside');
    // a symlinked folder escapes just the same
    const { dir: dir2, path: path2, data: data2 } = savedExternal();
    const outside2 = tempDir();
    renameSync(data2, join(outside2, 'w.bin'));
    symlinkSync(outside2, join(dir2, 'sub'));
    rewrite(path2, (p) => {
      for (const t of p.graph!.initializer)
        if (t.externalData.length) setExternal(t, { location: 'sub/w.bin' });
    });
    expectEdgefitError(() => loadModel(path2), 'EXTERNAL_DATA', 'sub/w.bin', 'outside');
  });

  it('a symlink that stays inside the folder is followed', () => {
    const { dir, path, data } = savedExternal();
    mkdirSync(join(dir, 'real'));
    renameSync(data, join(dir, 'real', 'w.bin'));
    symlinkSync(join(dir, 'real', 'w.bin'), join(dir, 'link.bin'));
    rewrite(path, (p) => {
      for (const t of p.graph!.initializer)
        if (t.externalData.length) setExternal(t, { location: 'link.bin' });
    });
    const loaded = loadModel(path);
    expect(loaded.graph.initializers.find((v) => v.name === 'w1')!.initializer!.bytes().length).toBe(
      64 * 300 * 4,
    );
  });
});

describe('saving is safe', () => {
  it('never modifies the input files', () => {
    const { dir, path, data } = savedExternal();
    const modelBefore = new Uint8Array(readFileSync(path));
    const dataBefore = new Uint8Array(readFileSync(data));
    const loaded = loadModel(path);
    const w1 = loaded.graph.initializers.find((v) => v.name === 'w1')!.initializer!;
    const w1Before = w1.bytes().slice();
    // an edit to a loaded tensor goes to the output only
    const w2 = loaded.graph.initializers.find((v) => v.name === 'w2')!.initializer!;
    w2.setData(new Uint8Array(w2.byteLength).fill(1));
    saveModel(loaded, join(dir, 'edited.onnx'), { externalData: true });
    saveModel(loaded, join(dir, 'edited-inline.onnx'), { externalData: false });
    expect(new Uint8Array(readFileSync(path))).toEqual(modelBefore);
    expect(new Uint8Array(readFileSync(data))).toEqual(dataBefore);
    expect(w1.bytes()).toEqual(w1Before);
    const edited = loadModel(join(dir, 'edited.onnx'));
    expect(edited.graph.initializers.find((v) => v.name === 'w2')!.initializer!.bytes()).toEqual(
      new Uint8Array(w2.byteLength).fill(1),
    );
    expect(tempLeftovers(dir)).toEqual([]);
  });

  it('refuses to overwrite an existing output without force', () => {
    const { dir, path, data } = savedExternal();
    const modelBefore = new Uint8Array(readFileSync(path));
    const dataBefore = new Uint8Array(readFileSync(data));
    const other = buildModel();
    other.graph.initializers[0]!.initializer!.setData(new Uint8Array(64 * 300 * 4));
    for (const externalData of [true, false, 'auto'] as const)
      expectEdgefitError(() => saveModel(other, path, { externalData }), 'IO', path, 'already exists');
    expect(new Uint8Array(readFileSync(path))).toEqual(modelBefore);
    expect(new Uint8Array(readFileSync(data))).toEqual(dataBefore);
    expect(tempLeftovers(dir)).toEqual([]);
    // a data file in the way is an existing output too
    rmSync(path);
    expectEdgefitError(() => saveModel(other, path, { externalData: true }), 'IO', data, 'already exists');
    expect(new Uint8Array(readFileSync(data))).toEqual(dataBefore);
    expect(readdirSync(dir)).toEqual(['model.onnx.data']);
    // with force it replaces both
    saveModel(other, path, { externalData: true, force: true });
    expect(new Uint8Array(readFileSync(data))).not.toEqual(dataBefore);
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'model.onnx.data']);
  });

  it('leaves no temporary files behind when saving fails', () => {
    const { dir, path, data } = savedExternal();
    const loaded = loadModel(path);
    truncateSync(data, 4096); // the data goes away under the loaded model
    const outDir = tempDir();
    for (const externalData of [true, false]) {
      const out = join(outDir, `out-${externalData}.onnx`);
      expectEdgefitError(() => saveModel(loaded, out, { externalData }), 'EXTERNAL_DATA', 'model.onnx.data');
      expect(readdirSync(outDir)).toEqual([]);
    }
    // saving over the input itself (force) fails the same way and keeps the old files
    const before = new Uint8Array(readFileSync(path));
    expectEdgefitError(() => saveModel(loaded, path, { externalData: true, force: true }), 'EXTERNAL_DATA');
    expect(new Uint8Array(readFileSync(path))).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'model.onnx.data']);
  });
});
