// Mutated models (bit flips, truncation, spliced bytes), a fixed number of seeded cases: decoding,
// verifying, analysing and re-encoding either succeed or throw a clean EdgefitError — never a crash,
// a hang or another exception type.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/analysis/inspect.js';
import { isEdgefitError } from '../../src/errors.js';
import { decodeModel, encodeModel } from '../../src/ir/serialize.js';
import { assertValid } from '../../src/ir/verify.js';
import { Rng } from '../../src/kernels/random.js';
import { mutateBytes } from '../corpus/fuzz.js';

const EXAMPLE = new Uint8Array(
  readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'fashion-mnist.onnx')),
);
const CASES = 400;

describe('fuzz: mutated models give clean errors or successes', () => {
  it(`${CASES} seeded cases`, () => {
    const rng = new Rng(20261124);
    let ok = 0;
    let rejected = 0;
    for (let i = 0; i < CASES; i++) {
      const { bytes } = mutateBytes(rng, EXAMPLE);
      try {
        const m = decodeModel(bytes);
        assertValid(m);
        inspectModel(m);
        encodeModel(m);
        ok++;
      } catch (e) {
        if (!isEdgefitError(e)) throw new Error(`case ${i}: not a clean error: ${(e as Error).stack}`);
        rejected++;
      }
    }
    expect(ok + rejected).toBe(CASES);
    // both paths must be exercised, or the fuzzer is not testing anything
    expect(ok).toBeGreaterThan(10);
    expect(rejected).toBeGreaterThan(10);
  });
});
