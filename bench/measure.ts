// Measurement helpers shared by bench/large-model.ts and bench/huge-model.ts: peak RSS, a fresh child
// process that loads and saves a model, the MatMul chains both build, one ORT run from a path.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GraphBuilder, newModel } from '../src/ir/builder.js';
import type { Model } from '../src/ir/graph.js';
import { type Tensor, viewBytes } from '../src/ir/tensor.js';
import { loadModel, type SaveOptions, saveModel } from '../src/node/model-io.js';
import { DataType } from '../src/onnx/dtype.js';
import { nodeRuntime } from '../src/runtime/node.js';

const MB = 1024 * 1024;

/**
 * Peak RSS in KiB. On Linux VmHWM from /proc/self/status: getrusage's maxRSS (what
 * process.resourceUsage().maxRSS returns) survives execve, so a child spawned by a big parent reports
 * the parent's RSS at fork time as its own peak. Elsewhere maxRSS is all there is.
 */
export function peakRss(): { kib: number; source: string } {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return { kib: Number(m[1]), source: 'VmHWM' };
  } catch {
    // not Linux
  }
  return { kib: process.resourceUsage().maxRSS, source: 'maxRSS' };
}

/** byte-for-byte comparison of two (possibly huge) files, in 32 MiB pieces */
export function filesIdentical(a: string, b: string): boolean {
  if (statSync(a).size !== statSync(b).size) return false;
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  const ba = Buffer.allocUnsafe(32 * MB);
  const bb = Buffer.allocUnsafe(32 * MB);
  try {
    let pos = 0;
    for (;;) {
      const na = readSync(fa, ba, 0, ba.length, pos);
      const nb = readSync(fb, bb, 0, bb.length, pos);
      if (na !== nb) return false;
      if (na === 0) return true;
      if (ba.subarray(0, na).compare(bb.subarray(0, nb)) !== 0) return false;
      pos += na;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/**
 * Run the bench script `scriptUrl` (its import.meta.url) again in a fresh node process, in child mode
 * `mode`; returns the JSON of the last line it prints. A fresh process keeps its peak RSS its own.
 */
export function runChild(scriptUrl: string, mode: string, ...args: string[]): unknown {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(scriptUrl), mode, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * MB,
  });
  if (r.status !== 0) throw new Error(`child ${mode} failed with status ${r.status}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** Child side: loadModel `input`, then saveModel it to `output`; `loaded` looks at the model in between (untimed). */
export function timeLoadSave(
  input: string,
  output: string,
  save: SaveOptions,
  loaded?: (model: Model) => void,
): { loadMs: number; saveMs: number } {
  const t0 = performance.now();
  const model = loadModel(input);
  const loadMs = performance.now() - t0;
  loaded?.(model);
  const t1 = performance.now();
  saveModel(model, output, save);
  return { loadMs, saveMs: performance.now() - t1 };
}

/** What a child measures around timeLoadSave (memory in KiB). */
export interface LoadSaveMeasurement {
  /** peak RSS (peakRss) before loading: node + tsx + edgefit modules */
  baselinePeakKiB: number;
  /** RSS and getrusage maxRSS before loading */
  baselineRssKiB: number;
  baselineMaxRssKiB: number;
  loadMs: number;
  saveMs: number;
  /** peak RSS at the end, and where it was read (VmHWM or maxRSS) */
  peakKiB: number;
  peakSource: string;
  maxRssKiB: number;
}

/** Child side: timeLoadSave with the process's memory before and after. */
export function measureLoadSave(
  input: string,
  output: string,
  save: SaveOptions,
  loaded?: (model: Model) => void,
): LoadSaveMeasurement {
  const baselinePeakKiB = peakRss().kib;
  const baselineRssKiB = Math.round(process.memoryUsage().rss / 1024);
  const baselineMaxRssKiB = process.resourceUsage().maxRSS;
  const { loadMs, saveMs } = timeLoadSave(input, output, save, loaded);
  const peak = peakRss();
  return {
    baselinePeakKiB,
    baselineRssKiB,
    baselineMaxRssKiB,
    loadMs,
    saveMs,
    peakKiB: peak.kib,
    peakSource: peak.source,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
}

/**
 * x [1, width] -> MatMul(w0) -> Relu -> ... -> MatMul(w{layers-1}), opset 17; `weight(l)` is layer l's
 * [rows, cols] tensor (rows the width coming in). Returns the model, not saved.
 */
export function matmulChain(width: number, layers: number, weight: (l: number) => Tensor): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  let x = b.input('x', { elemType: DataType.FLOAT, shape: [1, width] });
  let out = width;
  for (let l = 0; l < layers; l++) {
    const t = weight(l);
    out = t.dims[1]!;
    x = b.op('MatMul', [x, b.weight(`w${l}`, t)]);
    if (l < layers - 1) x = b.op('Relu', [x]);
  }
  x.setType({ elemType: DataType.FLOAT, shape: [1, out] });
  b.output(x);
  return m;
}

/** One ORT run of the model at `path` (external data resolved beside it) on x [1, n]: the first output and the time, session included. */
export async function runOrt(path: string, input: Float32Array): Promise<{ out: Float32Array; ms: number }> {
  const t0 = performance.now();
  const session = await nodeRuntime.createSession(path);
  try {
    const out = await session.run({ x: { dtype: DataType.FLOAT, dims: [1, input.length], data: input } });
    return { out: out[session.outputNames[0]!]!.data as Float32Array, ms: performance.now() - t0 };
  } finally {
    await session.release();
  }
}

/** the same float32 bit patterns (so NaN payloads and -0 count) */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.compare(viewBytes(a), viewBytes(b)) === 0;
}
