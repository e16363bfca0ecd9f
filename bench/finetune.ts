// Issue 11's figures for fine-tuning, on Fashion-MNIST (Debian's IDX files):
//  (a) one training step (SGD momentum, cross-entropy, batch 64, 1 thread) of the CNN fixtures in ONNX
//      Runtime vs PyTorch's CPU step on the same network (bench/torch_reference.py rebuilds it from the
//      ONNX weights), side by side: the two alternate in rounds, wall time and process CPU time per step
//  (c) the whole-model gradient of the ResNet fixture (cnn-residual; also the ViT) vs PyTorch autograd,
//      max relative error per tensor (max |ours - torch| / max |torch|)
//  (b) the MLP at 90% unstructured sparsity (edgefit prune), fine-tuned with its masks kept: top-1 on
//      the 10k test set beside the dense original, in a child process whose peak RSS is the training's
//
//  (d) Deep Compression on LeNet-300-100 (lenet-300-100.onnx, 89.71%): prune (magnitude per layer) →
//      fine-tune → cluster (K centroids per tensor, an exact 0 kept) → fine-tune (centroids, indices
//      fixed) → static int8 (int8 codebooks) → encode-sparse where it is smaller; the commands'
//      own --finetune, bytes, brotli, ratio vs the float file and top-1 on the 10k test set per stage
//  (e) QAT: static int8 of the CNN fixture (vgg-cnn, per channel) and of the depthwise net per tensor
//      (where post-training int8 collapses), post-training vs fine-tuned with its QDQ kept (the static
//      quantizer has no 4-bit weights: W4A8 is not available, said so)
//
//   npx tsx bench/finetune.ts [--only speed,grad,mlp,deep-compression,qat,channel-prune] [--rounds 8]
//     [--models cnn-residual,cnn-wide,transformer] [--grad-models cnn-residual,transformer] [--epochs 5]
//     [--sparsity 0.95] [--prune-method magnitude|sparsegpt] [--prune-epochs 3] [--prune-lr 2e-3]
//     [--clusters 16] [--cluster-epochs 2] [--cluster-lr 5e-4]
//     [--qat-models vgg-cnn,depthwise-net:per-tensor] [--qat-steps 300]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { decodeNpz, encodeNpz } from '../src/data/npz.js';
import type { HostTensor } from '../src/ir/host-tensor.js';
import { encodeModel } from '../src/ir/serialize.js';
import {
  bench,
  cluster,
  finetune,
  inspect,
  loadModel,
  nodeRuntime,
  openDataset,
  optimize,
  prune,
  quantize,
  type TransformReport,
} from '../src/node.js';
import { readCodebook } from '../src/passes/cluster/codebook.js';
import { nchwcBlockSize, toNchwc } from '../src/train/nchwc.js';
import { optimizerScalars } from '../src/train/optimizer.js';
import { buildStepGraph, type StepGraph } from '../src/train/step-graph.js';
import { accuracyOf, initialState } from '../src/train/trainer.js';
import { FASHION_MNIST, fashionMnistTest } from './fashion-mnist.js';
import { peakRss, runChild } from './measure.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const FIXTURES = 'test/fixtures/models';
const PYTHON = '/usr/bin/python3';
const TORCH = 'bench/torch_reference.py';
const B = 64;
const TRAIN = {
  data: `${FASHION_MNIST}/train-images-idx3-ubyte.gz`,
  labels: `${FASHION_MNIST}/train-labels-idx1-ubyte.gz`,
  scale: 0.00392156862745098,
  mean: [0.286],
  std: [0.353],
};

/** --train for the compression commands' --finetune, and the 10k test set as --val */
const TRAIN_FLAGS = {
  train: TRAIN.data,
  trainLabels: TRAIN.labels,
  scale: TRAIN.scale,
  mean: TRAIN.mean,
  std: TRAIN.std,
};
const TEST_FLAGS = {
  val: `${FASHION_MNIST}/t10k-images-idx3-ubyte.gz`,
  valLabels: `${FASHION_MNIST}/t10k-labels-idx1-ubyte.gz`,
};
const CALIB = `${FIXTURES}/fmnist-calib.npz`;

const median = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1]!;

