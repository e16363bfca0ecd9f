// Quantization acceptance: every mode on the bundled model and the fixtures, through the CLI, with
// accuracy on the full 10k Fashion-MNIST test set, batch-1 single-thread latency, file sizes, and the
// kernels ONNX Runtime really runs. Run: npx tsx bench/quantize.ts [--quick]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesizeInputs } from '../src/data/synthetic.js';
import { openDataset } from '../src/node/data-files.js';
import { loadModel } from '../src/node/model-io.js';
import { benchmark } from '../src/pipeline/benchmark.js';
import { evaluate } from '../src/pipeline/evaluate.js';
import { nodeRuntime } from '../src/runtime/node.js';
import { webRuntime } from '../src/runtime/web.js';
import { fashionMnistTest } from './fashion-mnist.js';

const quick = process.argv.includes('--quick');
// --only static,depthwise,fp16,int4,maxdrop runs some sections
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const want = (section: string) => !onlyArg || onlyArg.slice(7).split(',').includes(section);
const M = 'test/fixtures/models';
const CALIB = `${M}/fmnist-calib.npz`;
const out = mkdtempSync(join(tmpdir(), 'edgefit-qbench-'));
const CLI = 'dist/cli/main.js';

const fixtures: Record<string, string> = {
  'fashion-mnist (bundled)': 'examples/fashion-mnist.onnx',
  'cnn-residual': `${M}/cnn-residual.onnx`,
  'cnn-wide': `${M}/cnn-wide.onnx`,
  'depthwise-net': `${M}/depthwise-net.onnx`,
  transformer: `${M}/transformer.onnx`,
  'mlp-gemm': `${M}/mlp-gemm.onnx`,
};

function quantize(model: string, name: string, args: string[]): Record<string, unknown> {
  const dst = join(out, `${name}.onnx`);
  const r = spawnSync(process.execPath, [CLI, 'quantize', model, '-o', dst, '--force', '--json', ...args], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`quantize ${name} ${args.join(' ')}: ${r.stderr}`);
  return { ...JSON.parse(r.stdout), path: dst, warnings: r.stderr.trim() };
}

async function top1(model: string): Promise<number> {
  const m = loadModel(model);
  const data = await fashionMnistTest(m, quick ? 2000 : undefined);
  return 100 * (await evaluate(nodeRuntime, model, data, { batchSize: 100 })).top1!;
}

async function latency(model: string): Promise<number> {
  const feeds = synthesizeInputs(loadModel(model), { batch: 1 });
  const runs: number[] = [];
  for (let i = 0; i < 3; i++)
    runs.push(
      (await benchmark(nodeRuntime, model, feeds, { runs: quick ? 100 : 400, warmup: 30 })).latencyMs.median,
    );
  return runs.sort((a, b) => a - b)[1]!;
}

/** `quantized` against its float `reference` on the 1k slice of examples/ (agreement, SQNR). */
async function fidelity(quantized: string, reference: string, runtime: 'node' | 'web' = 'node') {
  const data = await openDataset(loadModel(reference), 'examples/fashion-mnist-1k.npz');
  if (runtime === 'node') return evaluate(nodeRuntime, quantized, data, { reference });
  // onnxruntime-web takes bytes (a string is a URL to it)
  const bytes = (p: string) => new Uint8Array(readFileSync(p));
  return evaluate(webRuntime, bytes(quantized), data, { reference: bytes(reference) });
}

const size = (p: string) => readFileSync(p).length;
const pct = (x: number) => `${x.toFixed(2)}%`;

if (want('static'))
  console.log(`# static int8 (uint8 activations, int8 per-channel weights, minmax, calibration ${CALIB})`);
for (const [name, model] of want('static') ? Object.entries(fixtures) : []) {
  if (!existsSync(model)) continue;
  const q = quantize(model, `${name}-static`, ['--mode', 'static', '--calib', CALIB]);
  const [f1, q1] = [await top1(model), await top1(q.path as string)];
  const [lf, lq] = [await latency(model), await latency(q.path as string)];
  const k = q.kernels as Record<string, number>;
  const qdq = (k.QuantizeLinear ?? 0) + (k.DequantizeLinear ?? 0);
  console.log(
    `${name}: file ${(size(model) / size(q.path as string)).toFixed(2)}x smaller; top-1 ${pct(f1)} -> ${pct(q1)} (drop ${(f1 - q1).toFixed(2)} pt); latency ${lf.toFixed(3)} -> ${lq.toFixed(3)} ms (${(lf / lq).toFixed(2)}x)`,
  );
  console.log(
    `  ORT kernels: ${Object.entries(k)
      .map(([a, b]) => `${a} ${b}`)
      .join(
        ', ',
      )}; int8 nodes ${(q.int8Nodes as string[]).length}, float compute nodes ${(q.floatNodes as string[]).length}, Q/DQ kernels left ${qdq}`,
  );
}

