// .npy and .npz: hand-built bytes for the edge cases, and files written by numpy
// (scripts/make-npy-fixtures.py → test/fixtures/npy/) as the oracle for the values.

import { readFileSync } from 'node:fs';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeNpy, decodeNpz, encodeNpy, encodeNpz, type NdArray, toFloat32 } from '../../src/data/index.js';
import { EdgefitError } from '../../src/errors.js';

function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`../fixtures/npy/${name}`, import.meta.url)));
}

/** A .npy file with the given header text (unpadded) and data bytes. */
function npyBytes(header: string, data: ArrayLike<number> = [], version = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(data, prefix + header.length);
  return out;
}

function header(descr: string, shape: string, fortran = 'False'): string {
  return `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;
}

function badData(fn: () => unknown): EdgefitError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EdgefitError);
    expect((e as EdgefitError).code).toBe('BAD_DATA');
    return e as EdgefitError;
  }
  throw new Error('expected a BAD_DATA error');
}

// The values scripts/make-npy-fixtures.py stores in dtypes.npz, one array per dtype and byte order.
const EXPECTED: Record<string, { dtype: string; ctor: string; values: unknown[] }> = {
  b1: { dtype: 'bool', ctor: 'Uint8Array', values: [1, 0, 1] },
  i1: { dtype: 'int8', ctor: 'Int8Array', values: [-128, -1, 0, 1, 127] },
  u1: { dtype: 'uint8', ctor: 'Uint8Array', values: [0, 1, 255] },
  i2: { dtype: 'int16', ctor: 'Int16Array', values: [-32768, -1, 0, 258, 32767] },
  u2: { dtype: 'uint16', ctor: 'Uint16Array', values: [0, 258, 65535] },
  i4: { dtype: 'int32', ctor: 'Int32Array', values: [-2147483648, -1, 0, 16909060, 2147483647] },
  u4: { dtype: 'uint32', ctor: 'Uint32Array', values: [0, 16909060, 4294967295] },
  i8: {
    dtype: 'int64',
    ctor: 'BigInt64Array',
    values: [-9223372036854775808n, -1n, 0n, 72623859790382856n, 9223372036854775807n],
  },
  u8: { dtype: 'uint64', ctor: 'BigUint64Array', values: [0n, 72623859790382856n, 18446744073709551615n] },
  // float16 keeps its bit patterns: 0, -0, 1, -2.5, 65504, 2^-24 (smallest subnormal), Inf, NaN
  f2: { dtype: 'float16', ctor: 'Uint16Array', values: [0, 32768, 15360, 49408, 31743, 1, 31744, 32256] },
  f4: {
    dtype: 'float32',
    ctor: 'Float32Array',
    values: [0, -1.5, 3.4028234663852886e38, 1.401298464324817e-45, -Infinity, NaN],
  },
  f8: { dtype: 'float64', ctor: 'Float64Array', values: [0.1, -1e308, 5e-324, Infinity] },
};

describe('decodeNpy on files written by numpy', () => {
  it('reads every dtype in both byte orders (dtypes.npz)', () => {
    const arrays = decodeNpz(fixture('dtypes.npz'));
    expect(arrays.size).toBe(24);
    for (const [code, expected] of Object.entries(EXPECTED)) {
      for (const order of ['le', 'be']) {
        const a = arrays.get(`${code}_${order}`)!;
        expect(a.dtype, `${code}_${order}`).toBe(expected.dtype);
        expect(a.shape).toEqual([expected.values.length]);
        expect(a.data.constructor.name).toBe(expected.ctor);
        expect(Array.from(a.data as ArrayLike<unknown>), `${code}_${order}`).toEqual(expected.values);
      }
    }
  });

  it('converts float16 bits, int64 and bool to float32', () => {
    const arrays = decodeNpz(fixture('dtypes.npz'));
    expect(Array.from(toFloat32(arrays.get('f2_be')!))).toEqual([
      0,
      -0,
      1,
      -2.5,
      65504,
      2 ** -24,
      Infinity,
      NaN,
    ]);
    // numpy: arrays['i8_le'].astype(np.float32) == [-2**63, -1, 0, 72623859706101760, 2**63]
    expect(Array.from(toFloat32(arrays.get('i8_le')!))).toEqual([
      -(2 ** 63),
      -1,
      0,
      72623859706101760,
      2 ** 63,
    ]);
    expect(Array.from(toFloat32(arrays.get('b1_be')!))).toEqual([1, 0, 1]);
    expect(Array.from(toFloat32(arrays.get('u2_be')!))).toEqual([0, 258, 65535]);
  });

  it('reads big-endian float32 in C order', () => {
    const a = decodeNpy(fixture('f4-be-2x3.npy'));
    expect(a.dtype).toBe('float32');
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data as Float32Array)).toEqual([-0.5, -0.25, 0, 0.25, 0.5, 0.75]);
  });

  it('reads float16 as bit patterns', () => {
    const a = decodeNpy(fixture('f2-2x2.npy'));
    expect(a.dtype).toBe('float16');
    expect(a.shape).toEqual([2, 2]);
    expect(Array.from(a.data as Uint16Array)).toEqual([15360, 49408, 31743, 13653]);
    // numpy: np.float16(0.333333) == 0.333251953125
    expect(Array.from(toFloat32(a))).toEqual([1, -2.5, 65504, 0.333251953125]);
  });

  it('reads int64 beyond 2^53 exactly', () => {
    const a = decodeNpy(fixture('i8-2x2.npy'));
    expect(a.dtype).toBe('int64');
    expect(Array.from(a.data as BigInt64Array)).toEqual([-(2n ** 62n) - 3n, 7n, 2n ** 53n + 1n, -1n]);
  });

  it('reads bool, 3-D big-endian uint16, scalars and empty arrays', () => {
    const b = decodeNpy(fixture('bool-2x3.npy'));
    expect(b.dtype).toBe('bool');
    expect(Array.from(b.data as Uint8Array)).toEqual([1, 0, 1, 0, 0, 1]);
    const u = decodeNpy(fixture('u2-be-2x2x2.npy'));
    expect(u.shape).toEqual([2, 2, 2]);
    expect(Array.from(u.data as Uint16Array)).toEqual([0, 4097, 8194, 12291, 16388, 20485, 24582, 28679]);
    const s = decodeNpy(fixture('scalar-f4.npy'));
    expect(s.shape).toEqual([]);
    expect(Array.from(s.data as Float32Array)).toEqual([2.75]);
    const e = decodeNpy(fixture('empty-0x3.npy'));
    expect(e.shape).toEqual([0, 3]);
    expect(e.data.length).toBe(0);
  });

  it('reads version 2.0 and 3.0 headers', () => {
    const v2 = decodeNpy(fixture('v2-f8-3.npy'));
    expect(v2.dtype).toBe('float64');
    expect(Array.from(v2.data as Float64Array)).toEqual([1.25, -2.5, 1e-300]);
    const v3 = decodeNpy(fixture('v3-i2-2x2.npy'));
    expect(v3.shape).toEqual([2, 2]);
    expect(Array.from(v3.data as Int16Array)).toEqual([1, -2, 300, -400]);
  });

  it('refuses Fortran order with the fix', () => {
    const e = badData(() => decodeNpy(fixture('fortran-2x3.npy'), 'x.npy'));
    expect(e.message).toBe(
      'x.npy is stored in Fortran order (save it with np.save(path, np.ascontiguousarray(a)))',
    );
  });

  it('reads a deflated .npz dataset (np.savez_compressed)', () => {
    const arrays = decodeNpz(fixture('dataset-compressed.npz'));
    expect([...arrays.keys()].sort()).toEqual(['input', 'labels']);
    const x = arrays.get('input')!;
    expect(x.shape).toEqual([4, 1, 2, 2]);
    expect(Array.from(x.data as Float32Array)).toEqual(Array.from({ length: 16 }, (_, i) => (i - 8) / 8));
    expect(Array.from(arrays.get('labels')!.data as BigInt64Array)).toEqual([3n, 0n, 9n, 1n]);
  });
});

describe('decodeNpy on hand-built bytes', () => {
  it('reads data at any byte offset and never aliases the input', () => {
    const file = npyBytes(header('<i4', '(2,)'), [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    const shifted = new Uint8Array(file.length + 3);
    shifted.set(file, 3);
    const a = decodeNpy(shifted.subarray(3));
    expect(Array.from(a.data as Int32Array)).toEqual([1, -1]);
    shifted[3 + file.length - 8] = 9;
    expect((a.data as Int32Array)[0]).toBe(1);
  });

  it('byte-swaps every big-endian width', () => {
    const i2 = decodeNpy(npyBytes(header('>i2', '(2,)'), [0x01, 0x02, 0xff, 0xfe]));
    expect(Array.from(i2.data as Int16Array)).toEqual([258, -2]);
    const f8 = decodeNpy(npyBytes(header('>f8', '(1,)'), [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]));
    expect(Array.from(f8.data as Float64Array)).toEqual([1.5]);
    const u8 = decodeNpy(npyBytes(header('>u8', '(1,)'), [1, 2, 3, 4, 5, 6, 7, 8]));
    expect(Array.from(u8.data as BigUint64Array)).toEqual([0x0102030405060708n]);
  });

  it('accepts Fortran order when only one axis is longer than 1', () => {
    const a = decodeNpy(npyBytes(header('|u1', '(1, 3)', 'True'), [4, 5, 6]));
    expect(Array.from(a.data as Uint8Array)).toEqual([4, 5, 6]);
  });

  it('accepts key order and spacing other than numpy’s, and Python 2 long suffixes', () => {
    const a = decodeNpy(npyBytes(`{"shape":(2L,1L),"fortran_order":False,"descr":"<u2"}`, [1, 0, 2, 0]));
    expect(a.shape).toEqual([2, 1]);
    expect(Array.from(a.data as Uint16Array)).toEqual([1, 2]);
  });

  it('rejects what is not a .npy file', () => {
    expect(badData(() => decodeNpy(new Uint8Array([1, 2, 3]), 'a.npy')).message).toMatch(
      /^a\.npy is not a \.npy file/,
    );
    const v4 = npyBytes(header('<f4', '()'), [0, 0, 0, 0]);
    v4[6] = 4;
    expect(badData(() => decodeNpy(v4)).message).toMatch(/version 4\.0/);
  });

  it('rejects a header length past the end of the file', () => {
    const v1 = npyBytes(header('<f4', '(1,)'), [0, 0, 0, 0]);
    new DataView(v1.buffer).setUint16(8, 0xffff, true);
    expect(badData(() => decodeNpy(v1)).message).toMatch(/header length of 65535 bytes, past the end/);
    const v2 = npyBytes(header('<f4', '(1,)'), [0, 0, 0, 0], 2);
    new DataView(v2.buffer).setUint32(8, 0xffffffff, true);
    expect(badData(() => decodeNpy(v2)).message).toMatch(/header length of 4294967295 bytes/);
    expect(badData(() => decodeNpy(v2.subarray(0, 11))).message).toMatch(/truncated/);
  });

  it('rejects data shorter than the shape implies', () => {
    const e = badData(() => decodeNpy(npyBytes(header('<f4', '(10,)'), new Array(8).fill(0)), 'x.npy'));
    expect(e.message).toBe(
      'x.npy is too short: shape (10) of float32 needs 40 data bytes, the file holds 8 ' +
        '(the file is truncated; save it again with np.save)',
    );
  });

  it('rejects absurd shapes without allocating', () => {
    const overflow = npyBytes(header('<f4', '(4294967296, 4294967296, 4294967296)'), [0, 0, 0, 0]);
    expect(badData(() => decodeNpy(overflow)).message).toMatch(/element count overflows/);
    const huge = npyBytes(header('<f8', '(1000000000000,)'), [0, 0, 0, 0]);
    expect(badData(() => decodeNpy(huge)).message).toMatch(
      /needs 8000000000000 data bytes, the file holds 4/,
    );
    const zero = decodeNpy(npyBytes(header('<f8', '(1000000000000, 0)')));
    expect(zero.data.length).toBe(0);
  });

  it('rejects non-numeric dtypes and broken headers', () => {
    for (const descr of ['<c8', '|O', '<U5', '|S3', '<M8[ns]', '<f16']) {
      expect(
        badData(() => decodeNpy(npyBytes(header(descr, '(1,)'), new Array(16).fill(0)))).message,
      ).toMatch(/which edgefit does not read/);
    }
    const structured = `{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }`;
    expect(badData(() => decodeNpy(npyBytes(structured, [0, 0, 0, 0]))).message).toMatch(/structured array/);
    expect(badData(() => decodeNpy(npyBytes(header('<f4', '(2, x)')))).message).toMatch(/shape entry 'x'/);
    expect(badData(() => decodeNpy(npyBytes(`{'descr': '<f4'}`))).message).toMatch(/no 'fortran_order'/);
  });
});

describe('encodeNpy / encodeNpz', () => {
  it('writes the same bytes as numpy', () => {
    for (const name of [
      'f4-le-2x3.npy',
      'f2-2x2.npy',
      'i8-2x2.npy',
      'bool-2x3.npy',
      'scalar-f4.npy',
      'empty-0x3.npy',
    ]) {
      const file = fixture(name);
      expect(encodeNpy(decodeNpy(file)), name).toEqual(file);
    }
  });

  it('round-trips every dtype, big-endian input written little-endian', () => {
    for (const [name, array] of decodeNpz(fixture('dtypes.npz'))) {
      const bytes = encodeNpy(array);
      expect(bytes[8]! | (bytes[9]! << 8), name).toBe(118); // header padded to 128 bytes like numpy
      const back = decodeNpy(bytes);
      expect(back, name).toEqual(array);
    }
  });

  it('writes .npz archives that read back', () => {
    const arrays = new Map<string, NdArray>([
      ['input', { dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }],
      ['labels', { dtype: 'int64', shape: [2], data: new BigInt64Array([5n, 7n]) }],
    ]);
    const back = decodeNpz(encodeNpz(arrays));
    expect(back).toEqual(arrays);
    expect(decodeNpz(encodeNpz({ x: arrays.get('input')! })).get('x')).toEqual(arrays.get('input'));
  });

  it('refuses a shape that does not match the data (a bug in the caller)', () => {
    expect(() => encodeNpy({ dtype: 'float32', shape: [3], data: new Float32Array(2) })).toThrow(
      /does not match 2 elements/,
    );
  });
});

describe('decodeNpz errors', () => {
  it('rejects what is not a zip file', () => {
    const e = badData(() => decodeNpz(new Uint8Array(100).fill(7), 'd.npz'));
    expect(e.message).toMatch(/^d\.npz is not a valid \.npz file \(it does not start with the zip signature/);
  });

  it('rejects a truncated archive', () => {
    const file = fixture('dataset-compressed.npz');
    expect(badData(() => decodeNpz(file.subarray(0, 200))).message).toMatch(/not a valid \.npz file \(/);
  });

  it('rejects an entry whose declared size no deflate stream could produce', () => {
    const file = fixture('dataset-compressed.npz').slice();
    const view = new DataView(file.buffer);
    // the first central directory header (PK\1\2) holds the uncompressed size at offset 24, the
    // first local header (PK\3\4) at offset 22: forged in both, the sizes agree but are impossible
    let at = 0;
    while (view.getUint32(at, true) !== 0x02014b50) at++;
    view.setUint32(at + 24, 0xf0000000, true);
    view.setUint32(22, 0xf0000000, true);
    expect(badData(() => decodeNpz(file)).message).toMatch(/claims 4026531840 bytes from/);
  });

  it('rejects an entry whose local and central headers disagree on its size', () => {
    const file = fixture('dataset-compressed.npz').slice();
    const view = new DataView(file.buffer);
    let at = 0;
    while (view.getUint32(at, true) !== 0x02014b50) at++;
    view.setUint32(at + 24, 100_000, true);
    expect(badData(() => decodeNpz(file)).message).toMatch(
      /entry 'input\.npy': the local header says 192 bytes \(117 compressed\), the central directory 100000/,
    );
  });

  it('names the entry when an array inside is broken', () => {
    const zip = zipSync({ 'x.npy': new Uint8Array([1, 2, 3]), 'notes.txt': new Uint8Array([65]) });
    expect(badData(() => decodeNpz(zip, 'd.npz')).message).toMatch(/^d\.npz entry 'x' is not a \.npy file/);
  });

  it('skips entries that are not .npy files', () => {
    const zip = zipSync({ 'readme.txt': new Uint8Array([65]) });
    expect(decodeNpz(zip).size).toBe(0);
  });
});

describe('decodeNpy from a Node Buffer', () => {
  it('reads the array, not the pool around it (Buffer#slice is a view)', async () => {
    const { encodeNpy, decodeNpy } = await import('../../src/data/npy.js');
    const bytes = encodeNpy({ dtype: 'float32', shape: [3], data: Float32Array.from([1.5, -2, 3]) });
    // a small Buffer lives inside Node's shared 8 KiB pool: its .buffer is much larger than it
    const buf = Buffer.from(bytes);
    const arr = decodeNpy(buf, 'buf');
    expect(Array.from(arr.data as Float32Array)).toEqual([1.5, -2, 3]);
  });
});
