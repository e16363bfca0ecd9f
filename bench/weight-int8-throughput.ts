// Throughput of int8 weight-only quantization: edgefit against numpy doing the same per-channel
// symmetric int8 math on the same sizes (goal: edgefit >= numpy).
// Model: 24 MatMul weights of [2048, 2048] (100.7M parameters), random values from a fast xorshift.
// Rounds alternate between numpy and edgefit so that a busy machine hurts both alike; the math is timed
// per matrix and each matrix's best round is summed (robust to other processes on a 2-core machine),
// the whole pass by its best round:
//  - numpy (Debian's /usr/bin/python3): s = max|w| per column / 127; q = clip(rint(w / s), -127, 127)
//    as int8, float32 throughout; array creation not timed; outputs kept (as edgefit keeps its own), so
//    neither side gets to recycle freed buffers
//  - edgefit kernel: quantizeRtn (the same math) over the 24 matrices
//  - edgefit pass: quantizeWeightInt8.apply, format 'qdq' (kernel + initializers + DequantizeLinear nodes)
//    and format 'matmulnbits' (kernel + the MatMulNBits [N, kBlocks, bs] repacking)
// A cross-check runs numpy on the first matrix of the model itself and counts codes that differ.
// Run: npx tsx bench/weight-int8-throughput.ts

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, newModel } from '../src/ir/builder.js';
import { cloneModel } from '../src/ir/clone.js';
import type { Model } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { quantizeRtn } from '../src/kernels/block-quant.js';
import { Rng } from '../src/kernels/random.js';
import { quantizeWeightInt8 } from '../src/passes/quantize/quantize-weight-int8.js';
import { constantOf } from '../src/passes/util.js';

const LAYERS = 24;
const D = 2048;
const ROUNDS = 4;
const PARAMS = LAYERS * D * D;

/** Uniform-ish random weights (sum of two xorshift uniforms: a triangle in ±1/sqrt(D)), fast. */
function randomWeights(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed | 1;
  const scale = 1 / Math.sqrt(D) / 4294967296;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const a = s >>> 0;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (a + (s >>> 0) - 4294967296) * scale;
  }
  return out;
}

function buildModel(): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  let y = b.input('x', { elemType: 1, shape: ['batch', D] });
  for (let l = 0; l < LAYERS; l++)
    y = b.op('MatMul', [
      y,
      b.weight(`w${l}`, Tensor.fromFloat32(`w${l}`, [D, D], randomWeights(D * D, 7 + l))),
    ]);
  b.output(y);
  return m;
}

const NUMPY = `
import json, sys, time
import numpy as np
L, D, rounds, probe, probe_out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def quantize(w):
    s = np.abs(w).max(axis=0) / np.float32(127)
    s[s < np.finfo(np.float32).tiny] = 1
    return np.clip(np.rint(w / s), -127, 127).astype(np.int8), s
if probe:
    q, _ = quantize(np.fromfile(probe, dtype=np.float32).reshape(D, D))
    q.tofile(probe_out)
if rounds == 0:
    print(json.dumps({"best": [], "numpy": np.__version__}))
    sys.exit(0)
rng = np.random.default_rng(0)
ws = [rng.standard_normal((D, D), dtype=np.float32) / np.float32(D ** 0.5) for _ in range(L)]
best = [float("inf")] * L
for _ in range(rounds):
    kept = []  # a quantizer keeps its output, as edgefit does: no reuse of the freed buffers
    for i, w in enumerate(ws):
        t = time.perf_counter()
        kept.append(quantize(w))
        best[i] = min(best[i], time.perf_counter() - t)
print(json.dumps({"best": best, "numpy": np.__version__}))
`;

function runNumpy(rounds: number, probe = '', probeOut = ''): { best: number[]; numpy: string } {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE; // /work/.library/env: set for this machine, not for Debian's numpy
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync(
    '/usr/bin/python3',
    ['-c', NUMPY, String(LAYERS), String(D), String(rounds), probe, probeOut],
    { env, encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (r.status !== 0) throw new Error(`numpy failed: ${r.stderr || r.error}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

const ctx = { log: { info() {}, warn() {} }, rng: new Rng(0), selects: () => true };

async function timePass(model: Model, format: 'qdq' | 'matmulnbits'): Promise<number> {
  const copy = cloneModel(model); // shares the float weights: nothing is copied before the clock starts
  const options = quantizeWeightInt8.options.parse({ format });
  const t0 = performance.now();
  await quantizeWeightInt8.apply(copy, options, ctx);
  return (performance.now() - t0) / 1000;
}

/** Seconds per matrix (the results are kept, like numpy's). */
function timeKernel(model: Model): number[] {
  const kept: unknown[] = [];
  return model.graph.initializers.map((v) => {
    const w = constantOf(v)!.toFloat32();
    const t0 = performance.now();
    kept.push(quantizeRtn(w, D, D, { bits: 8, blockSize: D, symmetric: true }));
    return (performance.now() - t0) / 1000;
  });
}

const bestOf = (a: number[], b: number[]) => (a.length ? a.map((x, i) => Math.min(x, b[i]!)) : b);
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

const rate = (s: number) =>
  `${(PARAMS / s / 1e6).toFixed(0).padStart(5)} M params/s  (${(s * 1000).toFixed(0)} ms)`;

async function main(): Promise<void> {
  console.log(`model: ${LAYERS} MatMul weights [${D}, ${D}] = ${(PARAMS / 1e6).toFixed(1)}M params`);
  const model = buildModel();
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-int8-bench-'));
  try {
    // cross-check: numpy and edgefit codes for the model's first matrix
    const w0 = constantOf(model.graph.initializers[0])!.toFloat32();
    writeFileSync(join(dir, 'w0.f32'), w0);
    const np = runNumpy(0, join(dir, 'w0.f32'), join(dir, 'q0.i8'));
    const theirs = new Int8Array(readFileSync(join(dir, 'q0.i8')).buffer.slice(0));
    const ours = quantizeRtn(w0, D, D, { bits: 8, blockSize: D, symmetric: true }).codes;
    let differ = 0;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) differ++;
    console.log(`numpy ${np.numpy} cross-check on [${D}, ${D}]: ${differ} of ${ours.length} codes differ`);

    let numpy: number[] = [];
    let kernel: number[] = [];
    const best = { qdq: Infinity, nbits: Infinity };
    for (let r = 0; r < ROUNDS; r++) {
      numpy = bestOf(numpy, runNumpy(2).best);
      kernel = bestOf(kernel, timeKernel(model));
      best.qdq = Math.min(best.qdq, await timePass(model, 'qdq'));
      best.nbits = Math.min(best.nbits, await timePass(model, 'matmulnbits'));
    }
    const total = { numpy: sum(numpy), kernel: sum(kernel), ...best };
    console.log(`numpy per-channel int8              ${rate(total.numpy)}`);
    console.log(`edgefit quantizeRtn (same math)     ${rate(total.kernel)}`);
    console.log(`edgefit pass, format qdq            ${rate(total.qdq)}`);
    console.log(`edgefit pass, format matmulnbits    ${rate(total.nbits)}`);
    console.log(
      `edgefit / numpy: kernel ${(total.numpy / total.kernel).toFixed(2)}x, pass (qdq) ${(total.numpy / total.qdq).toFixed(2)}x, pass (matmulnbits) ${(total.numpy / total.nbits).toFixed(2)}x`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
