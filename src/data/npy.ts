// NumPy `.npy` files: decode into native typed arrays, encode from them.
//
// Layout (numpy.lib.format): magic `\x93NUMPY`, major and minor version bytes, the header length
// (uint16 LE for version 1, uint32 LE for versions 2 and 3), then the header — a Python dict literal
// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a final newline
// (latin-1 for versions 1 and 2, UTF-8 for version 3) — then the raw elements.
//
// Rules:
// 1. Numeric dtypes only (`b1 i1 u1 i2 u2 i4 u4 i8 u8 f2 f4 f8`); structured, string, object, complex
//    and datetime dtypes are refused.
// 2. Big-endian data is byte-swapped into native order; the result never aliases the input bytes.
// 3. C order only. Fortran order is refused unless at most one axis is longer than 1 (then the two
//    orders hold the same bytes).
// 4. The shape is checked against the bytes before anything is allocated, so a corrupt header is an
//    error, never a huge allocation.
// 5. float16 stays as its bit patterns (Uint16Array); int64 and uint64 use BigInt arrays.

import { EdgefitError } from '../errors.js';
import { float16ArrayToFloat32 } from '../onnx/float16.js';

/** The typed array that holds each dtype's elements. */
export interface NdArrayDataTypes {
  bool: Uint8Array; // 0 or 1
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  float16: Uint16Array; // IEEE 754 half-precision bit patterns
  float32: Float32Array;
  float64: Float64Array;
}

export type NdDtype = keyof NdArrayDataTypes;

export interface NdArrayOf<D extends NdDtype> {
  dtype: D;
  shape: number[];
  data: NdArrayDataTypes[D]; // C order, native byte order, length = product of shape
}

/** A dense n-dimensional array; `dtype` tells which typed array `data` is. */
export type NdArray = { [D in NdDtype]: NdArrayOf<D> }[NdDtype];

interface DtypeInfo {
  size: number; // bytes per element
  code: string; // numpy kind + size, e.g. 'f4'
  ctor: new (buffer: ArrayBuffer) => NdArrayDataTypes[NdDtype];
}

const DTYPES: Record<NdDtype, DtypeInfo> = {
  bool: { size: 1, code: 'b1', ctor: Uint8Array },
  int8: { size: 1, code: 'i1', ctor: Int8Array },
  uint8: { size: 1, code: 'u1', ctor: Uint8Array },
  int16: { size: 2, code: 'i2', ctor: Int16Array },
  uint16: { size: 2, code: 'u2', ctor: Uint16Array },
  int32: { size: 4, code: 'i4', ctor: Int32Array },
  uint32: { size: 4, code: 'u4', ctor: Uint32Array },
  int64: { size: 8, code: 'i8', ctor: BigInt64Array },
  uint64: { size: 8, code: 'u8', ctor: BigUint64Array },
  float16: { size: 2, code: 'f2', ctor: Uint16Array },
  float32: { size: 4, code: 'f4', ctor: Float32Array },
  float64: { size: 8, code: 'f8', ctor: Float64Array },
};

const DTYPE_BY_CODE = new Map<string, NdDtype>(
  (Object.keys(DTYPES) as NdDtype[]).map((dtype) => [DTYPES[dtype].code, dtype]),
);

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64; // numpy pads magic + length + header to a multiple of 64 bytes
const GROWTH_AXIS_MAX_DIGITS = 21; // numpy reserves room to grow the first axis in place
const MAX_HEADER_LENGTH = 100_000; // numpy itself refuses headers over 10 000 characters

/** Cap on the bytes a compressed data file (.npz, gzipped IDX) may expand to: 1 GiB. */
export const MAX_DATA_BYTES = 1024 ** 3;

export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function badData(message: string, fix?: string): EdgefitError {
  return new EdgefitError('BAD_DATA', message, fix);
}

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: NdDtype): number {
  return DTYPES[dtype].size;
}

/**
 * Number of elements a shape holds, or undefined when it is not a list of non-negative safe integers
 * or the product is not a safe integer.
 */
export function shapeSize(shape: readonly number[]): number | undefined {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return undefined;
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (!Number.isSafeInteger(count)) return undefined;
  }
  return count;
}

