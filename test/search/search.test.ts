// edgefit search on a real trained MLP: the chosen model meets the budget on the data it was
// measured on, is much smaller, is what it claims (re-measured), a rerun comes from the cache, and an
// impossible budget still returns the front and the closest candidate.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NdArray } from '../../src/data/npy.js';
import { decodeNpz, encodeNpz } from '../../src/data/npz.js';
import { evaluate, paretoFront, search } from '../../src/node.js';

const MODEL = 'test/fixtures/models/mlp-gemm.onnx';
const DATA = 'test/fixtures/models/fmnist-calib.npz';
const dir = mkdtempSync(join(tmpdir(), 'edgefit-search-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** samples [a, b) of every array (axis 0) */
function sliceArrays(arrays: Map<string, NdArray>, a: number, b: number): Record<string, NdArray> {
  const out: Record<string, NdArray> = {};
  for (const [name, x] of arrays) {
    const per = x.shape.slice(1).reduce((p, d) => p * d, 1);
    out[name] = {
      ...x,
      shape: [b - a, ...x.shape.slice(1)],
      data: x.data.slice(a * per, b * per),
    } as NdArray;
  }
  return out;
}

const base = { data: DATA, limit: 200, maxDrop: 1, maxEvaluations: 24, cache: join(dir, 'cache') };

describe('edgefit search (MLP, size objective)', () => {
  it('finds a model within the budget, several times smaller, and writes it with its recipe', async () => {
    const out = join(dir, 'chosen.onnx');
    const r = await search(MODEL, { ...base, output: out });
    expect(r.schemaVersion).toBe(1);
    expect(r.chosen.met).toBe(true);
    expect(r.chosen.metrics.dropPt).toBeLessThanOrEqual(1 + 1e-9);
    expect(r.baseline.brotliBytes / r.chosen.metrics.brotliBytes).toBeGreaterThan(4);
    expect(r.front.length).toBeGreaterThanOrEqual(2);
    expect(r.front.some((c) => c.id === r.chosen.id)).toBe(true);
    expect(r.sensitivity.length).toBeGreaterThan(5);
    expect(existsSync(`${out}.recipe.yaml`)).toBe(true);
    // without --calib the first 50 of the 200 samples calibrate and the other 150 judge
    expect(r.data?.evaluation).toEqual({ source: `${DATA} [50, 200)`, samples: 150 });
    expect(r.data?.calibration).toEqual({ source: `${DATA} [0, 50)`, samples: 50 });
    // a candidate is feasible with one standard error of its drop to spare
    expect(r.chosen.metrics.dropPt + r.chosen.metrics.dropMarginPt!).toBeLessThanOrEqual(1 + 1e-9);
    expect(r.chosen.metrics.dropMarginPt).toBeGreaterThan(0);
    // the written model is what the search measured: re-measured on the judging samples
    const npz = join(dir, 'judged.npz');
    const all = decodeNpz(new Uint8Array(readFileSync(DATA)), DATA);
    writeFileSync(npz, encodeNpz(sliceArrays(all, 50, 200)));
    const e = await evaluate(out, { data: npz });
    expect(e.top1).toBeCloseTo(r.chosen.metrics.accuracy, 9);
  });

  it('a rerun takes its evaluations from the cache', async () => {
    const html = join(dir, 'report.html');
    const r = await search(MODEL, { ...base, output: join(dir, 'again.onnx'), report: html });
    expect(r.evaluations.cached / r.evaluations.total).toBeGreaterThanOrEqual(0.9);
    // --report writes the offline page of the same result: one point per candidate in the size plot
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect((page.match(/<circle/g) ?? []).length).toBeGreaterThanOrEqual(r.candidates.length);
  });

  it('an impossible budget still returns the front and names the closest candidate', async () => {
    const r = await search(MODEL, {
      ...base,
      maxEvaluations: 6,
      budget: 'flash=1KB',
      output: join(dir, 'x.onnx'),
    });
    expect(r.chosen.met).toBe(false);
    expect(r.warnings.join(' ')).toMatch(/no candidate met the budget.*closest/);
    expect(r.front.length).toBeGreaterThan(0);
  });

  it('data without labels needs --metric agreement', async () => {
    await expect(
      search(MODEL, {
        ...base,
        data: 'examples/fashion-mnist-1k.npz',
        labels: undefined,
        output: join(dir, 'y.onnx'),
        metric: 'top1',
        maxEvaluations: 2,
      }),
    ).resolves.toBeDefined(); // this file has labels: fine
    await expect(search(MODEL, { ...base, maxDrop: -1, output: join(dir, 'z.onnx') })).rejects.toThrow(
      /--max-drop must be a number from 0 to 100/,
    );
  });
});

describe('paretoFront', () => {
  it('keeps exactly the points no other point beats on both axes', () => {
    const pts = [
      { c: 1, a: 0.5 },
      { c: 2, a: 0.7 },
      { c: 3, a: 0.6 },
      { c: 4, a: 0.9 },
      { c: 4, a: 0.8 },
    ];
    expect(
      paretoFront(
        pts,
        (p) => p.c,
        (p) => p.a,
      ),
    ).toEqual([pts[0], pts[1], pts[3]]);
  });
});
