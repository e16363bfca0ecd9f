// IDX: the real Fashion-MNIST test set (Debian package dataset-fashion-mnist) checked against numpy's
// reading of the same files, plus hand-built files for every element type and the error cases.

import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeIdx, idxImagesToTensor, type NdArray } from '../../src/data/index.js';
import { EdgefitError } from '../../src/errors.js';

const FASHION = '/usr/share/datasets/fashion-mnist';
const haveFashion = existsSync(`${FASHION}/t10k-images-idx3-ubyte.gz`);

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

/** An IDX file: type byte, big-endian dims, then the given (already big-endian) data bytes. */
function idxBytes(type: number, dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

// Expected values computed with numpy 1.24 (/usr/bin/python3) from the same files:
//   lab = np.frombuffer(gzip.open('t10k-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)
//   img = np.frombuffer(gzip.open('t10k-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 28, 28)
//   np.bincount(lab); lab[:12]; lab[-3:]; img.sum(); img[0].sum(); img[9999].sum(); img[0,14,14]; ...
//   np.float32(((img.astype(np.float64) * (1/255)) - 0.2860) / 0.3530)[0,14,14]
describe.skipIf(!haveFashion)('Fashion-MNIST t10k', () => {
  it('reads the labels', () => {
    const labels = decodeIdx(new Uint8Array(readFileSync(`${FASHION}/t10k-labels-idx1-ubyte.gz`)));
    expect(labels.dtype).toBe('uint8');
    expect(labels.shape).toEqual([10000]);
    const counts = new Array(10).fill(0);
    for (const l of labels.data as Uint8Array) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    expect(Array.from(labels.data.subarray(0, 12) as Uint8Array)).toEqual([
      9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5,
    ]);
    expect(Array.from(labels.data.subarray(9997) as Uint8Array)).toEqual([8, 1, 5]);
  });

  it('reads the images and preprocesses them', () => {
    const images = decodeIdx(new Uint8Array(readFileSync(`${FASHION}/t10k-images-idx3-ubyte.gz`)), 'images');
    expect(images.dtype).toBe('uint8');
    expect(images.shape).toEqual([10000, 28, 28]);
    const px = images.data as Uint8Array;
    const at = (n: number, y: number, x: number) => px[n * 784 + y * 28 + x];
    let total = 0;
    for (const v of px) total += v;
    expect(total).toBe(573469082);
    expect(px.subarray(0, 784).reduce((s, v) => s + v, 0)).toBe(33456);
    expect(px.subarray(9999 * 784).reduce((s, v) => s + v, 0)).toBe(24390);
    expect([at(0, 14, 14), at(0, 20, 10), at(1, 10, 13), at(9999, 27, 27), at(9999, 14, 14)]).toEqual([
      110, 126, 157, 0, 132,
    ]);
    // the first non-zero pixels of image 0, row-major: (7,19)=3, (7,20)=1, (7,23)=7
    expect(Array.from(px.subarray(7 * 28 + 19, 7 * 28 + 24))).toEqual([3, 1, 0, 0, 7]);
    expect(px.subarray(0, 7 * 28 + 19).every((v) => v === 0)).toBe(true);

    const x = idxImagesToTensor(images, { scale: 1 / 255, mean: 0.286, std: 0.353 });
    expect(x.dtype).toBe('float32');
    expect(x.shape).toEqual([10000, 1, 28, 28]);
    const xd = x.data as Float32Array;
    expect(xd[14 * 28 + 14]).toBe(Math.fround(0.41182026));
    expect(xd[784 + 10 * 28 + 13]).toBe(Math.fround(0.93395543));
    expect(xd[0]).toBe(Math.fround(-0.8101983));
  });

  it('names the file when it is truncated', () => {
    const gz = new Uint8Array(readFileSync(`${FASHION}/t10k-labels-idx1-ubyte.gz`));
    const e = badData(() => decodeIdx(gz.subarray(0, 2000), 'labels.gz'));
    expect(e.message).toMatch(/^labels\.gz is gzipped but cannot be decompressed/);
  });
});

describe('decodeIdx on hand-built files', () => {
  it('reads every element type big-endian', () => {
    const cases: [number, number[], string, number[]][] = [
      [0x08, [0x00, 0xff], 'uint8', [0, 255]],
      [0x09, [0x80, 0x7f], 'int8', [-128, 127]],
      [0x0b, [0x01, 0x02, 0xff, 0xfe], 'int16', [258, -2]],
      [0x0c, [0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xfd], 'int32', [16909060, -3]],
      [0x0d, [0x3f, 0xc0, 0, 0, 0xc2, 0x28, 0, 0], 'float32', [1.5, -42]],
      [
        0x0e,
        [0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
        'float64',
        [0.1, Infinity],
      ],
    ];
    for (const [type, bytes, dtype, values] of cases) {
      const a = decodeIdx(idxBytes(type, [2], bytes));
      expect(a.dtype).toBe(dtype);
      expect(a.shape).toEqual([2]);
      expect(Array.from(a.data as ArrayLike<number>)).toEqual(values);
    }
  });

  it('reads gzipped files and files at any byte offset', () => {
    const file = idxBytes(0x0b, [1, 2], [0, 5, 0x80, 0]);
    expect(Array.from(decodeIdx(gzipSync(file)).data as Int16Array)).toEqual([5, -32768]);
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    expect(Array.from(decodeIdx(shifted.subarray(1)).data as Int16Array)).toEqual([5, -32768]);
  });

  it('rejects corrupt files', () => {
    expect(badData(() => decodeIdx(new Uint8Array([0x50, 0x4b, 3, 4]), 'x')).message).toBe(
      'x is not an IDX file (it starts with 50 4b, expected 00 00) ' +
        '(pass MNIST-style files such as t10k-images-idx3-ubyte(.gz))',
    );
    expect(badData(() => decodeIdx(idxBytes(0x0a, [1], [0]))).message).toMatch(/type byte 0x0a/);
    expect(badData(() => decodeIdx(idxBytes(0x08, [], []))).message).toMatch(/declares 0 dimensions/);
    expect(badData(() => decodeIdx(idxBytes(0x08, [2, 3], []).subarray(0, 9))).message).toMatch(
      /truncated inside its header/,
    );
    expect(badData(() => decodeIdx(idxBytes(0x0c, [3], [0, 0, 0, 1, 0, 0]), 'x')).message).toMatch(
      /^x is too short: shape \[3\] of int32 needs 12 data bytes, the file holds 6/,
    );
    const absurd = idxBytes(0x08, [0xffffffff, 0xffffffff, 0xffffffff], [1, 2, 3]);
    expect(badData(() => decodeIdx(absurd)).message).toMatch(/element count overflows/);
  });

  it('rejects a gzip trailer that claims an impossible size', () => {
    const gz = gzipSync(idxBytes(0x08, [4], [1, 2, 3, 4]));
    new DataView(gz.buffer).setUint32(gz.length - 4, 0xfffffff0, true);
    expect(badData(() => decodeIdx(gz)).message).toMatch(/claims 4294967280 bytes/);
  });
});

describe('idxImagesToTensor', () => {
  const images: NdArray = {
    dtype: 'uint8',
    shape: [2, 2, 3],
    data: new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
  };

  it('scales, centres and lays out one-channel images', () => {
    const nchw = idxImagesToTensor(images, { scale: 2, mean: 1, std: 4 });
    expect(nchw.shape).toEqual([2, 1, 2, 3]);
    expect(Array.from(nchw.data as Float32Array)).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((p) => (p * 2 - 1) / 4),
    );
    const nhwc = idxImagesToTensor(images, { scale: 2, mean: 1, std: 4, layout: 'nhwc' });
    expect(nhwc.shape).toEqual([2, 2, 3, 1]);
    expect(nhwc.data).toEqual(nchw.data);
  });

  it('transposes interleaved colour images with per-channel mean and std', () => {
    // one 1×2 image with 3 channels: pixels (10,20,30) and (40,50,60)
    const rgb: NdArray = {
      dtype: 'uint8',
      shape: [1, 1, 2, 3],
      data: new Uint8Array([10, 20, 30, 40, 50, 60]),
    };
    const x = idxImagesToTensor(rgb, { scale: 1, mean: [10, 20, 30], std: [1, 2, 5] });
    expect(x.shape).toEqual([1, 3, 1, 2]);
    expect(Array.from(x.data as Float32Array)).toEqual([0, 30, 0, 15, 0, 6]);
    const y = idxImagesToTensor(rgb, { scale: 1, mean: [10, 20, 30], std: [1, 2, 5], layout: 'nhwc' });
    expect(y.shape).toEqual([1, 1, 2, 3]);
    expect(Array.from(y.data as Float32Array)).toEqual([0, 0, 0, 30, 15, 6]);
  });

  it('rejects wrong ranks and bad options', () => {
    const flat: NdArray = { dtype: 'uint8', shape: [12], data: images.data as Uint8Array };
    expect(badData(() => idxImagesToTensor(flat, { scale: 1, mean: 0, std: 1 })).message).toMatch(
      /must have shape \[N,H,W\] or \[N,H,W,C\], got \[12\]/,
    );
    const bad = (options: Parameters<typeof idxImagesToTensor>[1]) => {
      try {
        idxImagesToTensor(images, options);
      } catch (e) {
        expect((e as EdgefitError).code).toBe('BAD_ARGUMENT');
        return (e as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(bad({ scale: 1, mean: 0, std: 0 })).toMatch(/std must not be 0/);
    expect(bad({ scale: 1, mean: [0, 0, 0], std: 1 })).toMatch(
      /mean has 3 values but the images have 1 channel/,
    );
    expect(bad({ scale: Number.NaN, mean: 0, std: 1 })).toMatch(/scale must be a finite number/);
  });
});
