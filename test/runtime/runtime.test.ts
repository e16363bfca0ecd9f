import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpz } from '../../src/data/npz.js';
import { cloneModel } from '../../src/ir/clone.js';
import { decodeModel, encodeModel } from '../../src/ir/serialize.js';
import { Rng } from '../../src/kernels/random.js';
import { deadCode } from '../../src/passes/cleanup/dead-code.js';
import { exposeValues } from '../../src/runtime/expose.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { webRuntime } from '../../src/runtime/web.js';
import { ROOT } from '../helpers/cli.js';

const MODEL = new Uint8Array(readFileSync(join(ROOT, 'examples', 'fashion-mnist.onnx')));
const data = decodeNpz(new Uint8Array(readFileSync(join(ROOT, 'examples', 'fashion-mnist-1k.npz'))));
const images = data.get('input')!.data as Float32Array;
const feeds = (n: number): Record<string, HostTensor> => ({
  input: { dtype: 1, dims: [n, 1, 28, 28], data: images.subarray(0, n * 784) },
});

describe('runtimes', () => {
  it('node and web (wasm) agree on the bundled model within 1e-5', async () => {
    const a = await nodeRuntime.createSession(MODEL);
    const b = await webRuntime.createSession(MODEL);
    const ra = (await a.run(feeds(64))).logits!.data as Float32Array;
    const rb = (await b.run(feeds(64))).logits!.data as Float32Array;
    await a.release();
    await b.release();
    expect(ra.length).toBe(640);
    let max = 0;
    for (let i = 0; i < ra.length; i++) max = Math.max(max, Math.abs(ra[i]! - rb[i]!));
    expect(max).toBeLessThan(1e-5);
  });

  it('an exposed intermediate equals the output of the sub-model cut at that value', async () => {
    const model = decodeModel(MODEL);
    for (const name of [
      '/features/features.3/Add_output_0',
      '/features/features.8/GlobalAveragePool_output_0',
    ]) {
      const exposed = exposeValues(model, [name]);
      const cut = cloneModel(model);
      const v = cut.graph.nodes.flatMap((n) => n.outputs).find((o) => o.name === name)!;
      cut.graph.outputs.splice(0, cut.graph.outputs.length, v);
      deadCode.apply(cut, {}, { log: { info() {}, warn() {} }, rng: new Rng(0), selects: () => true });
      expect(cut.graph.nodes.length).toBeLessThan(model.graph.nodes.length);
      const s1 = await nodeRuntime.createSession(encodeModel(exposed));
      const s2 = await nodeRuntime.createSession(encodeModel(cut));
      const x = (await s1.run(feeds(8)))[name]!;
      const y = (await s2.run(feeds(8)))[name]!;
      await s1.release();
      await s2.release();
      expect(x.dims).toEqual(y.dims);
      expect(Array.from(x.data as Float32Array)).toEqual(Array.from(y.data as Float32Array));
    }
  });

  it('session errors on bad bytes are one-line user errors', async () => {
    await expect(nodeRuntime.createSession(new Uint8Array([1, 2, 3]))).rejects.toThrow(
      /ONNX Runtime cannot load the model/,
    );
  });
});
