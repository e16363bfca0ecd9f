// NumPy `.npz` archives: a zip file (stored or deflated, as np.savez / np.savez_compressed write it)
// whose entries `name.npy` are `.npy` files. Decoding gives a Map from `name` to array.
//
// Rules:
// 1. Entries that do not end in `.npy` are skipped (numpy would return them as raw bytes, not arrays).
// 2. An entry whose declared size could not come from its compressed bytes is corrupt: checked before
//    inflating, so a forged size is an error rather than a huge allocation.
// 3. Errors inside an entry name the archive and the entry.

import { type Unzipped, unzipSync, type Zippable, zipSync } from 'fflate';
import { EdgefitError } from '../errors.js';
import { decodeNpy, encodeNpy, type NdArray } from './npy.js';

const MAX_DEFLATE_RATIO = 1032; // deflate cannot expand data more than ~1032:1

/** Decode a `.npz` archive. `source` names the file in error messages. */
export function decodeNpz(bytes: Uint8Array, source = 'the .npz file'): Map<string, NdArray> {
  const invalid = (why: string) =>
    new EdgefitError('BAD_DATA', `${source} is not a valid .npz file (${why})`, 'write it with np.savez');
  if (bytes.length < 22 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw invalid('it does not start with the zip signature PK');
  }
  let entries: Unzipped;
  try {
    entries = unzipSync(bytes, {
      filter: (file) => {
        if (!file.name.endsWith('.npy')) return false;
        const limit = file.compression === 0 ? file.size : file.size * MAX_DEFLATE_RATIO + 1024;
        if (file.originalSize > limit) {
          throw new Error(
            `entry '${file.name}' claims ${file.originalSize} bytes from ${file.size} compressed bytes`,
          );
        }
        return true;
      },
    });
  } catch (e) {
    throw invalid(e instanceof Error ? e.message : String(e));
  }
  const arrays = new Map<string, NdArray>();
  for (const [name, entry] of Object.entries(entries)) {
    const key = name.slice(0, -'.npy'.length);
    arrays.set(key, decodeNpy(entry, `${source} entry '${key}'`));
  }
  return arrays;
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
