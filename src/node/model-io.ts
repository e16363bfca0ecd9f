// Loading and saving models on Node: files, external data beside the model, atomic writes.
// Saving streams: tensor bytes go to the file chunk by chunk and external tensors are copied one at a
// time, so memory stays near the size of the largest tensor plus the input buffer.

import {
  closeSync,
  existsSync,
  openSync,
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
    const fd = openSync(path, 'r');
    try {
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
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
  } catch {
    throw new EdgefitError('IO', `cannot read ${path}: no such file`, 'check the path');
  }
  if (st.isDirectory())
    throw new EdgefitError('IO', `${path} is a folder, not a model file`, 'pass the .onnx file');
  if (st.size > PROTOBUF_LIMIT)
    throw new EdgefitError(
      'BAD_MODEL',
      `${path} is ${st.size} bytes, past protobuf's 2 GB limit`,
      'large models must keep weights in external data',
    );
  const buf = readFileSync(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Load a model from a file; external data is read lazily from beside it. */
export function loadModel(path: string): Model {
  const bytes = readModelFile(path);
  return decodeModel(bytes, { external: new FileExternalData(dirname(resolve(path))) });
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

/**
 * Save atomically: write `PATH.tmp-*` (and its data file), then rename. The input file is never
 * touched, and an error leaves no half-written output behind.
 */
export function saveModel(model: Model, path: string, options: SaveOptions = {}): SaveResult {
  const out = resolve(path);
  if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory())
    throw new EdgefitError(
      'IO',
      `cannot write ${path}: the folder ${dirname(out)} does not exist`,
      'create it first or choose another -o',
    );
  if (existsSync(out) && !options.force)
    throw new EdgefitError('IO', `${path} already exists`, 'choose another output path or pass --force');
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
    const fd = openSync(tmpModel, 'w');
    try {
      let at = 0;
      for (const c of chunks) {
        writeAll(fd, c, at);
        at += c.length;
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
    const code = (e as { code?: string }).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'ENOSPC' || code === 'EISDIR')
      throw new EdgefitError(
        'IO',
        `cannot write ${path} (${code})`,
        'check the folder is writable and has space',
      );
    throw e;
  }
}
