// Low-rank decomposition at the state of the art (issue 10, part 5), through `edgefit decompose` (the
// library call, so exactly what the CLI writes):
//  (a) vgg-cnn.onnx and cnn-residual.onnx to MACs <= 0.6× of the model (--target-macs 0.6), Tucker-2
//      and spatial SVD: without data (ranks shared by the relative weight error, plain HOSVD+HOOI / SVD),
//      and with --calib (whitened SVD / data-aware Tucker-2, ranks shared by the measured sensitivity
//      of the model's outputs); plus uniform ranks (one --rank-ratio, the largest whose MACs fit) with
//      --calib, to show what per-layer ranks buy. Printed: the MACs and params ratios from
//      analysis/cost, top-1 on the 10k Fashion-MNIST test set before/after and the drop, ORT batch-1
//      latency (1 thread) before/after, and the time decompose took.
//  (b) lenet-300-100.onnx (and transformer.onnx, the small ViT): plain against whitened SVD at the same
//      ranks (--rank-ratio 0.05, 0.1, 0.2; ViT 0.25, 0.5): top-1 and params; and --target-params 0.15
//      (ViT 0.5) with and without --calib.
// Calibration: the 512 training images of test/fixtures/models/fmnist-calib.npz (all of them).
// Run: npx tsx bench/compose/lowrank.ts [--only vgg|resnet|lenet|vit] [--limit N (test images)] [--quick]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeCost } from '../../src/analysis/cost.js';
import { encodeModel } from '../../src/ir/serialize.js';
import { bench, type DecomposeOptions, decompose, loadModel, type TransformReport } from '../../src/node.js';
import { evaluate } from '../../src/pipeline/evaluate.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { fashionMnistTest } from '../fashion-mnist.js';

const CALIB = 'test/fixtures/models/fmnist-calib.npz';
const argv = process.argv.slice(2);
const opt = (flag: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};
const only = opt('--only');
const limit = opt('--limit') ? Number(opt('--limit')) : undefined;
const quick = argv.includes('--quick');
const dir = mkdtempSync(join(tmpdir(), 'edgefit-bench-lowrank-'));

interface Measured {
  macs: number;
  params: number;
  top1: number;
  latency: number;
}

async function measure(path: string, latency = true): Promise<Measured> {
  const model = loadModel(path);
  const cost = analyzeCost(model);
  const test = await fashionMnistTest(model, limit);
  const r = await evaluate(nodeRuntime, encodeModel(model), test, { batchSize: 500 });
  const lat = latency ? (await bench(path, { runs: quick ? 100 : 400, warmup: 40 })).latencyMs.median : 0;
  return { macs: cost.macs, params: cost.params, top1: r.top1!, latency: lat };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(3)}×`;

async function row(
  label: string,
  input: string,
  base: Measured,
  options: Omit<DecomposeOptions, 'output'>,
  latency = true,
): Promise<{ out: string; m: Measured; report: TransformReport }> {
  const out = join(dir, `${label.replace(/[^a-z0-9]+/gi, '-')}.onnx`);
  const t0 = performance.now();
  const report = (await decompose(input, { output: out, force: true, ...options })) as TransformReport;
  const seconds = (performance.now() - t0) / 1000;
  const m = await measure(out, latency);
  const stats = report.passes.find((p) => p.name === 'decompose-svd')?.stats ?? {};
  const kinds = ['linear', 'pointwise', 'spatial', 'tucker']
    .filter((k) => (stats[k] ?? 0) > 0)
    .map((k) => `${stats[k]} ${k}`)
    .join(', ');
  console.log(
    [
      label.padEnd(44),
      `MACs ${ratio(m.macs, base.macs)}`,
      `params ${ratio(m.params, base.params)}`,
      `top-1 ${pct(m.top1)} (${(100 * (m.top1 - base.top1)).toFixed(2)} pt)`,
      latency ? `batch-1 ${m.latency.toFixed(3)} ms (${(base.latency / m.latency).toFixed(2)}× faster)` : '',
      `${seconds.toFixed(1)} s`,
      `[${kinds}]`,
      ...report.warnings.map((w) => `warning: ${w}`),
    ]
      .filter(Boolean)
      .join('  '),
  );
  return { out, m, report };
}

/** The largest uniform rank ratio (0.05 steps) whose MACs fit the target, found with fast plain SVD. */
async function uniformRatio(input: string, conv: 'tucker' | 'spatial', base: Measured, target: number) {
  for (let r = 0.95; r > 0.04; r -= 0.05) {
    const out = join(dir, 'probe.onnx');
    await decompose(input, {
      output: out,
      force: true,
      rankRatio: Number(r.toFixed(2)),
      conv,
      method: 'svd',
    });
    if (analyzeCost(loadModel(out)).macs <= target * base.macs) return Number(r.toFixed(2));
  }
  return 0.05;
}

const CNNS = [
  { key: 'vgg', path: 'test/fixtures/models/vgg-cnn.onnx' },
  { key: 'resnet', path: 'test/fixtures/models/cnn-residual.onnx' },
];

for (const c of CNNS) {
  if (only && only !== c.key) continue;
  const base = await measure(c.path);
  console.log(
    `\n${c.path}: float top-1 ${pct(base.top1)} on ${limit ?? 10000} test images, ${(base.macs / 1e6).toFixed(2)}M MACs, ${base.params} params, ORT batch-1 ${base.latency.toFixed(3)} ms`,
  );
  for (const conv of ['tucker', 'spatial'] as const) {
    await row(`${conv}, --target-macs 0.6, no data`, c.path, base, { targetMacs: 0.6, conv, method: 'svd' });
    await row(`${conv}, --target-macs 0.6, --calib (whitened)`, c.path, base, {
      targetMacs: 0.6,
      conv,
      calib: CALIB,
      samples: 512,
    });
    const u = await uniformRatio(c.path, conv, base, 0.6);
    await row(`${conv}, uniform --rank-ratio ${u}, --calib`, c.path, base, {
      rankRatio: u,
      conv,
      calib: CALIB,
      samples: 512,
    });
  }
}

const MLPS = [
  { key: 'lenet', path: 'test/fixtures/models/lenet-300-100.onnx', ratios: [0.05, 0.1, 0.2], params: 0.15 },
  { key: 'vit', path: 'test/fixtures/models/transformer.onnx', ratios: [0.25, 0.5], params: 0.5 },
];

for (const c of MLPS) {
  if (only && only !== c.key) continue;
  const base = await measure(c.path, false);
  console.log(
    `\n${c.path}: float top-1 ${pct(base.top1)} on ${limit ?? 10000} test images, ${base.params} params; plain vs whitened SVD at the same ranks`,
  );
  const data = { calib: CALIB, samples: 512 };
  for (const r of c.ratios) {
    await row(`svd, --rank-ratio ${r}`, c.path, base, { rankRatio: r, method: 'svd' }, false);
    await row(
      `whitened, --rank-ratio ${r}, --calib`,
      c.path,
      base,
      { rankRatio: r, method: 'whitened', ...data },
      false,
    );
  }
  const t = c.params;
  await row(`svd, --target-params ${t}, no data`, c.path, base, { targetParams: t, method: 'svd' }, false);
  await row(`whitened, --target-params ${t}, --calib`, c.path, base, { targetParams: t, ...data }, false);
}
rmSync(dir, { recursive: true, force: true });
