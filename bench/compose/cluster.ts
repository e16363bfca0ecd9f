// Clustering at the state of the art (issue 10, part 4 and the packed-index storage of part 2):
//  (a) exact 1-D k-means (DP) against scikit-learn's KMeans (defaults, n_init=1, best of --rounds seeds)
//      on 1M and 10M weights, `normal` N(0, 0.05) and `real` (the fixtures' trained weights, tiled), at
//      K = 16 and 256, side by side (bench/kmeans.ts compareKmeans); acceptance: DP error <= sklearn's
//  (b) LeNet-300-100 and the VGG-style CNN through `edgefit cluster` (library call): K = 16 / 8 / 4 per
//      tensor, per channel, per tensor with --compensate, per channel with --compensate (calibration:
//      the first 4096 (LeNet) or 1024 (CNN) training images of the Fashion-MNIST IDX files, preprocessed like the test set;
//      the 512 of fmnist-calib.npz are fewer than LeNet's 784 inputs, and GPTQ's H from them
//      compensates in directions the data never shows); top-1 on the 10k test set, raw and brotli
//      bytes and their ratios to the float file
//      (and K = 4 per tensor with --compensate --refit 2)
//  (c) prune 50% (magnitude) → cluster 16: sparsity before and after, distinct values, top-1
//  (d) ORT: session creation and batch-1 latency (1 thread) of the float model, cluster 16 with packed
//      indices and with --storage dense (packed indices are folded at load: inference at float speed)
// Run: npx tsx bench/compose/cluster.ts [--skip-kmeans] [--only lenet|vgg] [--rounds 1] [--sizes 1000000,10000000]

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../../src/data/dataset.js';
import {
  bench,
  type ClusterOptions,
  cluster,
  loadModel,
  prune,
  type TransformReport,
} from '../../src/node.js';
import { expandCodebook, readCodebook } from '../../src/passes/cluster/codebook.js';
import { constantOf } from '../../src/passes/util.js';
import { evaluate } from '../../src/pipeline/evaluate.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { FASHION_MNIST, fashionMnistTest } from '../fashion-mnist.js';
import { compareKmeans, normal, realSet } from '../kmeans.js';

const CALIB = {
  calib: `${FASHION_MNIST}/train-images-idx3-ubyte.gz`,
  scale: 1 / 255,
  mean: [0.286],
  std: [0.353],
};
/** calibration samples for --compensate: LeNet's fc1 has 784 inputs (its H needs many more rows than
 * that); the CNN's convs see 196–784 rows per image, and its time grows with the samples */
const MODELS = [
  { name: 'lenet', path: 'test/fixtures/models/lenet-300-100.onnx', samples: 4096 },
  { name: 'vgg', path: 'test/fixtures/models/vgg-cnn.onnx', samples: 1024 },
];

const argv = process.argv.slice(2);
const opt = (flag: string, def: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1]! : def;
};
const dir = mkdtempSync(join(tmpdir(), 'edgefit-bench-cluster-'));

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

let testSet: Dataset | undefined;

/** top-1 on the 10k test set (every fixture takes the same [batch, 1, 28, 28] input) */
async function top1(path: string): Promise<number> {
  testSet ??= await fashionMnistTest(loadModel(path));
  return (await evaluate(nodeRuntime, path, testSet, { batchSize: 500 })).top1!;
}

/** the effective weights of the clustered layers (codebooks expanded) and plain ones */
function layerWeights(path: string): Float32Array[] {
  const m = loadModel(path);
  return m.graph.nodes
    .filter((n) => n.opType === 'Gemm' || n.opType === 'Conv')
    .map((n) => {
      const cb = readCodebook(n.inputs[1]!);
      return cb ? expandCodebook(cb) : constantOf(n.inputs[1])!.toFloat32();
    });
}