/**
 * Copy `count` elements of `dtype` from `bytes` (in the given byte order) into a fresh native typed
 * array. The caller has checked that `bytes` holds at least count × size bytes.
 */
export function typedArrayFromBytes<D extends NdDtype>(
  bytes: Uint8Array,
  dtype: D,
  count: number,
  littleEndian: boolean,
): NdArrayDataTypes[D] {
  const { size, ctor } = DTYPES[dtype];
  // a copy of exactly these bytes (Buffer#slice would be a view into Node's shared pool)
  const copy = Uint8Array.prototype.slice.call(bytes, 0, count * size);
  if (size > 1 && littleEndian !== HOST_IS_LITTLE_ENDIAN) swapBytes(copy, size);
  return new ctor(copy.buffer) as NdArrayDataTypes[D];
}

/** Reverse the bytes of every `size`-byte element, in place. */
function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

// The header is a Python dict literal written by `repr`; the three keys are read by pattern rather than
// by evaluating it, which is all numpy's own safe_eval accepts for numeric arrays anyway.
function parseHeader(header: string, source: string): NpyHeader {
  const broken = (what: string) =>
    badData(
      `${source} has a broken .npy header (${what}): ${JSON.stringify(header.trim())}`,
      'save it again with np.save',
    );
  const descr = /['"]descr['"]\s*:\s*(['"])(.*?)\1/.exec(header);
  if (!descr) {
    if (/['"]descr['"]\s*:\s*\[/.test(header)) {
      throw badData(
        `${source} holds a structured array (fields), which edgefit does not read`,
        'save each field as its own array, e.g. np.savez(path, **{n: a[n] for n in a.dtype.names})',
      );
    }
    throw broken("no 'descr'");
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)\b/.exec(header);
  if (!fortran) throw broken("no 'fortran_order'");
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!shapeMatch) throw broken("no 'shape'");
  const parts = shapeMatch[1]!
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const shape = parts.map((p) => {
    if (!/^\d+L?$/.test(p)) throw broken(`shape entry '${p}'`);
    return Number(p.replace('L', ''));
  });
  return { descr: descr[2]!, fortranOrder: fortran[1] === 'True', shape };
}

function parseDescr(descr: string, source: string): { dtype: NdDtype; littleEndian: boolean } {
  const m = /^([<>|=]?)([a-zA-Z]\d+)$/.exec(descr);
  const dtype = m ? DTYPE_BY_CODE.get(m[2]!) : undefined;
  if (!m || !dtype) {
    throw badData(
      `${source} has dtype '${descr}', which edgefit does not read`,
      'convert it to a numeric dtype first, e.g. a.astype(np.float32)',
    );
  }
  // '=' (native) never appears in files numpy writes; every platform numpy runs on today is little-endian.
  return { dtype, littleEndian: m[1] !== '>' };
}

export interface NpyLayout {
  dtype: NdDtype;
  shape: number[];
  littleEndian: boolean;
  /** byte offset of the first element */
  dataStart: number;
  /** element count */
  count: number;
}

/**
 * Parse and validate a `.npy` header. `bytes` needs to hold at least the header; `fileSize` is the
 * size of the whole file (defaults to bytes.length), so a reader can check a huge file from its head.
 */
