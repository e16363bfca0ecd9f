// passes/cluster/codebook.ts: every stored form (uint8, opset-21 uint4, packed 4/2-bit with and
// without padding, one codebook or one per group of channels, float32 or int8 codebooks) runs in ONNX
// Runtime to exactly the weight expandCodebook gives, and readCodebook reads back what was written.
import { describe, expect, it } from 'vitest';
import type { Model } from '../../src/ir/graph.js';
import { verifyModel } from '../../src/ir/verify.js';
import { Rng } from '../../src/kernels/random.js';
import { DataType } from '../../src/onnx/dtype.js';
import {
  type Codebook,
  expandCodebook,
  readCodebook,
  writeCodebook,
} from '../../src/passes/cluster/codebook.js';
import { GraphBuilder, newModel, run, Tensor } from '../helpers/models.js';

/** y = Identity(expanded weight), a model whose only output is the expansion */
function expansionModel(opset: number, cb: Codebook): Model {
  const m = newModel({ '': opset }, opset >= 21 ? 10 : 8);
  const b = new GraphBuilder(m.graph);
  b.output(b.op('Identity', [writeCodebook(m.graph, 'w', cb)]));
  return m;
}

function codebookOf(
  dims: number[],
  k: number,
  bits: number,
  seed: number,
  groups?: { axis: number; size: number },
) {
  const r = new Rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  const g = groups ? Math.ceil(dims[groups.axis]! / groups.size) : 1;
  const values = Float32Array.from({ length: g * k }, () => r.normal());
  const cb: Codebook = {
    codebook: Tensor.fromFloat32('', groups ? [g, k] : [k], values),
    indices: Uint8Array.from({ length: n }, () => r.int(k)),
    dims,
    bits,
  };
  if (groups) Object.assign(cb, { groupAxis: groups.axis, groups: g, groupSize: groups.size });
  return cb;
}

const CASES: [string, number, Codebook][] = [
  ['uint8 [K], opset 17', 17, codebookOf([12, 7], 100, 8, 1)],
  ['uint4 initializer, opset 21', 21, codebookOf([5, 3, 3, 3], 16, 4, 2)],
  ['packed 4-bit, odd count, opset 13', 13, codebookOf([5, 3, 3, 3], 16, 4, 3)],
  ['packed 4-bit, even count, opset 10', 10, codebookOf([8, 6], 9, 4, 4)],
  ['packed 2-bit with padding, opset 17', 17, codebookOf([7, 5], 4, 2, 5)],
  ['1-bit in uint8 words, opset 17', 17, codebookOf([3, 7], 2, 1, 10)],
  ['3-bit in uint32 words (10 each), opset 13', 13, codebookOf([6, 7], 8, 3, 11)],
  ['5-bit in uint32 words, grouped, opset 17', 17, codebookOf([4, 9], 32, 5, 12, { axis: 0, size: 2 })],
  ['6-bit in uint32 words, opset 21', 21, codebookOf([11, 3], 64, 6, 13)],
  ['per channel axis 0, uint4', 21, codebookOf([6, 4, 3, 3], 16, 4, 6, { axis: 0, size: 1 })],
  [
    'groups of 4 on axis 1 (Gemm transB=0), packed 2-bit',
    17,
    codebookOf([9, 10], 3, 2, 7, { axis: 1, size: 4 }),
  ],
  ['groups of 3 on axis 0, uint8', 13, codebookOf([8, 5], 40, 8, 8, { axis: 0, size: 3 })],
];

describe('codebook encoding', () => {
  for (const [name, opset, cb] of CASES)
    it(`${name}: ORT expands to expandCodebook exactly; readCodebook round trip`, async () => {
      const m = expansionModel(opset, cb);
      expect(verifyModel(m)).toEqual([]);
      const expanded = expandCodebook(cb);
      const y = Object.values(await run(m, {}))[0]!;
      expect(y.dims).toEqual(cb.dims);
      expect([...(y.data as Float32Array)]).toEqual([...expanded]);
      const back = readCodebook(m.graph.outputs[0]!.producer!.inputs[0]!)!;
      expect(back).toBeDefined();
      expect(back.bits).toBe(cb.bits);
      expect(back.dims).toEqual(cb.dims);
      expect([...back.indices]).toEqual([...cb.indices]);
      expect(back.groupAxis).toBe(cb.groupAxis);
      expect(back.groups).toBe(cb.groups);
      expect([...back.codebook.toFloat32()]).toEqual([...cb.codebook.toFloat32()]);
      expect(back.nodes!.length).toBe(m.graph.nodes.length - 1); // all but the Identity
    });

  it('int8 codebook: Gather gives int8, the raw values expandCodebook returns', async () => {
    const cb = codebookOf([4, 6], 16, 4, 9, { axis: 0, size: 2 });
    cb.codebook = Tensor.fromTyped(
      '',
      DataType.INT8,
      [2, 16],
      Int8Array.from({ length: 32 }, (_, i) => i * 7 - 100),
    );
    const m = expansionModel(21, cb);
    const y = Object.values(await run(m, {}))[0]!;
    expect(y.dtype).toBe(DataType.INT8);
    expect(Array.from(y.data as Int8Array)).toEqual([...expandCodebook(cb)]);
    expect(readCodebook(m.graph.outputs[0]!.producer!.inputs[0]!)!.codebook.dtype).toBe(DataType.INT8);
  });

  it('bad codebooks: one line', () => {
    const m = newModel({ '': 9 });
    expect(() => writeCodebook(m.graph, 'w', codebookOf([4, 4], 16, 4, 1))).toThrow(/opset >= 10/);
    expect(() => writeCodebook(newModel().graph, 'w', codebookOf([4, 4], 100, 7, 1))).toThrow(/1 to 6, or 8/);
    expect(() => writeCodebook(newModel().graph, 'w', codebookOf([4, 4], 17, 4, 1))).toThrow(/do not fit/);
  });
});