/** The first 64 training images and labels, as feeds and as an .npz for the torch side. */
async function firstBatch(
  path: string,
  dir: string,
): Promise<{ x: HostTensor; labels: BigInt64Array; npz: string }> {
  const data = await openDataset(loadModel(path), TRAIN.data, { ...TRAIN, limit: B });
  const x = Object.values(data.slice(0, B))[0]!;
  const labels = BigInt64Array.from(data.labels!, (v) => BigInt(v));
  const npz = join(dir, 'batch.npz');
  writeFileSync(
    npz,
    encodeNpz({
      x: { dtype: 'float32', shape: x.dims, data: x.data as Float32Array },
      labels: { dtype: 'int64', shape: [B], data: labels },
    }),
  );
  return { x, labels, npz };
}

async function stepSession(path: string, gradients: boolean) {
  const block = await nchwcBlockSize(nodeRuntime);
  const step = buildStepGraph(loadModel(path), {
    batch: B,
    loss: { kind: 'ce' },
    optimizer: { kind: 'sgd', momentum: 0.9 },
    block,
    gradients,
  });
  if (block) toNchwc(step.model, block);
  const session = await nodeRuntime.createSession(encodeModel(step.model), { threads: 1 });
  return { step, session, block };
}

function feedsOf(step: StepGraph, batch: { x: HostTensor; labels: BigInt64Array }, withScalars: boolean) {
  const feeds: Record<string, HostTensor> = { [step.dataInputs[0]!.name]: batch.x };
  feeds[step.labels!] = { dtype: 7, dims: [B], data: batch.labels };
  if (withScalars)
    for (const [k, v] of Object.entries(optimizerScalars({ kind: 'sgd' }, 1, 0.01)))
      feeds[k] = { dtype: 1, dims: [], data: Float32Array.of(v) };
  for (const [k, v] of initialState(step)) feeds[k] = v;
  return feeds;
}