export function decodeNpyHeader(
  bytes: Uint8Array,
  source = 'the .npy file',
  fileSize = bytes.length,
): NpyLayout {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw badData(
      `${source} is not a .npy file (it does not start with \\x93NUMPY)`,
      'write it with np.save',
    );
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = bytes[8]! | (bytes[9]! << 8);
  } else if (major === 2 || major === 3) {
    headerStart = 12;
    if (bytes.length < headerStart) throw badData(`${source} is truncated inside its .npy header`);
    headerLength = (bytes[8]! | (bytes[9]! << 8) | (bytes[10]! << 16) | (bytes[11]! << 24)) >>> 0;
  } else {
    throw badData(
      `${source} uses .npy format version ${major}.${minor}; edgefit reads versions 1.0 to 3.0`,
      'save it with np.save',
    );
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) {
    throw badData(
      `${source} has a header length of ${headerLength} bytes, past the end of the file (${bytes.length} bytes)`,
      'the file is truncated or corrupt; save it again with np.save',
    );
  }
  if (headerLength > MAX_HEADER_LENGTH) {
    throw badData(`${source} has a ${headerLength}-byte .npy header, far larger than any array needs`);
  }
  const headerBytes = bytes.subarray(headerStart, dataStart);
  const header = major === 3 ? new TextDecoder().decode(headerBytes) : latin1(headerBytes);
  const { descr, fortranOrder, shape } = parseHeader(header, source);
  const { dtype, littleEndian } = parseDescr(descr, source);

  const count = shapeSize(shape);
  if (count === undefined) {
    throw badData(
      `${source} has an impossible shape (${shape.join(', ')}): its element count overflows`,
      'the header is corrupt; save the array again with np.save',
    );
  }
  // Fortran and C order hold the same bytes when at most one axis is longer than 1.
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) {
    throw badData(
      `${source} is stored in Fortran order`,
      'save it with np.save(path, np.ascontiguousarray(a))',
    );
  }
  const available = fileSize - dataStart;
  const needed = count * DTYPES[dtype].size;
  if (needed > available) {
    throw badData(
      `${source} is too short: shape (${shape.join(', ')}) of ${dtype} needs ${needed} data bytes, ` +
        `the file holds ${available}`,
      'the file is truncated; save it again with np.save',
    );
  }
  return { dtype, shape, littleEndian, dataStart, count };
}

/**
 * Decode a `.npy` file. `source` names the file in error messages.
 * The returned data is a fresh copy in native byte order.
 */
export function decodeNpy(bytes: Uint8Array, source = 'the .npy file'): NdArray {
  const { dtype, shape, littleEndian, dataStart, count } = decodeNpyHeader(bytes, source);
  const data = typedArrayFromBytes(bytes.subarray(dataStart), dtype, count, littleEndian);
  return { dtype, shape, data } as NdArray;
}

function shapeRepr(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/**
 * Encode an array as a version 1.0 `.npy` file (version 2.0 only if the header would not fit), little
 * endian, C order, with the header laid out byte for byte as NumPy writes it.
 */
export function encodeNpy(array: NdArray): Uint8Array {
  const { dtype, shape, data } = array;
  const info = DTYPES[dtype];
  const count = shapeSize(shape);
  if (count === undefined || count !== data.length) {
    throw new Error(`encodeNpy: shape [${shape.join(', ')}] does not match ${data.length} elements`);
  }
  const order = info.size === 1 ? '|' : '<';
  let dict = `{'descr': '${order}${info.code}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  let prefixLength = 10;
  let padded = padHeader(dict, prefixLength);
  if (padded.length > 0xffff) {
    prefixLength = 12;
    padded = padHeader(dict, prefixLength);
  }
  const out = new Uint8Array(prefixLength + padded.length + count * info.size);
  out.set(MAGIC, 0);
  out[6] = prefixLength === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (prefixLength === 10) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  for (let i = 0; i < padded.length; i++) out[prefixLength + i] = padded.charCodeAt(i);
  const body = out.subarray(prefixLength + padded.length);
  body.set(new Uint8Array(data.buffer, data.byteOffset, count * info.size));
  if (info.size > 1 && !HOST_IS_LITTLE_ENDIAN) swapBytes(body, info.size);
  return out;
}

function padHeader(dict: string, prefixLength: number): string {
  const length = dict.length + 1; // + '\n'
  const pad = ALIGN - ((prefixLength + length) % ALIGN);
  return dict + ' '.repeat(pad) + '\n';
}

/**
 * Convert any numeric array to float32 values (float16 bit patterns are decoded, int64 goes through
 * Number, bool becomes 0/1). Always returns a new array.
 */
export function toFloat32(array: NdArray): Float32Array {
  switch (array.dtype) {
    case 'float16':
      return float16ArrayToFloat32(array.data);
    case 'int64':
    case 'uint64': {
      const out = new Float32Array(array.data.length);
      for (let i = 0; i < out.length; i++) out[i] = Number(array.data[i]!);
      return out;
    }
    default:
      return new Float32Array(array.data);
  }
}
