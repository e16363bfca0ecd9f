// Every pass option is self-describing (help text, explicit ranges), recipe keys equal the CLI flag
// names, and the values a search tries are valid options.
import { describe, expect, it } from 'vitest';
import { findPass, PASSES } from '../../src/passes/registry.js';

const pass = (id: string) => {
  const p = findPass(id);
  if (!p) throw new Error(`no pass ${id}`);
  return p;
};
const valid = (id: string, options: Record<string, unknown>) => pass(id).options.safeParse(options).success;

describe('pass options', () => {
  it('every option of every pass has one line of help text', () => {
    const missing: string[] = [];
    for (const p of PASSES)
      for (const [key, schema] of Object.entries(p.options.shape)) {
        const text = (schema as { description?: string }).description;
        if (!text || text.includes('\n')) missing.push(`${p.id}.${key}`);
      }
    expect(missing).toEqual([]);
    expect(PASSES.flatMap((p) => Object.keys(p.options.shape)).length).toBeGreaterThan(40);
    expect(pass('quantize-weight-int4').options.shape.blockSize.description).toMatch(/power of 2/);
  });

  it('every search value is a valid option', () => {
    for (const p of PASSES)
      for (const [key, values] of Object.entries(p.searchSpace ?? {}))
        for (const v of values as unknown[])
          expect(p.options.safeParse({ [key]: v }).success, `${p.id}.${key} = ${String(v)}`).toBe(true);
  });

  it('keys are the CLI flag names: the old keys are rejected, the new ones read', () => {
    expect(valid('quantize-static-int8', { calibration: 'entropy' })).toBe(false);
    expect(valid('quantize-static-int8', { perChannel: false })).toBe(false);
    expect(pass('quantize-static-int8').options.parse({ method: 'entropy', perTensor: true })).toMatchObject({
      method: 'entropy',
      perTensor: true,
    });
    for (const id of ['quantize-static-int8', 'quantize-dynamic-int8', 'quantize-weight-int8']) {
      expect(pass(id).options.parse({}).perTensor, id).toBe(false);
      expect(valid(id, { perChannel: true }), id).toBe(false);
    }
    expect(valid('quantize-fp16', { blockNodes: ['a'] })).toBe(false);
    expect(pass('quantize-fp16').options.parse({ exclude: ['/enc/*'] }).exclude).toEqual(['/enc/*']);
    for (const id of ['quantize-weight-int8', 'quantize-weight-int4']) {
      expect(pass(id).options.parse({}).conv, id).toBe(false);
      expect(valid(id, { conv: true }), id).toBe(true);
      expect(valid(id, { conv: 'dq' }) || valid(id, { conv: 'int4' }), id).toBe(false);
    }
  });

  it.each([
    ['cluster-weights', 'clusters', [2, 256], [1, 257, 4.5]],
    ['prune-weights', 'sparsity', [0, 0.99], [-0.1, 1]],
    ['prune-weights', 'samples', [1, 100000], [0, 100001, 2.5]],
    ['prune-channels', 'roundTo', [1, 16, 1024], [0, 1025, 1.5]],
    ['decompose-svd', 'rankRatio', [0.01, 1], [0, 1.01]],
    ['quantize-static-int8', 'percentile', [90, 100], [89.9, 100.1]],
    ['quantize-static-int8', 'samples', [1, 100000], [0, 100001]],
    ['quantize-weight-int4', 'blockSize', [16, 32, 128, 256], [8, 24, 512]],
    ['quantize-weight-int4', 'accuracyLevel', [0, 4], [-1, 5, 1.5]],
    ['quantize-weight-int8', 'minElements', [0, 4096], [-1, 0.5]],
    ['smooth-quant', 'alpha', [0, 0.5, 1], [-0.1, 1.1]],
  ] as const)('%s.%s accepts %j and rejects %j', (id, key, good, bad) => {
    for (const v of good) expect(valid(id, { [key]: v }), `${key} = ${v}`).toBe(true);
    for (const v of bad) expect(valid(id, { [key]: v }), `${key} = ${v}`).toBe(false);
  });
});
