// NumPy `.npz` archives: a zip file (stored or deflated, as np.savez / np.savez_compressed write it)
// whose entries `name.npy` are `.npy` files. Decoding gives a Map from `name` to array.
//
// Rules:
// 1. Entries that do not end in `.npy` are skipped (numpy would return them as raw bytes, not arrays).
// 2. Nothing is inflated before every header is checked (data/zip.ts: local and central headers agree,
//    declared sizes are possible for the compressed bytes) and each entry's `.npy` header — read from
//    its first bytes — needs no more than the entry declares (its shape × dtype).
// 3. The declared sizes of all entries together stay under a cap (`maxBytes`, default 1 GiB), checked
//    before inflating: a small archive that expands to gigabytes is an error naming the entry, not an
//    allocation. Entries are then inflated one at a time into buffers of their declared size.
// 4. Errors inside an entry name the archive and the entry.

import { type Zippable, zipSync } from 'fflate';
import { EdgefitError } from '../errors.js';
import { decodeNpy, decodeNpyHeader, encodeNpy, MAX_DATA_BYTES, type NdArray } from './npy.js';
import { inflateZipEntry, peekZipEntry, readZipEntries, type ZipEntry, ZipError } from './zip.js';

export interface NpzOptions {
  /** cap on the declared uncompressed bytes of all arrays together (default 1 GiB) */
  maxBytes?: number;
}

function mib(n: number): string {
  return `${(n / 1024 ** 2).toFixed(n < 10 * 1024 ** 2 ? 2 : 0)} MiB`;
}

/** Decode a `.npz` archive. `source` names the file in error messages. */
export function decodeNpz(
  bytes: Uint8Array,
  source = 'the .npz file',
  options: NpzOptions = {},
): Map<string, NdArray> {
  const invalid = (why: string) =>
    new EdgefitError('BAD_DATA', `${source} is not a valid .npz file (${why})`, 'write it with np.savez');
  if (bytes.length < 22 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw invalid('it does not start with the zip signature PK');
  }
  let entries: ZipEntry[];
  try {
    entries = readZipEntries(bytes).filter((e) => e.name.endsWith('.npy'));
  } catch (e) {
    if (e instanceof ZipError) throw invalid(e.message);
    throw e;
  }
  const cap = options.maxBytes ?? MAX_DATA_BYTES;
  let total = 0;
  for (const e of entries) {
    const key = e.name.slice(0, -'.npy'.length);
    total += e.size;
    if (total > cap)
      throw new EdgefitError(
        'BAD_DATA',
        `${source} entry '${key}' brings the arrays to ${mib(total)} uncompressed, past the ${mib(cap)} cap for .npz data`,
        'use fewer samples (--limit does not help here: split the file) or a .npy file, which is streamed from disk',
      );
    // the .npy header from the entry's first bytes: its shape × dtype must fit what the entry declares
    try {
      decodeNpyHeader(peekEntry(bytes, e), `${source} entry '${key}'`, e.size);
    } catch (err) {
      if (err instanceof ZipError) throw invalid(err.message);
      throw err;
    }
  }
  const arrays = new Map<string, NdArray>();
  for (const e of entries) {
    const key = e.name.slice(0, -'.npy'.length);
    let raw: Uint8Array;
    try {
      raw = inflateZipEntry(bytes, e);
    } catch (err) {
      if (err instanceof ZipError) throw invalid(err.message);
      throw err;
    }
    arrays.set(key, decodeNpy(raw, `${source} entry '${key}'`));
  }
  return arrays;
}

/** Enough of an entry's first bytes for its .npy header (at most numpy's largest header). */
function peekEntry(bytes: Uint8Array, e: ZipEntry): Uint8Array {
  const head = peekZipEntry(bytes, e, 12);
  const major = head[6];
  const length =
    head.length < 12
      ? 0
      : major === 1
        ? head[8]! | (head[9]! << 8)
        : (head[8]! | (head[9]! << 8) | (head[10]! << 16) | (head[11]! << 24)) >>> 0;
  return peekZipEntry(bytes, e, Math.min(e.size, 12 + Math.min(length, 200_000)));
}

/** Encode arrays as an uncompressed `.npz` archive (entry `name.npy` per array), readable by np.load. */
export function encodeNpz(
  arrays: ReadonlyMap<string, NdArray> | Readonly<Record<string, NdArray>>,
): Uint8Array {
  const files: Zippable = {};
  const list = arrays instanceof Map ? [...arrays] : Object.entries(arrays);
  for (const [name, array] of list) files[`${name}.npy`] = encodeNpy(array);
  return zipSync(files, { level: 0 });
}
