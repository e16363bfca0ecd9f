// Fuzzing real models in `npm test` (test/corpus/fuzz.ts): a fixed seed, mutations of every fixture
// model and the example (bit flips, truncations, splices, and edits of the decoded protobuf: dims,
// dtypes, attribute values, input names, op types, opsets, tensor data), each through decode ->
// verify -> inspect -> slim with the guard on. Every case is a success or a clean EdgefitError, none
// takes longer than the cap. bench/fuzz.ts runs more cases, and the cached real models too.
import { describe, expect, it } from 'vitest';
import { type FuzzCase, fuzzModelPaths, fuzzModels } from '../corpus/fuzz.js';

const CASES = 600;
const CAP_MS = 10_000;

/**
 * Bugs this fuzzer found in code another change owns: a case that crashes with one of these is
 * reported, not failed, and an entry no case hits any more fails the test (remove it: the fix landed).
 */
const KNOWN_BUGS: { pattern: RegExp; note: string }[] = [];

describe('fuzz: mutated real models end in a success or a clean error', () => {
  it(`${CASES} seeded cases, each under ${CAP_MS / 1000} s`, async () => {
    const summary = await fuzzModels(fuzzModelPaths(), {
      cases: CASES,
      seed: 20261201,
      caseTimeoutMs: CAP_MS,
    });
    const known = (c: FuzzCase) => KNOWN_BUGS.find((b) => b.pattern.test(c.error ?? ''));
    const crashes = summary.crashed.filter((c) => !known(c));
    for (const c of summary.crashed.filter(known))
      console.warn(`known bug (case ${c.index}, ${c.model}, ${c.mutation}): ${known(c)!.note}`);
    const fixed = KNOWN_BUGS.filter((b) => !summary.crashed.some((c) => b.pattern.test(c.error ?? '')));
    expect(fixed.map((b) => `no longer happens, remove it from KNOWN_BUGS: ${b.note}`)).toEqual([]);
    expect(
      crashes.map((c) => `case ${c.index} (${c.model}, ${c.mutation}) at ${c.stage}: ${c.error}`),
    ).toEqual([]);
    expect(summary.slow.map((c) => `case ${c.index} took ${c.ms.toFixed(0)} ms`)).toEqual([]);
    expect(summary.run).toBe(CASES);
    // every path exercised: clean rejections at decode and at verify, and models that slim
    expect(summary.handled).toBeGreaterThan(CASES / 4);
    expect(summary.ok).toBeGreaterThan(CASES / 10);
  });
});