console.log('\n# depthwise net: static int8, per-tensor weights, with and without CLE + bias correction');
if (want('depthwise')) {
  const model = fixtures['depthwise-net']!;
  const base = await top1(model);
  for (const extra of [[], ['--cle', '--bias-correction']] as string[][]) {
    for (const gran of [['--per-tensor'], []]) {
      const q = quantize(model, `dw-${extra.length}-${gran.length}`, [
        '--mode',
        'static',
        '--calib',
        CALIB,
        ...gran,
        ...extra,
      ]);
      const t = await top1(q.path as string);
      console.log(
        `  ${gran.length ? 'per-tensor ' : 'per-channel'} ${extra.length ? 'CLE + bias correction' : 'plain                '}: top-1 ${pct(t)} (float ${pct(base)}, drop ${(base - t).toFixed(2)} pt)`,
      );
    }
  }
}

console.log('\n# fp16');
for (const [name, model] of want('fp16') ? Object.entries(fixtures) : []) {
  if (!existsSync(model)) continue;
  let q: Record<string, unknown>;
  try {
    q = quantize(model, `${name}-fp16`, ['--mode', 'fp16']);
  } catch (e) {
    console.log(`${name}: ${(e as Error).message.split('\n')[0]}`);
    continue;
  }
  const r = await fidelity(q.path as string, model);
  const web = await fidelity(q.path as string, model, 'web');
  console.log(
    `${name}: file ${(size(q.path as string) / size(model)).toFixed(3)}x; agreement node ${pct(100 * r.agreement!)}, web ${pct(100 * web.agreement!)}`,
  );
}

console.log('\n# weight-int4 (MatMulNBits, block 32) and weight-int8');
for (const name of want('int4') ? ['mlp-gemm', 'transformer'] : []) {
  const model = fixtures[name]!;
  for (const args of [
    ['--mode', 'weight-int4'],
    ['--mode', 'weight-int4', '--algorithm', 'gptq', '--calib', CALIB],
    ['--mode', 'weight-int8'],
  ]) {
    let q: Record<string, unknown>;
    try {
      q = quantize(model, `${name}-${args.join('').replace(/[^a-z0-9-]/gi, '')}`, args);
    } catch (e) {
      console.log(`${name} ${args.join(' ')}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    const r = await fidelity(q.path as string, model);
    console.log(
      `${name} ${args.slice(1).join(' ')}: file ${(size(q.path as string) / size(model)).toFixed(3)}x of fp32; SQNR ${r.sqnr!.toFixed(2)} dB; agreement ${pct(100 * r.agreement!)}; kernels ${Object.entries(
        (q.kernels as Record<string, number>) ?? {},
      )
        .filter(([k]) => /MatMul|Gemm/.test(k))
        .map(([a, b]) => `${a} ${b}`)
        .join(', ')}`,
    );
  }
}

console.log('\n# --max-drop: transformer, static int8, budget 0.05 pt on the 1k test slice');
if (want('maxdrop')) {
  const q = quantize(fixtures.transformer!, 'tr-mixed', [
    '--mode',
    'static',
    '--calib',
    CALIB,
    '--data',
    'examples/fashion-mnist-1k.npz',
    '--max-drop',
    '0.05',
  ]);
  const m = q.mixedPrecision as {
    floatMetric: number;
    fullInt8Metric: number;
    quantizedMetric: number;
    met: boolean;
    floatLayers: { name: string; drop: number }[];
  };
  console.log(
    `  top-1 float ${pct(m.floatMetric)}, full int8 ${pct(m.fullInt8Metric)} (drop ${(m.floatMetric - m.fullInt8Metric).toFixed(2)} pt), result ${pct(m.quantizedMetric)} (drop ${(m.floatMetric - m.quantizedMetric).toFixed(2)} pt, budget met: ${m.met})`,
  );
  console.log(
    `  float layers: ${m.floatLayers.map((l) => `${l.name} (${l.drop.toFixed(2)} pt alone)`).join(', ')}`,
  );
}

rmSync(out, { recursive: true, force: true });
