// Loading and saving models on Node: files, external data beside the model, atomic writes.
// Saving streams: tensor bytes go to the file chunk by chunk and external tensors are copied one at a
// time, so memory stays near the size of the largest tensor plus the input buffer.

import {
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { decodeModel, encodeModelChunks } from '../ir/serialize.js';
import type { ExternalLocation, Tensor } from '../ir/tensor.js';
import type { ExternalDataSource } from '../ir/tensor-proto.js';
import { PROTOBUF_LIMIT } from '../onnx/wire.js';

/**
 * Reads external data files relative to a model's folder, refusing anything that escapes it. Files
 * are opened per read and closed again, so a loaded model holds no file handles.
 */
export class FileExternalData implements ExternalDataSource {
  private readonly checked = new Map<string, { path: string; size: number }>();
  private readonly root: string;

  constructor(readonly folder: string) {
    this.root = realpathSync(folder);
  }

  private resolve(location: string): { path: string; size: number } {
    let f = this.checked.get(location);
    if (f) return f;
    const full = resolve(this.folder, location);
    if (!existsSync(full))
      throw new EdgefitError(
        'EXTERNAL_DATA',
        `external data file "${location}" is missing`,
        `put it beside the model in ${this.folder}`,
      );
    const real = realpathSync(full);
    const rel = relative(this.root, real);
    if (rel.startsWith('..') || isAbsolute(rel))
      throw new EdgefitError(
        'EXTERNAL_DATA',
        `external data file "${location}" resolves outside the model's folder`,
        'move the data beside the model',
      );
    const st = statSync(real);
    if (!st.isFile())
      throw new EdgefitError(
        'EXTERNAL_DATA',
        `external data "${location}" is not a file`,
        'the model refers to a folder',
      );
    f = { path: real, size: st.size };
    this.checked.set(location, f);
    return f;
  }

  size(location: string): number {
    return this.resolve(location).size;
  }

  read(location: string, offset: number, length: number): Uint8Array {
    const { path } = this.resolve(location);
    const out = Buffer.allocUnsafe(length);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw fileError(e, 'read', `external data file "${location}"`, 'check the file is readable');
    }
    try {
      let done = 0;
      while (done < length) {
        let n: number;
        try {
          n = readSync(fd, out, done, length - done, offset + done);
        } catch (e) {
          throw fileError(e, 'read', `external data file "${location}"`, 'check the file is readable');
        }
        if (n === 0)
          throw new EdgefitError(
            'EXTERNAL_DATA',
            `external data file "${location}" ended early`,
            'the file is truncated',
          );
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    return new Uint8Array(out.buffer, out.byteOffset, length);
  }
}

export function readModelFile(path: string): Uint8Array {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT' || (e as { code?: string }).code === 'ENOTDIR')
      throw new EdgefitError('IO', `cannot read ${path}: no such file`, 'check the path');
    throw fileError(e, 'read', path, 'check the file exists and is readable');
  }
  if (st.isDirectory())
    throw new EdgefitError('IO', `${path} is a folder, not a model file`, 'pass the .onnx file');
  if (st.size > PROTOBUF_LIMIT)
    throw new EdgefitError(
      'BAD_MODEL',
      `${path} is ${st.size} bytes, past protobuf's 2 GB limit`,
      'large models must keep weights in external data',
    );
  return readBytes(path, 'check the file exists and is readable');
}

/** The node limit: EDGEFIT_MAX_NODES when set (0: none), else the core's MAX_NODES. */
function maxNodes(): number | undefined {
  const raw = process.env.EDGEFIT_MAX_NODES;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `EDGEFIT_MAX_NODES=${raw} is not a node count`,
      'set it to a whole number (0: no limit)',
    );
  return n;
}

/** Load a model from a file; external data is read lazily from beside it. */
export function loadModel(path: string): Model {
  const bytes = readModelFile(path);
  return decodeModel(bytes, { external: new FileExternalData(dirname(resolve(path))), maxNodes: maxNodes() });
}

export interface SaveOptions {
  /** 'auto' (default): external data only when the model would pass 2 GB; true: always; false: never */
  externalData?: boolean | 'auto';
  /** overwrite an existing file */
  force?: boolean;
  /** tensors smaller than this stay inline in external-data mode (default 1024 bytes) */
  externalThreshold?: number;
}

