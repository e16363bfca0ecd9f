// The pieces behind the hostile-input cases, in-process: the glob matcher, the node count from the
// wire, the .npz cap, datasets with scalar inputs and checked labels, stale temp files, signal
// listeners only while a save runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bindArrays } from '../../src/data/dataset.js';
import type { NdArray } from '../../src/data/npy.js';
import { decodeNpz, encodeNpz } from '../../src/data/npz.js';
import { EdgefitError } from '../../src/errors.js';
import { decodeModel } from '../../src/ir/serialize.js';
import { loadModel, pendingTempFiles, removeStaleTemps, saveModelAsync } from '../../src/node/model-io.js';
import { countModelNodes } from '../../src/onnx/wire.js';
import { globMatch } from '../../src/passes/util.js';
import { chainModel, modelBytes, npzBomb, valueInfo } from '../helpers/hostile-models.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefit-units-'));
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'models');

function userError(f: () => unknown): EdgefitError {
  try {
    f();
  } catch (e) {
    if (e instanceof EdgefitError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('globMatch', () => {
  it('matches like a shell glob: * any run, ? one character, the rest literal', () => {
    const table: [string, string, boolean][] = [
      ['*', '', true],
      ['*', '/enc/Conv', true],
      ['/enc/*', '/enc/layer.0/Conv', true],
      ['/enc/*', '/dec/Conv', false],
      ['*Conv', '/a/Conv', true],
      ['*Conv', '/a/Conv_1', false],
      ['*Conv*', '/a/Conv_1', true],
      ['?', 'a', true],
      ['?', '', false],
      ['a?c', 'abc', true],
      ['a?c', 'ac', false],
      ['a.c', 'abc', false], // dots are literal
      ['a+(b)', 'a+(b)', true],
      ['**x', 'x', true],
      ['a*b*c', 'aXbYc', true],
      ['a*b*c', 'aXbYcZ', false],
    ];
    for (const [glob, name, want] of table) expect(globMatch(glob, name), `${glob} ~ ${name}`).toBe(want);
  });

  it('a*a*a*a*a*a*a*a*b against 100,000 a’s is instant (a backtracking regex never ends)', () => {
    const name = 'a'.repeat(100_000);
    const t0 = performance.now();
    expect(globMatch('a*a*a*a*a*a*a*a*b', name)).toBe(false);
    expect(globMatch('a*a*a*a*a*a*a*a*', name)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('node count from the wire', () => {
  it('counts main-graph and subgraph nodes without decoding', () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'if-branches.onnx')));
    const m = decodeModel(bytes);
    expect(countModelNodes(bytes)).toBe([...m.graph.allNodes()].length);
    expect(countModelNodes(chainModel(1234))).toBe(1234);
    expect(countModelNodes(Uint8Array.from([0x3a, 0xff, 0xff]))).toBeUndefined();
  });

  it('refuses a model past maxNodes before decoding it, and accepts it with no limit', () => {
    const bytes = chainModel(300_000);
    const t0 = performance.now();
    expect(userError(() => decodeModel(bytes)).message).toMatch(/has 300000 nodes, more than the 200000/);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(() => decodeModel(chainModel(50), { maxNodes: 10 })).toThrow(/has 50 nodes/);
    expect(decodeModel(chainModel(50), { maxNodes: 0 }).graph.nodes).toHaveLength(50);
  });
});

describe('.npz cap', () => {
  it('names the entry that passes the cap, before inflating anything', () => {
    const file = join(dir, 'bomb.npz');
    npzBomb(file, 'input', [1000, 1, 28, 28]); // 3.1 MB of zeros
    const bytes = new Uint8Array(readFileSync(file));
    expect(userError(() => decodeNpz(bytes, 'b.npz', { maxBytes: 1 << 20 })).message).toMatch(
      /^b\.npz entry 'input' brings the arrays to 2\.99 MiB uncompressed, past the 1\.00 MiB cap/,
    );
    expect(decodeNpz(bytes, 'b.npz').get('input')!.shape).toEqual([1000, 1, 28, 28]);
  });
});

const f32 = (shape: number[], fill = (i: number) => i): NdArray => ({
  dtype: 'float32',
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => fill(i)),
});

describe('datasets: scalar inputs, names, labels', () => {
  const scalar = decodeModel(
    modelBytes({
      inputs: [valueInfo('x', ['N', 4]), valueInfo('sr', [], 7)],
      outputs: [valueInfo('y', ['N', 4])],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    }),
  );
  const sr = (shape: number[], values: bigint[]): NdArray => ({
    dtype: 'int64',
    shape,
    data: BigInt64Array.from(values),
  });

  it('a 0-d array feeds a scalar input the same value in every batch', () => {
    const d = bindArrays(
      scalar,
      new Map([
        ['x', f32([5, 4])],
        ['sr', sr([], [16000n])],
      ]),
      'd.npz',
    );
    expect(d.size).toBe(5);
    expect(d.maxBatch).toBeUndefined();
    const feeds = d.slice(1, 4);
    expect(feeds.x!.dims).toEqual([3, 4]);
    expect(feeds.sr!.dims).toEqual([]);
    expect(Array.from(feeds.sr!.data as BigInt64Array)).toEqual([16000n]);
  });

  it('a 1-d array gives one value per sample: batches of one when the values differ', () => {
    const varying = bindArrays(
      scalar,
      new Map([
        ['x', f32([3, 4])],
        ['sr', sr([3], [8000n, 16000n, 16000n])],
      ]),
      'd.npz',
    );
    expect(varying.maxBatch).toBe(1);
    expect(Array.from(varying.slice(0, 1).sr!.data as BigInt64Array)).toEqual([8000n]);
    expect(Array.from(varying.slice(1, 3).sr!.data as BigInt64Array)).toEqual([16000n]); // equal: one run
    expect(userError(() => varying.slice(0, 2)).message).toMatch(
      /input "sr" is a scalar with different values in samples 0 to 1, which cannot run as one batch/,
    );
    const same = bindArrays(
      scalar,
      new Map([
        ['x', f32([2, 4])],
        ['sr', sr([2], [1n, 1n])],
      ]),
      'd.npz',
    );
    expect(same.maxBatch).toBeUndefined();
    expect(
      userError(() =>
        bindArrays(
          scalar,
          new Map([
            ['x', f32([2, 4])],
            ['sr', sr([3], [1n, 1n, 1n])],
          ]),
          'd.npz',
        ),
      ).message,
    ).toMatch(/different sample counts/);
  });

  it('a scalar input refuses a 2-d array', () => {
    expect(
      userError(() =>
        bindArrays(
          scalar,
          new Map([
            ['x', f32([2, 4])],
            ['sr', sr([2, 1], [1n, 1n])],
          ]),
          'd.npz',
        ),
      ).message,
    ).toMatch(/input "sr" expects int64 \[\]; the data has int64 \[2,1\] \(a scalar input\)/);
  });

  const classifier = decodeModel(
    modelBytes({ inputs: [valueInfo('x', ['N', 4])], outputs: [valueInfo('y', ['N', 3])] }),
  );
  const labels = (data: BigInt64Array | Int32Array | BigUint64Array): NdArray =>
    (data instanceof Int32Array
      ? { dtype: 'int32', shape: [data.length], data }
      : data instanceof BigInt64Array
        ? { dtype: 'int64', shape: [data.length], data }
        : { dtype: 'uint64', shape: [data.length], data }) as NdArray;
  const bind = (l: NdArray) =>
    bindArrays(
      classifier,
      new Map([
        ['x', f32([l.shape[0]!, 4])],
        ['labels', l],
      ]),
      'l.npz',
    );

  it('labels are int32 class ids below the class count: 2^32+3 is not 3, -1 and 3 are errors', () => {
    expect(Array.from(bind(labels(new BigInt64Array([0n, 2n, 1n]))).labels!)).toEqual([0, 2, 1]);
    expect(userError(() => bind(labels(new BigInt64Array([0n, 2n ** 32n + 3n])))).message).toMatch(
      /label 4294967299 of sample 1 is not a class id of a model with 3 classes \(labels must be integers from 0 to 2\)/,
    );
    expect(userError(() => bind(labels(new Int32Array([0, -1])))).message).toMatch(/label -1 of sample 1/);
    expect(userError(() => bind(labels(new Int32Array([3])))).message).toMatch(/label 3 of sample 0/);
    expect(userError(() => bind(labels(new BigUint64Array([2n ** 63n])))).message).toMatch(
      /label 9223372036854775808/,
    );
  });

  it('one array: its own name or arr_0 (np.savez positional), never another name', () => {
    const relu = decodeModel(
      modelBytes({ inputs: [valueInfo('x', ['N', 4])], outputs: [valueInfo('y', ['N', 4])] }),
    );
    expect(bindArrays(relu, new Map([['arr_0', f32([2, 4])]]), 'd.npz').size).toBe(2);
    expect(userError(() => bindArrays(relu, new Map([['foo', f32([2, 4])]]), 'd.npz')).message).toMatch(
      /d\.npz has no array for model input "x" \(it has: foo\) \(name the array "x"/,
    );
  });
});

describe('temp files', () => {
  it('removes stale temp files of dead processes, keeps live ones and other files', () => {
    const d = mkdtempSync(join(dir, 'stale-'));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const names = {
      stale: `m.onnx.tmp-${dead}-1764000000000`,
      live: `m.onnx.tmp-${process.pid}-1764000000000`,
      other: 'm.onnx.tmp-notapid-1',
      model: 'm.onnx',
    };
    for (const n of Object.values(names)) writeFileSync(join(d, n), 'x');
    expect(removeStaleTemps(d)).toEqual([names.stale]);
    for (const n of [names.live, names.other, names.model]) expect(existsSync(join(d, n))).toBe(true);
  });

  it('a save listens for SIGINT/SIGTERM only while it runs, and leaves no temp file', async () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const m = loadModel(join(FIXTURES, 'mlp-gemm.onnx'));
    const out = join(dir, 'saved.onnx');
    const saving = saveModelAsync(m, out);
    expect(process.listenerCount('SIGINT')).toBe(before[0]! + 1);
    await saving;
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
    expect(pendingTempFiles()).toEqual([]);
    expect(loadModel(out).graph.nodes).toHaveLength(m.graph.nodes.length);
  });
});

it('encodeNpz output reads back under the cap checks (local and central headers agree)', () => {
  const arrays = new Map<string, NdArray>([
    ['a', f32([3, 2])],
    ['b', f32([])],
  ]);
  expect(decodeNpz(encodeNpz(arrays))).toEqual(arrays);
});
