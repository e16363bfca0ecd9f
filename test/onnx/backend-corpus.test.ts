// The ONNX backend test corpus (Debian libonnx-testdata, ~1,070 models): every model decodes,
// verifies and re-encodes to an equivalent proto; every model ONNX Runtime runs gives bit-identical
// outputs before and after the round trip.
import { describe, expect, it } from 'vitest';
import { nodeRuntime } from '../../src/runtime/node.js';
import { checkCase, listCorpus } from '../corpus/backend.js';

const cases = listCorpus();

describe.skipIf(cases.length === 0)('ONNX backend test corpus round trip', () => {
  it(`all ${cases.length} models round-trip`, async () => {
    const failed: string[] = [];
    let identical = 0;
    for (const c of cases) {
      const r = await checkCase(c, nodeRuntime);
      if (r.status === 'failed') failed.push(`${c.suite}/${c.name}: ${r.why}`);
      if (r.status === 'identical') identical++;
    }
    expect(failed).toEqual([]);
    expect(cases.length).toBeGreaterThan(1000);
    // ONNX Runtime 1.30 runs 980 of the 1,072 models of Debian's libonnx-testdata
    expect(identical).toBeGreaterThan(950);
  });
});