export interface SaveResult {
  path: string;
  bytes: number;
  dataPath?: string;
  dataBytes?: number;
}

function allTensors(model: Model): Tensor[] {
  const out: Tensor[] = [];
  for (const g of model.graph.allGraphs()) {
    for (const v of g.initializers) out.push(v.initializer!);
    for (const n of g.nodes)
      for (const a of n.attributes.values()) {
        if (a.t) out.push(a.t);
        if (a.tensors) out.push(...a.tensors);
      }
  }
  return out;
}

function writeAll(fd: number, chunk: Uint8Array, position: number): void {
  let done = 0;
  while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done, position + done);
}

/** Headroom below protobuf's limit for everything that is not tensor data. */
const INLINE_BUDGET = PROTOBUF_LIMIT - 64 * 1024 * 1024;

const ERRNO_TEXT: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EIO: 'input/output error',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  EXDEV: 'not on the same file system',
  EBUSY: 'the file is busy',
  EINVAL: 'invalid argument',
};

/**
 * A file-system error (it carries an errno `code` and a `syscall`) as one IO line naming the path;
 * anything else is returned as it is (a bug keeps its stack).
 */
export function fileError(e: unknown, verb: 'read' | 'write', path: string, fix: string): unknown {
  const err = e as { code?: unknown; syscall?: unknown };
  if (e instanceof Error && typeof err.code === 'string' && /^E[A-Z0-9]+$/.test(err.code) && err.syscall) {
    const why = ERRNO_TEXT[err.code] ? `${err.code}: ${ERRNO_TEXT[err.code]}` : err.code;
    return new EdgefitError('IO', `cannot ${verb} ${path} (${why})`, fix);
  }
  return e;
}

/** A whole file's bytes (a view of the Buffer read); an fs error is one IO line with `fix`. */
export function readBytes(path: string, fix: string): Uint8Array {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (e) {
    throw fileError(e, 'read', path, fix);
  }
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// --- temp files: the saves in progress, removed on SIGINT/SIGTERM; stale ones of killed runs

/** Temp files the saves in progress have created and not yet renamed or removed. */
const pendingTemps = new Set<string>();
const SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;
type Signal = keyof typeof SIGNALS;
const onSignal: Record<Signal, () => void> = {
  SIGINT: () => interrupted('SIGINT'),
  SIGTERM: () => interrupted('SIGTERM'),
};

function removePendingTemps(): void {
  for (const f of pendingTemps) rmSync(f, { force: true });
  pendingTemps.clear();
}

function interrupted(signal: Signal): void {
  removePendingTemps();
  uninstallSignalCleanup();
  // with no other listener, Node would have died of the signal: do so, with the shell's exit code
  if (process.listenerCount(signal) === 0) process.exit(SIGNALS[signal]);
}

let installed = false;
function installSignalCleanup(): void {
  if (installed) return;
  installed = true;
  for (const sig of Object.keys(SIGNALS) as Signal[]) process.on(sig, onSignal[sig]);
}
function uninstallSignalCleanup(): void {
  if (!installed) return;
  installed = false;
  for (const sig of Object.keys(SIGNALS) as Signal[]) process.off(sig, onSignal[sig]);
}

/** The temp files of saves in progress in this process (tests and hosts with their own handlers). */
export function pendingTempFiles(): string[] {
  return [...pendingTemps];
}

const TEMP_NAME = /\.tmp-(\d{1,10})-(\d{10,16})$/;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'; // alive, but someone else's
  }
}

/**
 * Remove the temp files (`NAME.tmp-<pid>-<ms>`) that runs killed mid-save left in `folder`: those whose
 * process is no longer alive. Returns the names removed.
 */
export function removeStaleTemps(folder: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const full = join(folder, name);
    try {
      if (!lstatSync(full).isFile()) continue;
      rmSync(full, { force: true });
      removed.push(name);
    } catch {
      // not ours to fight over: leave it
    }
  }
  return removed;
}

/**
 * The steps of a save; each `yield` is a point where a signal may be handled (between tensors and
 * chunks), so an interrupted save removes its temp files instead of leaving them.
 */