async function partB(): Promise<void> {
  const only = opt('--only', '');
  for (const model of MODELS.filter((m) => !only || m.name === only)) {
    const base = await top1(model.path);
    const raw = readFileSync(model.path).length;
    const first = (await cluster(model.path, {
      output: join(dir, `${model.name}-probe.onnx`),
      clusters: 256,
      storage: 'dense',
    })) as TransformReport;
    const brotli0 = first.before.brotliBytes;
    console.log(`\n${model.name}: float top-1 ${pct(base)}, raw ${raw} B, brotli ${brotli0} B`);
    const data = { compensate: true, ...CALIB, limit: model.samples, samples: model.samples };
    const variants: { label: string; o: Partial<ClusterOptions>; k?: number }[] = [
      { label: 'per tensor', o: {} },
      { label: 'per channel', o: { granularity: 'channel' } },
      { label: 'per tensor + compensate', o: data },
      { label: 'per channel + compensate', o: { granularity: 'channel', ...data } },
      { label: 'per tensor + compensate + refit 2', o: { ...data, refit: 2 }, k: 4 },
    ];
    for (const k of [16, 8, 4])
      for (const v of variants.filter((x) => (x.k ?? k) === k)) {
        const out = join(dir, `${model.name}-${k}-${v.label.replace(/\W+/g, '-')}.onnx`);
        const t = performance.now();
        const r = (await cluster(model.path, { output: out, clusters: k, ...v.o })) as TransformReport;
        const s = (performance.now() - t) / 1000;
        const acc = await top1(out);
        const a = r.after;
        const stats = r.passes.find((p) => p.name === 'cluster-weights')?.stats ?? {};
        console.log(
          `  K=${k} ${v.label.padEnd(33)} top-1 ${pct(acc)} (${((acc - base) * 100).toFixed(2)} pt) | ` +
            `raw ${a.bytes} B (${(raw / a.bytes).toFixed(2)}x) | brotli ${a.brotliBytes} B (${(brotli0 / a.brotliBytes).toFixed(2)}x) | ` +
            `weight SQNR ${Number(stats.weightSqnrDb ?? 0).toFixed(2)} dB, ${stats.indexBits}-bit indices, ${s.toFixed(1)} s`,
        );
      }
    // (c) prune 50% → cluster 16
    const pruned = join(dir, `${model.name}-p50.onnx`);
    const pc = join(dir, `${model.name}-p50-c16.onnx`);
    await prune(model.path, { output: pruned, sparsity: 0.5 });
    const r = (await cluster(pruned, { output: pc, clusters: 16 })) as TransformReport;
    const [before, after] = [layerWeights(pruned), layerWeights(pc)];
    const parts = before.map((w, i) => {
      const q = after[i]!;
      let z0 = 0;
      let z1 = 0;
      let same = 0;
      for (let j = 0; j < w.length; j++) {
        if (w[j] === 0) z0++;
        if (q[j] === 0) z1++;
        if ((w[j] === 0) === (q[j] === 0)) same++;
      }
      return `${w.length}: zeros ${pct(z0 / w.length)} -> ${pct(z1 / w.length)}, ${new Set(q).size} values, mask kept ${same === w.length}`;
    });
    console.log(
      `  prune 50% -> cluster 16: top-1 ${pct(await top1(pruned))} -> ${pct(await top1(pc))}, ` +
        `raw ${r.after.bytes} B, brotli ${r.after.brotliBytes} B (${(brotli0 / r.after.brotliBytes).toFixed(2)}x)`,
    );
    for (const p of parts) console.log(`    layer of ${p}`);
  }
}

/** (d): session creation and batch-1 latency of float, packed codebook and dense storage */
async function partD(): Promise<void> {
  const only = opt('--only', '');
  for (const model of MODELS.filter((m) => !only || m.name === only)) {
    const packed = join(dir, `${model.name}-speed-packed.onnx`);
    const dense = join(dir, `${model.name}-speed-dense.onnx`);
    await cluster(model.path, { output: packed, clusters: 16 });
    await cluster(model.path, { output: dense, clusters: 16, storage: 'dense' });
    const row: string[] = [];
    for (const [label, path] of [
      ['float', model.path],
      ['cluster 16 packed', packed],
      ['cluster 16 dense', dense],
    ] as const) {
      const bytes = new Uint8Array(readFileSync(path));
      const t = performance.now();
      const s = await nodeRuntime.createSession(bytes, { threads: 1 });
      const load = performance.now() - t;
      await s.release();
      const b = await bench(path, { threads: 1, batch: 1, runs: 200, warmup: 20 });
      row.push(
        `${label}: load ${load.toFixed(1)} ms, median ${b.latencyMs.median} ms (p90 ${b.latencyMs.p90})`,
      );
    }
    console.log(`\n${model.name} ORT batch 1, 1 thread: ${row.join(' | ')}`);
  }
}

async function main(): Promise<void> {
  try {
    if (!argv.includes('--skip-kmeans')) {
      console.log('(a) exact 1-D k-means (DP) vs scikit-learn KMeans');
      const sizes = opt('--sizes', '1000000,10000000').split(',').map(Number);
      const rows = compareKmeans(
        [{ name: 'normal', make: (n) => normal(n, 3) }, realSet()],
        sizes,
        [16, 256],
        Number(opt('--rounds', '1')),
      );
      const worst = Math.max(...rows.map((r) => r.ratio));
      console.log(
        `worst error ratio edgefit / scikit-learn: ${worst.toFixed(4)} (acceptance <= 1: ${worst <= 1})`,
      );
    }
    if (!argv.includes('--skip-models')) {
      console.log('\n(b, c) fixtures through `edgefit cluster`');
      await partB();
    }
    if (!argv.includes('--skip-speed')) await partD();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
