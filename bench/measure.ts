// Measurement helpers shared by bench/large-model.ts and bench/huge-model.ts.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Model } from '../src/ir/graph.js';
import { viewBytes } from '../src/ir/tensor.js';
import { loadModel, type SaveOptions, saveModel } from '../src/node/model-io.js';

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

/** the same float32 bit patterns (so NaN payloads and -0 count) */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.compare(viewBytes(a), viewBytes(b)) === 0;
}