function* saveSteps(model: Model, path: string, options: SaveOptions): Generator<void, SaveResult> {
  const out = resolve(path);
  if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory())
    throw new EdgefitError(
      'IO',
      `cannot write ${path}: the folder ${dirname(out)} does not exist`,
      'create it first or choose another -o',
    );
  if (existsSync(out) && !options.force)
    throw new EdgefitError('IO', `${path} already exists`, 'choose another output path or pass --force');
  removeStaleTemps(dirname(out));
  const tensors = allTensors(model);
  const threshold = options.externalThreshold ?? 1024;
  const inlineBytes = tensors.reduce((s, t) => s + t.byteLength, 0);
  const mode = options.externalData ?? 'auto';
  const external = mode === true || (mode === 'auto' && inlineBytes > INLINE_BUDGET);

  const tag = `.tmp-${process.pid}-${Date.now()}`;
  const tmpModel = out + tag;
  const dataName = `${basename(out)}.data`;
  const dataPath = join(dirname(out), dataName);
  if (external && existsSync(dataPath) && !options.force)
    throw new EdgefitError('IO', `${dataPath} already exists`, 'choose another output path or pass --force');
  const tmpData = dataPath + tag;
  const placement = new Map<Tensor, ExternalLocation>();
  let dataBytes = 0;
  const temps = external ? [tmpData, tmpModel] : [tmpModel];
  for (const t of temps) pendingTemps.add(t);
  try {
    if (external) {
      const fd = openSync(tmpData, 'w');
      try {
        for (const t of tensors) {
          if (t.isString || t.byteLength < threshold) continue;
          const align = t.byteLength >= 65536 ? 4096 : 64;
          const offset = Math.ceil(dataBytes / align) * align;
          // external sources are copied in 16 MiB pieces: memory stays flat whatever the tensor size
          t.forEachChunk((bytes, at) => writeAll(fd, bytes, offset + at));
          placement.set(t, { location: dataName, offset, length: t.byteLength });
          dataBytes = offset + t.byteLength;
          yield;
        }
      } finally {
        closeSync(fd);
      }
    }
    const chunks = encodeModelChunks(model, { place: (t) => ({ external: placement.get(t) }) });
    let total = 0;
    for (const c of chunks) total += c.length;
    if (total > PROTOBUF_LIMIT)
      throw new EdgefitError(
        'UNSUPPORTED',
        `the model needs ${total} bytes inline, past protobuf's 2 GB limit`,
        'save with --external-data',
      );
    yield;
    const fd = openSync(tmpModel, 'w');
    try {
      // 16 MiB at a time, yielding between pieces: a signal never waits for a whole big tensor
      const PIECE = 16 << 20;
      let at = 0;
      let sinceYield = 0;
      for (const c of chunks)
        for (let off = 0; off < c.length; off += PIECE) {
          const piece = c.subarray(off, Math.min(c.length, off + PIECE));
          writeAll(fd, piece, at);
          at += piece.length;
          sinceYield += piece.length;
          if (sinceYield >= PIECE) {
            sinceYield = 0;
            yield;
          }
        }
    } finally {
      closeSync(fd);
    }
    if (external) renameSync(tmpData, dataPath);
    renameSync(tmpModel, out);
    return external ? { path: out, bytes: total, dataPath, dataBytes } : { path: out, bytes: total };
  } catch (e) {
    rmSync(tmpModel, { force: true });
    rmSync(tmpData, { force: true });
    throw fileError(e, 'write', path, 'check the folder exists, is writable and has space');
  } finally {
    for (const t of temps) pendingTemps.delete(t);
  }
}

/**
 * Save atomically: write `PATH.tmp-<pid>-<ms>` (and its data file), then rename. The input file is
 * never touched, an error leaves no half-written output behind, and stale temp files of killed runs
 * in the folder are removed first.
 */
export function saveModel(model: Model, path: string, options: SaveOptions = {}): SaveResult {
  const steps = saveSteps(model, path, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

const tick = () => new Promise<void>((done) => setTimeout(done, 0));

/**
 * saveModel that lets signals in between tensors and chunks: on SIGINT/SIGTERM during the save its
 * temp files are removed and (when nothing else listens for the signal) the process exits 130/143.
 */
export async function saveModelAsync(
  model: Model,
  path: string,
  options: SaveOptions = {},
): Promise<SaveResult> {
  installSignalCleanup();
  try {
    const steps = saveSteps(model, path, options);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      await tick();
    }
  } finally {
    // a signal that came during the last stretch is handled before the listeners go
    await tick();
    if (pendingTemps.size === 0) uninstallSignalCleanup();
  }
}
