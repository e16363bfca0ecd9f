// edgefit search on trained Fashion-MNIST fixtures (issue 12's acceptance), printed side by side with
// a hand-written recipe of the kind that was the best found by hand:
//   - data: the search calibrates its data-aware candidates on 1,000 train images and judges on the
//     first 5,000 test images (see SEARCH below for why not train images)
//   - re-measured: top-1 of the chosen model on the 5,000 test images the search never saw, and on
//     the full 10k, against the fp32 model's
//   - a rerun of the same search (cache hits), the latency objective on the CNN (ORT batch 1)
// Run: npx tsx bench/search.ts [--quick] [--only=lenet|vgg]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  bench,
  evaluate,
  optimize,
  type SearchReport,
  SLIM_PASSES,
  search,
  type TransformReport,
} from '../src/node.js';
import { FM_PRE, FM_TEST, FM_TRAIN, fashionMnistNpz } from './fashion-mnist.js';

const TRAIN = FM_TRAIN;
const TEST = { ...FM_TEST, ...FM_PRE };
const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const dir = mkdtempSync(join(tmpdir(), 'edgefit-bench-search-'));

const npzOf = (idx: { data: string; labels: string }, from: number, to: number, name: string) =>
  fashionMnistNpz(idx, from, to, join(dir, `${name}.npz`));

// the search calibrates on 1,000 train images and judges on the first 5,000 test images (one paired
// standard error of a drop is ~0.3 pt there, ~0.7 pt on 1,000); the fixtures were trained on all 60k
// train images, so judging on train images would understate every drop (the model is more confident
// on what it saw). The chosen model is re-measured on the 5,000 test images the search never saw and
// on the full 10k.
const SEARCH = {
  data: npzOf(TEST, 0, 5000, 'judge-5k'),
  calib: npzOf(TRAIN, 0, 1000, 'calib-1k'),
};
const HELD = npzOf(TEST, 5000, 10000, 'held-out-5k');

interface HandRecipe {
  label: string;
  steps: { pass: string; options?: Record<string, unknown>; nodes?: string[] }[];
}

const MODELS: { key: string; path: string; target: number; hand: HandRecipe }[] = [
  {
    key: 'lenet',
    path: 'test/fixtures/models/lenet-300-100.onnx',
    target: 30,
    hand: {
      label: 'low-rank fc1 0.15, fc2 0.3 + int4 GPTQ (the best recipe found by hand, issue 10)',
      steps: [
        { pass: 'decompose-svd', options: { rankRatio: 0.15, minElements: 0 }, nodes: ['/net/net.1/Gemm'] },
        { pass: 'decompose-svd', options: { rankRatio: 0.3, minElements: 0 }, nodes: ['/net/net.3/Gemm'] },
        { pass: 'quantize-weight-int4', options: { algorithm: 'gptq' } },
      ],
    },
  },
  {
    key: 'vgg',
    path: 'test/fixtures/models/vgg-cnn.onnx',
    target: 25,
    hand: {
      label: 'conv codebooks K=8 + low-rank fc1 0.15 + int4 GPTQ',
      steps: [
        { pass: 'cluster-weights', options: { clusters: 8, minElements: 0 }, nodes: ['Conv'] },
        {
          pass: 'decompose-svd',
          options: { rankRatio: 0.15, minElements: 0 },
          nodes: ['/classifier/classifier.0/Gemm'],
        },
        { pass: 'quantize-weight-int4', options: { algorithm: 'gptq' } },
      ],
    },
  },
];

const pct = (x: number | undefined) => `${(100 * (x ?? 0)).toFixed(2)}%`;

async function top1(path: string): Promise<{ held: number; full: number }> {
  const held = (await evaluate(path, { data: HELD, batchSize: 256 })).top1!;
  const full = (await evaluate(path, { ...TEST, batchSize: 256 })).top1!;
  return { held, full };
}

const drop = (a: { held: number; full: number }, b: { held: number; full: number }) =>
  `${(100 * (a.held - b.held)).toFixed(2)} pt below fp32 on the 5k held-out test images, ${(100 * (a.full - b.full)).toFixed(2)} pt on the full 10k`;