/** (a) ORT step vs torch step, alternating rounds of `per` steps each. */
async function speed(name: string, dir: string, rounds: number) {
  const path = `${FIXTURES}/${name}.onnx`;
  const batch = await firstBatch(path, dir);
  const { step, session, block } = await stepSession(path, false);
  const feeds = feedsOf(step, batch, true);
  const py = spawn(PYTHON, [TORCH, 'serve', path, batch.npz, '--batch', String(B), '--threads', '1'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  await lines.next();
  const torch = async (k: number) => {
    py.stdin.write(`${k}\n`);
    return JSON.parse((await lines.next()).value as string) as { stepMs: number[]; cpuMs: number[] };
  };
  const ort = async (k: number) => {
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < k; i++) {
      const [t, c] = [performance.now(), process.cpuUsage()];
      await session.run(feeds);
      const d = process.cpuUsage(c);
      wall.push(performance.now() - t);
      cpu.push((d.user + d.system) / 1000);
    }
    return { stepMs: wall, cpuMs: cpu };
  };
  await torch(3);
  await ort(3);
  const o = { stepMs: [] as number[], cpuMs: [] as number[] };
  const p = { stepMs: [] as number[], cpuMs: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const [a, b] = r % 2 ? [await torch(3), await ort(3)].reverse() : [await ort(3), await torch(3)];
    o.stepMs.push(...a!.stepMs);
    o.cpuMs.push(...a!.cpuMs);
    p.stepMs.push(...b!.stepMs);
    p.cpuMs.push(...b!.cpuMs);
  }
  py.stdin.write('\n');
  await session.release();
  const [ow, pw, oc, pc] = [median(o.stepMs), median(p.stepMs), median(o.cpuMs), median(p.cpuMs)];
  console.log(
    `(a) ${name}: one step, batch ${B}, 1 thread (${o.stepMs.length} steps each, alternating; NCHWc block ${block ?? 'none'})\n` +
      `    ONNX Runtime  wall ${ow.toFixed(1)} ms (min ${Math.min(...o.stepMs).toFixed(1)})  cpu ${oc.toFixed(1)} ms\n` +
      `    PyTorch 1.13  wall ${pw.toFixed(1)} ms (min ${Math.min(...p.stepMs).toFixed(1)})  cpu ${pc.toFixed(1)} ms\n` +
      `    ratio ORT/PyTorch: wall ${(ow / pw).toFixed(2)}x, cpu ${(oc / pc).toFixed(2)}x (target <= 1.5x)`,
  );
  return { model: name, ortWallMs: ow, torchWallMs: pw, ortCpuMs: oc, torchCpuMs: pc };
}

/** (c) gradients of every trained tensor vs torch autograd on the same batch. */
async function gradients(name: string, dir: string, verbose: boolean) {
  const path = `${FIXTURES}/${name}.onnx`;
  const batch = await firstBatch(path, dir);
  const { step, session } = await stepSession(path, true);
  const out = await session.run(feedsOf(step, batch, false));
  await session.release();
  const ref = join(dir, 'grads.npz');
  const r = spawn(PYTHON, [TORCH, 'grad', path, batch.npz, ref], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((res, rej) =>
    r.on('exit', (c) => (c === 0 ? res(c) : rej(new Error(`torch grad: ${c}`)))),
  );
  const torch = decodeNpz(new Uint8Array(readFileSync(ref)), ref);
  const rows: [string, number, number][] = [];
  for (const t of step.trained) {
    const ours = out[t.output]!.data as Float32Array;
    const theirs = torch.get(t.name)!.data as Float32Array;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < ours.length; i++) {
      diff = Math.max(diff, Math.abs(ours[i]! - theirs[i]!));
      scale = Math.max(scale, Math.abs(theirs[i]!));
    }
    rows.push([t.name, diff, scale]);
  }
  // a tensor whose true gradient is zero (attention key biases: softmax ignores a shift shared by all
  // keys) holds rounding noise on both sides: listed apart, with its absolute difference
  const top = Math.max(...rows.map((r) => r[2]));
  const zero = rows.filter((r) => r[2] < 1e-4 * top);
  const rel = rows.filter((r) => !zero.includes(r)).map(([n, d, sc]) => [n, d / sc] as [string, number]);
  const worst = rel.reduce((a, b) => (b[1] > a[1] ? b : a));
  const zeroText = zero.map(
    ([n, d, sc]) => `${n} (|torch| <= ${sc.toExponential(1)}, |diff| <= ${d.toExponential(1)})`,
  );
  const lossOrt = (out[step.loss]!.data as Float32Array)[0]!;
  const lossTorch = Number((torch.get('loss')!.data as Float64Array)[0]);
  console.log(
    `(c) ${name}: gradient of the cross-entropy on ${B} training images, ${rows.length} tensors vs PyTorch autograd\n` +
      `    loss ${lossOrt.toFixed(6)} (torch ${lossTorch.toFixed(6)}); max relative error ${worst[1].toExponential(2)} (${worst[0]}; target <= 1e-4)` +
      (zero.length
        ? `\n    zero true gradient (rounding noise on both sides; largest gradient ${top.toExponential(1)}): ${zeroText.join(', ')}`
        : '') +
      (verbose ? `\n${rel.map(([n, e]) => `      ${e.toExponential(2)}  ${n}`).join('\n')}` : ''),
  );
  return { maxRelError: worst[1], tensor: worst[0] };
}

/** (b), run in a child process: prune to 90%, fine-tune with masks, top-1 on the test set; peak RSS. */
async function mlpChild(dir: string, epochs: number) {
  const src = `${FIXTURES}/mlp-gemm.onnx`;
  const pruned = join(dir, 'mlp-90.onnx');
  const tuned = join(dir, 'mlp-90-ft.onnx');
  await prune(src, { output: pruned, sparsity: 0.9 });
  const before = peakRss().kib;
  const r = await finetune(pruned, {
    output: tuned,
    ...TRAIN,
    epochs,
    lr: 2e-3,
    optimizer: 'adamw',
    seed: 0,
  });
  const rss = peakRss().kib;
  const test = await fashionMnistTest(loadModel(src));
  const acc = async (p: string) => accuracyOf(nodeRuntime, loadModel(p), test);
  const zeros = loadModel(tuned)
    .graph.initializers.filter((v) => v.initializer!.dims.length === 2)
    .map((v) => v.initializer!.toFloat32().filter((x) => x === 0).length / v.initializer!.size);
  const training = r.training as Record<string, number>;
  console.log(
    JSON.stringify({
      dense: await acc(src),
      pruned: await acc(pruned),
      tuned: await acc(tuned),
      zeros,
      steps: training.steps,
      seconds: training.seconds,
      stepMs: training.stepMs,
      rssBeforeMiB: before / 1024,
      peakRssMiB: rss / 1024,
    }),
  );
}

interface FinetuneJson {
  training: { steps: number; seconds: number; trainedTensors: number; maskedTensors: number };
  accuracy: { original: number; before: number; after: number };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const pt = (x: number) => `${x > 0 ? '+' : x < 0 ? '-' : ''}${Math.abs(x).toFixed(2)} pt`;

/** One printed stage: sizes of the written file, top-1 on the test set. */
interface Stage {
  name: string;
  bytes: number;
  brotli: number;
  top1: number;
}

function stageTable(rows: Stage[], floatBrotli: number, floatTop1: number): string {
  const head =
    '    stage                                            bytes     brotli    ratio   top-1    vs float';
  const lines = rows.map(
    (r) =>
      `    ${r.name.padEnd(46)} ${String(r.bytes).padStart(8)} ${String(r.brotli).padStart(9)} ${`${(floatBrotli / r.brotli).toFixed(1)}x`.padStart(7)}  ${pct(r.top1).padStart(6)}  ${pt(100 * (r.top1 - floatTop1)).padStart(9)}`,
  );
  return [head, ...lines].join('\n');
}

/** (d) prune → FT → cluster → FT → static int8 → encode-sparse, the commands' own --finetune. */
async function deepCompression(dir: string) {
  const src = `${FIXTURES}/lenet-300-100.onnx`;
  const sparsity = Number(flag('sparsity', '0.95'));
  const k = Number(flag('clusters', '16'));
  const [e1, e2] = [Number(flag('prune-epochs', '3')), Number(flag('cluster-epochs', '2'))];
  const test = await fashionMnistTest(loadModel(src));
  const top1 = async (p: string) => accuracyOf(nodeRuntime, loadModel(p), test);
  const out = (name: string) => join(dir, `dc-${name}.onnx`);
  const ft = (epochs: number, lr: number) => ({
    finetune: true,
    ...TRAIN_FLAGS,
    ...TEST_FLAGS,
    epochs,
    lr,
    seed: 0,
  });
  const t0 = performance.now();
  const method = flag('prune-method', 'magnitude') as 'magnitude' | 'sparsegpt';
  const p = (await prune(src, {
    output: out('pruned'),
    sparsity,
    method,
    calib: CALIB,
    ...ft(e1, Number(flag('prune-lr', '2e-3'))),
  })) as TransformReport;
  const pf = p.finetune as FinetuneJson;
  const c = (await cluster(out('pruned'), {
    output: out('clustered'),
    clusters: k,
    minElements: 0,
    calib: CALIB,
    weighting: 'hessian',
    ...ft(e2, Number(flag('cluster-lr', '5e-4'))),
  })) as TransformReport;
  const cf = c.finetune as FinetuneJson;
  const q = (await quantize(out('clustered'), {
    output: out('int8'),
    mode: 'static',
    calib: CALIB,
  })) as TransformReport;
  const recipe = join(dir, 'encode-sparse.json');
  writeFileSync(recipe, JSON.stringify([{ pass: 'encode-sparse', options: { minElements: 0 } }]));
  const s = (await optimize(out('int8'), { output: out('sparse'), recipe })) as TransformReport;
  const sparseChanged = s.passes.some((x) => x.name === 'encode-sparse' && x.changed);
  const floatBrotli = p.before.brotliBytes;
  const floatTop1 = pf.accuracy.original;
  const row = (name: string, r: TransformReport, acc: number): Stage => ({
    name,
    bytes: r.after.bytes,
    brotli: r.after.brotliBytes,
    top1: acc,
  });
  const rows: Stage[] = [
    { name: 'float', bytes: p.before.bytes, brotli: floatBrotli, top1: floatTop1 },
    row(`prune ${sparsity} ${method} fc1, fc2 (post-training)`, p, pf.accuracy.before),
    row(`  + fine-tune ${e1} epochs (masks kept)`, p, pf.accuracy.after),
    row(`cluster K=${k} hessian, 0 kept (post-training)`, c, cf.accuracy.before),
    row(`  + fine-tune ${e2} epochs (centroids)`, c, cf.accuracy.after),
    row('static int8 (int8 codebooks)', q, await top1(out('int8'))),
  ];
  if (sparseChanged) rows.push(row('encode-sparse', s, await top1(out('sparse'))));
  // the final model: the smallest of the last stages within the accuracy target, else the smallest
  const finals = rows.slice(4);
  const within = finals.filter((r) => floatTop1 - r.top1 <= 0.01);
  const best = (within.length ? within : finals).reduce((a, b) => (b.brotli < a.brotli ? b : a));
  const ratio = floatBrotli / best.brotli;
  const drop = 100 * (floatTop1 - best.top1);
  const zeros = loadModel(out('clustered'))
    .graph.nodes.filter((n) => n.opType === 'Gather')
    .map((n) => readCodebook(n.outputs[0]!)!)
    .map(
      (cb) => `${cb.codebook.dims.join('x')} (${cb.codebook.toFloat32().filter((v) => v === 0).length} zero)`,
    );
  console.log(
    `(d) Deep Compression on lenet-300-100 (Fashion-MNIST 60k train, AdamW cosine batch 64; 10k test set)\n` +
      `${stageTable(rows, floatBrotli, floatTop1)}\n` +
      `    codebooks: ${zeros.join(', ')}; encode-sparse after int8: ${sparseChanged ? 'smaller, used' : 'nothing smaller (codebook indices are not sparse-stored)'}\n` +
      `    fine-tuning ${pf.training.steps} + ${cf.training.steps} steps in ${(pf.training.seconds + cf.training.seconds).toFixed(0)} s; whole chain ${((performance.now() - t0) / 1000).toFixed(0)} s\n` +
      `    final (${best.name.trim()}): ${ratio.toFixed(1)}x brotli (target >= 40x: ${ratio >= 40 ? 'PASS' : 'MISS'}; aim >= 50x: ${ratio >= 50 ? 'PASS' : 'MISS'}), ` +
      `top-1 ${pct(best.top1)}, ${drop >= 0 ? '-' : '+'}${Math.abs(drop).toFixed(2)} pt vs float (target within 1 pt: ${drop <= 1 ? 'PASS' : 'MISS'})`,
  );
}

/** (e) static int8, post-training vs fine-tuned with its QDQ kept; `spec` is MODEL[:per-tensor]. */
/**
 * (f) channel pruning of the ResNet fixture to <= 0.6x MACs (calibrated: data-aware importance and
 * least-squares reconstruction), then fine-tuning; top-1 on the 10k test set and batch-1 latency.
 */
async function channelPrune(dir: string) {
  const src = `${FIXTURES}/cnn-residual.onnx`;
  const macs = Number(flag('macs', '0.55'));
  const test = await fashionMnistTest(loadModel(src));
  const top1 = async (p: string) => accuracyOf(nodeRuntime, loadModel(p), test);
  const post = join(dir, 'cp-post.onnx');
  const tuned = join(dir, 'cp-tuned.onnx');
  const base = { pattern: 'channel', macs, roundTo: 16, calib: CALIB } as const;
  await prune(src, { ...base, output: post });
  await prune(src, {
    ...base,
    output: tuned,
    finetune: true,
    ...TRAIN_FLAGS,
    epochs: Number(flag('cp-epochs', '1')),
    lr: Number(flag('cp-lr', '5e-4')),
    seed: 0,
  });
  const [a, b, c] = [await top1(src), await top1(post), await top1(tuned)];
  const lat = async (path: string) => (await bench(path, { runs: 300, warmup: 30 })).latencyMs.median;
  const [l0, l1] = [await lat(src), await lat(tuned)];
  const macsOf = async (path: string) => ((await inspect(path, {})) as { macs: number }).macs;
  const macsRatio = (await macsOf(post)) / (await macsOf(src));
  console.log(
    `(f) channel-pruned cnn-residual, --macs ${macs} (calibrated), then fine-tuned: MACs ${macsRatio.toFixed(3)}x; top-1 ${pct(a)} -> post-training ${pct(b)} -> fine-tuned ${pct(c)} (${(100 * (a - c)).toFixed(2)} pt below; target within 1.5: ${a - c <= 0.015 ? 'PASS' : 'MISS'}); batch-1 ${l0.toFixed(4)} -> ${l1.toFixed(4)} ms = ${(l0 / l1).toFixed(2)}x (target >= 1.4x: ${l0 / l1 >= 1.4 ? 'PASS' : 'MISS'})`,
  );
}

async function qat(dir: string, spec: string, steps: number) {
  const [name, grid] = spec.split(':');
  const perTensor = grid === 'per-tensor';
  const r = (await quantize(`${FIXTURES}/${name}.onnx`, {
    output: join(dir, `qat-${name}.onnx`),
    mode: 'static',
    perTensor,
    calib: CALIB,
    finetune: true,
    ...TRAIN_FLAGS,
    ...TEST_FLAGS,
    steps,
    lr: 1e-4,
    seed: 0,
  })) as TransformReport;
  const f = r.finetune as FinetuneJson;
  const a = f.accuracy;
  const kernels = r.integerNodes as unknown[] | undefined;
  console.log(
    `(e) QAT, static int8 of ${name} (${perTensor ? 'per-tensor' : 'per-channel'} int8 weights, uint8 activations, scales fixed; ${steps} steps of 64 from the 60k, AdamW 1e-4 cosine, QDQ kept; 10k test set)\n` +
      `    float ${pct(a.original)}  post-training int8 ${pct(a.before)} (${pt(100 * (a.before - a.original))})  fine-tuned int8 ${pct(a.after)} (${pt(100 * (a.after - a.original))}; within 0.5 pt of float: ${a.original - a.after <= 0.005 ? 'yes' : 'no'}; ${pt(100 * (a.after - a.before))} over post-training)\n` +
      `    ${f.training.trainedTensors} tensors trained, ${f.training.steps} steps in ${f.training.seconds.toFixed(0)} s; ${kernels?.length ?? 0} nodes on ORT integer kernels; brotli ${r.before.brotliBytes} -> ${r.after.brotliBytes}`,
  );
}

/** (b) in a child process (its peak RSS is the training's). */
async function mlpSection(dir: string) {
  const epochs = Number(flag('epochs', '5'));
  const b = runChild(import.meta.url, 'mlp', dir, String(epochs)) as Record<string, number & number[]>;
  const drop = 100 * (b.dense - b.tuned);
  console.log(
    `(b) mlp-gemm at 90% unstructured sparsity, fine-tuned ${epochs} epochs (AdamW 2e-3 cosine, batch 64, masks kept), 10k test set\n` +
      `    dense ${(100 * b.dense).toFixed(2)}%  pruned ${(100 * b.pruned).toFixed(2)}%  fine-tuned ${(100 * b.tuned).toFixed(2)}%  (${drop > 0 ? '-' : '+'}${Math.abs(drop).toFixed(2)} pt vs dense; target within 0.5 pt)\n` +
      `    zeros kept per weight: ${b.zeros.map((z) => z.toFixed(3)).join(', ')}\n` +
      `    ${b.steps} steps in ${b.seconds.toFixed(1)} s (${b.stepMs.toFixed(2)} ms/step); training peak RSS ${b.peakRssMiB.toFixed(0)} MiB (${b.rssBeforeMiB.toFixed(0)} MiB before training)`,
  );
}

const SECTIONS = ['speed', 'grad', 'mlp', 'deep-compression', 'qat', 'channel-prune'];

async function main() {
  if (args[0] === 'mlp') return mlpChild(args[1]!, Number(args[2]));
  const only = flag('only', SECTIONS.join(',')).split(',');
  const unknown = only.filter((x) => !SECTIONS.includes(x));
  if (unknown.length)
    throw new Error(`--only: unknown section ${unknown.join(', ')} (${SECTIONS.join(', ')})`);
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-bench-ft-'));
  try {
    if (only.includes('speed'))
      for (const m of flag('models', 'cnn-residual,cnn-wide,transformer').split(','))
        await speed(m, dir, Number(flag('rounds', '8')));
    if (only.includes('grad'))
      for (const m of flag('grad-models', 'cnn-residual,transformer').split(','))
        await gradients(m, dir, m === 'cnn-residual');
    if (only.includes('mlp')) await mlpSection(dir);
    if (only.includes('deep-compression')) await deepCompression(dir);
    if (only.includes('channel-prune')) await channelPrune(dir);
    if (only.includes('qat')) {
      const steps = Number(flag('qat-steps', '300'));
      for (const spec of flag('qat-models', 'vgg-cnn,depthwise-net:per-tensor').split(','))
        await qat(dir, spec, steps);
      console.log(
        '    W4A8 static within 0.5 pt (the issue target): MISS, not measured: quantize-static-int8 has no 4-bit weight type (weight-int4 is weight-only, its activations stay float)',
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
