// Reading zip archives (what np.savez and np.savez_compressed write) without trusting them: the
// central directory is parsed and checked before a single byte is inflated, so an archive cannot make
// edgefit allocate more than it declares, and what it declares is checked against a cap.
//
// Rules:
// 1. The end-of-central-directory record (or its zip64 form, which numpy writes for every entry) gives
//    the entries; each central header must lie inside the file.
// 2. Each entry's local header must exist where the central header says, carry the same method and,
//    unless sizes are deferred to a data descriptor (flag bit 3), the same sizes (zip64 extra fields
//    included); the compressed bytes must lie inside the file.
// 3. Stored entries: the uncompressed size equals the compressed size. Deflated entries cannot expand
//    more than 1032:1, so a larger declared size is a forgery.
// 4. Inflating writes into a buffer of the declared size and never past it; a stream that ends early
//    is corrupt.
// 5. Encrypted entries and methods other than stored (0) and deflate (8) are refused.

import { Inflate } from 'fflate';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate */
  method: number;
  compressedSize: number;
  size: number;
  /** where the entry's compressed bytes start */
  dataOffset: number;
}

/** A problem with the archive, described for a message (the caller names the file). */
export class ZipError extends Error {}

const MAX_DEFLATE_RATIO = 1032;

function u16(b: Uint8Array, at: number): number {
  if (at + 2 > b.length) throw new ZipError('a header runs past the end of the file');
  return b[at]! | (b[at + 1]! << 8);
}
function u32(b: Uint8Array, at: number): number {
  if (at + 4 > b.length) throw new ZipError('a header runs past the end of the file');
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
function u64(b: Uint8Array, at: number): number {
  const lo = u32(b, at);
  const hi = u32(b, at + 4);
  const v = hi * 2 ** 32 + lo;
  if (!Number.isSafeInteger(v)) throw new ZipError('a zip64 size is too large');
  return v;
}

const MAX32 = 0xffffffff;

/** Sizes and offset from a zip64 extra field (id 1), for the fields the header set to 0xFFFFFFFF. */
function zip64(
  b: Uint8Array,
  start: number,
  length: number,
  sizes: { size: number; compressedSize: number; offset?: number },
): void {
  const end = start + length;
  for (let at = start; at + 4 <= end; ) {
    const id = u16(b, at);
    const len = u16(b, at + 2);
    if (id === 1) {
      let p = at + 4;
      const take = () => {
        if (p + 8 > at + 4 + len) throw new ZipError('a zip64 extra field is too short');
        const v = u64(b, p);
        p += 8;
        return v;
      };
      if (sizes.size === MAX32) sizes.size = take();
      if (sizes.compressedSize === MAX32) sizes.compressedSize = take();
      if (sizes.offset === MAX32) sizes.offset = take();
      return;
    }
    at += 4 + len;
  }
}

function findEnd(b: Uint8Array): number {
  const stop = Math.max(0, b.length - 22 - 65535);
  for (let e = b.length - 22; e >= stop; e--) if (u32(b, e) === 0x06054b50) return e;
  throw new ZipError('no end-of-central-directory record; the file is truncated or not a zip');
}

/** The entries of a zip archive, every header checked (rules 1-3, 5); nothing is inflated. */
export function readZipEntries(b: Uint8Array): ZipEntry[] {
  if (b.length < 22) throw new ZipError('the file is too short for a zip archive');
  const end = findEnd(b);
  let count = u16(b, end + 10);
  let dirOffset = u32(b, end + 16);
  // zip64: a locator 20 bytes before the end record points at the zip64 end record
  if (end >= 20 && u32(b, end - 20) === 0x07064b50) {
    const z = u64(b, end - 12);
    if (z + 56 > b.length || u32(b, z) !== 0x06064b50)
      throw new ZipError('the zip64 end record is missing or corrupt');
    count = u64(b, z + 32);
    dirOffset = u64(b, z + 48);
  }
  // every central header takes at least 46 bytes: a count past that is a lie
  if (count * 46 > b.length) throw new ZipError(`it claims ${count} entries, more than the file can hold`);
  const entries: ZipEntry[] = [];
  let at = dirOffset;
  for (let i = 0; i < count; i++) {
    if (u32(b, at) !== 0x02014b50) throw new ZipError(`central header ${i} is missing or corrupt`);
    const flags = u16(b, at + 8);
    const method = u16(b, at + 10);
    const nameLength = u16(b, at + 28);
    const extraLength = u16(b, at + 30);
    const commentLength = u16(b, at + 32);
    if (at + 46 + nameLength > b.length) throw new ZipError('a file name runs past the end of the file');
    const name = new TextDecoder().decode(b.subarray(at + 46, at + 46 + nameLength));
    const sizes: { size: number; compressedSize: number; offset?: number } = {
      compressedSize: u32(b, at + 20),
      size: u32(b, at + 24),
      offset: u32(b, at + 42),
    };
    zip64(b, at + 46 + nameLength, extraLength, sizes);
    if (flags & 1) throw new ZipError(`entry '${name}' is encrypted`);
    if (method !== 0 && method !== 8)
      throw new ZipError(`entry '${name}' uses compression method ${method} (only stored and deflate)`);
    const local = sizes.offset!;
    if (u32(b, local) !== 0x04034b50) throw new ZipError(`the local header of entry '${name}' is missing`);
    if (u16(b, local + 8) !== method)
      throw new ZipError(`entry '${name}': the local and central headers disagree on the method`);
    const localName = u16(b, local + 26);
    const localExtra = u16(b, local + 28);
    if (!(u16(b, local + 6) & 8)) {
      const l = { compressedSize: u32(b, local + 18), size: u32(b, local + 22) };
      zip64(b, local + 30 + localName, localExtra, l);
      // numpy's zip64 local headers may hold zero sizes; only real disagreements count
      const agree = (x: number, y: number) => x === y || x === 0 || x === MAX32;
      if (!agree(l.size, sizes.size) || !agree(l.compressedSize, sizes.compressedSize))
        throw new ZipError(
          `entry '${name}': the local header says ${l.size} bytes (${l.compressedSize} compressed), ` +
            `the central directory ${sizes.size} (${sizes.compressedSize})`,
        );
    }
    const dataOffset = local + 30 + localName + localExtra;
    if (dataOffset + sizes.compressedSize > b.length)
      throw new ZipError(`entry '${name}' runs past the end of the file`);
    if (method === 0 && sizes.size !== sizes.compressedSize)
      throw new ZipError(
        `stored entry '${name}' claims ${sizes.size} bytes but holds ${sizes.compressedSize}`,
      );
    if (method === 8 && sizes.size > sizes.compressedSize * MAX_DEFLATE_RATIO + 1024)
      throw new ZipError(
        `entry '${name}' claims ${sizes.size} bytes from ${sizes.compressedSize} compressed bytes, ` +
          'more than deflate can produce',
      );
    entries.push({ name, method, compressedSize: sizes.compressedSize, size: sizes.size, dataOffset });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function compressed(b: Uint8Array, e: ZipEntry): Uint8Array {
  return b.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
}

/** Up to the first `n` uncompressed bytes of an entry, inflating no more than needed (plus one block). */
export function peekZipEntry(b: Uint8Array, e: ZipEntry, n: number): Uint8Array {
  const src = compressed(b, e);
  if (e.method === 0) return src.subarray(0, n);
  const parts: Uint8Array[] = [];
  let got = 0;
  const inflate = new Inflate((chunk) => {
    if (got < n) parts.push(chunk.subarray(0, n - got));
    got += chunk.length;
  });
  try {
    for (let at = 0; at < src.length && got < n; at += 1024)
      inflate.push(src.subarray(at, Math.min(src.length, at + 1024)), at + 1024 >= src.length);
  } catch (err) {
    throw new ZipError(`entry '${e.name}' is corrupt (${(err as Error).message})`);
  }
  const out = new Uint8Array(Math.min(n, got));
  let o = 0;
  for (const p of parts) {
    out.set(p.subarray(0, out.length - o), o);
    o += Math.min(p.length, out.length - o);
  }
  return out;
}

/**
 * The whole entry, inflated into a buffer of exactly its declared size (rule 4). The stream is fed in
 * 64 KiB pieces, so an entry that produces more than it declares is stopped within one piece (at most
 * ~64 MiB more), not inflated to the end.
 */
export function inflateZipEntry(b: Uint8Array, e: ZipEntry): Uint8Array {
  const src = compressed(b, e);
  if (e.method === 0) return src;
  const out = new Uint8Array(e.size);
  let got = 0;
  const inflate = new Inflate((chunk) => {
    if (got + chunk.length > out.length)
      throw new ZipError(`entry '${e.name}' inflates to more than the ${e.size} bytes it declares`);
    out.set(chunk, got);
    got += chunk.length;
  });
  const PIECE = 65536;
  try {
    for (let at = 0; at < src.length; at += PIECE)
      inflate.push(src.subarray(at, Math.min(src.length, at + PIECE)), at + PIECE >= src.length);
  } catch (err) {
    if (err instanceof ZipError) throw err;
    throw new ZipError(`entry '${e.name}' is corrupt (${(err as Error).message})`);
  }
  if (got !== e.size)
    throw new ZipError(`entry '${e.name}' inflates to ${got} bytes, not the ${e.size} it declares`);
  return out;
}