for (const m of MODELS) {
  if (only && only !== m.key) continue;
  const fp32 = await top1(m.path);
  const cache = join(dir, `${m.key}-cache`);
  const out = join(dir, `${m.key}-search.onnx`);
  const t0 = performance.now();
  const r = (await search(m.path, {
    ...SEARCH,
    output: out,
    maxDrop: 1,
    objective: 'size',
    cache,
    timeBudget: 15,
    maxEvaluations: quick ? 80 : 400,
  })) as SearchReport;
  const seconds = (performance.now() - t0) / 1000;
  const test = await top1(out);
  const ratio = r.baseline.brotliBytes / r.chosen.metrics.brotliBytes;
  console.log(
    `\n== ${m.key} (${m.path}): fp32 top-1 ${pct(fp32.held)} held-out 5k, ${pct(fp32.full)} full 10k`,
  );
  console.log(
    `search: ${r.evaluations.total} candidates (${r.evaluations.cached} cached) in ${seconds.toFixed(0)} s, front ${r.front.length} points`,
  );
  console.log(`  chosen: ${r.chosen.label}`);
  console.log(
    `  brotli ${r.baseline.brotliBytes} -> ${r.chosen.metrics.brotliBytes} bytes = ${ratio.toFixed(1)}x (target >= ${m.target}x); top-1 on the 5k judging test images ${pct(r.chosen.metrics.accuracy)} (-${r.chosen.metrics.dropPt.toFixed(2)} pt, margin ${r.chosen.metrics.dropMarginPt?.toFixed(2)} pt); ${seconds.toFixed(0)} s, front ${r.front.length} points`,
  );
  console.log(`  re-measured: ${pct(test.held)} / ${pct(test.full)} = ${drop(fp32, test)} (budget 1.0)`);

  // the hand recipe, applied the same way (its own slim first)
  const recipe = join(dir, `${m.key}-hand.yaml`);
  writeFileSync(
    recipe,
    stringify([
      ...SLIM_PASSES.map((pass) => ({ pass })),
      ...m.hand.steps,
      { pass: 'dead-code' },
      { pass: 'topological-sort' },
    ]),
  );
  const handOut = join(dir, `${m.key}-hand.onnx`);
  const h = (await optimize(m.path, {
    output: handOut,
    recipe,
    calib: SEARCH.calib,
  })) as TransformReport;
  const handTest = await top1(handOut);
  console.log(
    `hand: ${m.hand.label}\n  brotli ${h.before.brotliBytes} -> ${h.after.brotliBytes} bytes = ${(h.before.brotliBytes / h.after.brotliBytes).toFixed(1)}x; top-1 ${pct(handTest.held)} / ${pct(handTest.full)} = ${drop(fp32, handTest)}`,
  );

  const t1 = performance.now();
  const again = (await search(m.path, {
    ...SEARCH,
    output: join(dir, `${m.key}-again.onnx`),
    maxDrop: 1,
    cache,
    maxEvaluations: quick ? 80 : 400,
  })) as SearchReport;
  console.log(
    `rerun: ${again.evaluations.cached} of ${again.evaluations.total} evaluations from the cache (${((100 * again.evaluations.cached) / again.evaluations.total).toFixed(0)}%), ${((performance.now() - t1) / 1000).toFixed(1)} s`,
  );

  if (m.key === 'vgg') {
    const lat = (await search(m.path, {
      ...SEARCH,
      output: join(dir, 'vgg-latency.onnx'),
      maxDrop: 1,
      objective: 'latency',
      cache,
      maxEvaluations: quick ? 40 : 120,
    })) as SearchReport;
    const before = await bench(m.path, { runs: 300, warmup: 30 });
    const after = await bench(join(dir, 'vgg-latency.onnx'), { runs: 300, warmup: 30 });
    const latTest = await top1(join(dir, 'vgg-latency.onnx'));
    console.log(
      `latency objective: ${lat.chosen.label}; ORT batch 1: ${before.latencyMs.median} -> ${after.latencyMs.median} ms = ${(before.latencyMs.median / after.latencyMs.median).toFixed(2)}x faster (target >= 2x); top-1 ${drop(fp32, latTest)}`,
    );
  }
}
rmSync(dir, { recursive: true, force: true });
