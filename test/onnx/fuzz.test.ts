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

const EXAMPLE = new Uint8Array(
  readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'fashion-mnist.onnx')),
);
const CASES = 400;

function mutate(rng: Rng, src: Uint8Array): Uint8Array {
  const kind = rng.int(3);
  if (kind === 0) {
    // flip 1..8 bits, biased to the first 4 KB where the graph structure lives
    const out = src.slice();
    for (let k = 1 + rng.int(8); k > 0; k--) {
      const at = rng.next() < 0.7 ? rng.int(Math.min(4096, out.length)) : rng.int(out.length);
      out[at]! ^= 1 << rng.int(8);
    }
    return out;
  }
  if (kind === 1) return src.slice(0, rng.int(src.length));
  // splice: copy a random run of bytes over another place
  const out = src.slice();
  const len = 1 + rng.int(64);
  const from = rng.int(out.length - len);
  const to = rng.int(out.length - len);
  out.copyWithin(to, from, from + len);
  return out;
}

describe('fuzz: mutated models give clean errors or successes', () => {
  it(`${CASES} seeded cases`, () => {
    const rng = new Rng(20261124);
    let ok = 0;
    let rejected = 0;
    for (let i = 0; i < CASES; i++) {
      const bytes = mutate(rng, EXAMPLE);
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
