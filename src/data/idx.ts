// IDX files, the format of MNIST and Fashion-MNIST, optionally gzipped.
//
// Layout: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
// 0x0E float64), the number of dimensions, each dimension as a big-endian uint32, then the elements in
// C order, big-endian. Gzipped files (first bytes 1f 8b) are inflated first.
//
// `idxImagesToTensor` turns images [N,H,W] (or interleaved [N,H,W,C]) into the float32 model input
//   x = (pixel × scale − mean[c]) / std[c]
// laid out as [N,C,H,W] (default) or [N,H,W,C].

import { gunzipSync } from 'fflate';
import { EdgefitError } from '../errors.js';
import {
  dtypeSize,
  MAX_DATA_BYTES,
  type NdArray,
  type NdDtype,
  shapeSize,
  toFloat32,
  typedArrayFromBytes,
} from './npy.js';

const IDX_TYPES = new Map<number, NdDtype>([
  [0x08, 'uint8'],
  [0x09, 'int8'],
  [0x0b, 'int16'],
  [0x0c, 'int32'],
  [0x0d, 'float32'],
  [0x0e, 'float64'],
]);

const MAX_DEFLATE_RATIO = 1032; // deflate cannot expand data more than ~1032:1

function badData(message: string, fix?: string): EdgefitError {
  return new EdgefitError('BAD_DATA', message, fix);
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}

function gunzip(bytes: Uint8Array, source: string): Uint8Array {
  const corrupt = (why: string) =>
    badData(
      `${source} is gzipped but cannot be decompressed (${why})`,
      'the file is truncated or corrupt; download it again',
    );
  if (bytes.length < 18) throw corrupt('too short');
  // The trailer's ISIZE tells fflate how much to allocate; refuse sizes deflate cannot produce.
  const n = bytes.length;
  const declared =
    (bytes[n - 4]! | (bytes[n - 3]! << 8) | (bytes[n - 2]! << 16) | (bytes[n - 1]! << 24)) >>> 0;
  if (declared > n * MAX_DEFLATE_RATIO)
    throw corrupt(`it claims ${declared} bytes from ${n} compressed bytes`);
  if (declared > MAX_DATA_BYTES)
    throw badData(
      `${source} expands to ${declared} bytes, past the ${MAX_DATA_BYTES / 1024 ** 3} GiB cap for gzipped data`,
      'use fewer samples, or a .npy file (streamed from disk)',
    );
  try {
    return gunzipSync(bytes);
  } catch (e) {
    throw corrupt(e instanceof Error ? e.message : String(e));
  }
}

/** Decode an IDX file (gzipped or not). `source` names the file in error messages. */
export function decodeIdx(bytes: Uint8Array, source = 'the IDX file'): NdArray {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzip(bytes, source);
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw badData(
      `${source} is not an IDX file (it starts with ${hex(bytes[0])} ${hex(bytes[1])}, expected 00 00)`,
      'pass MNIST-style files such as t10k-images-idx3-ubyte(.gz)',
    );
  }
  const dtype = IDX_TYPES.get(bytes[2]!);
  if (!dtype) {
    throw badData(
      `${source} has IDX type byte 0x${hex(bytes[2])}; known types are 08 09 0b 0c 0d 0e`,
      'the file is corrupt or not an IDX file',
    );
  }
  const rank = bytes[3]!;
  if (rank === 0) throw badData(`${source} declares 0 dimensions`, 'the file is corrupt or not an IDX file');
  const dataStart = 4 + 4 * rank;
  if (bytes.length < dataStart) {
    throw badData(`${source} is truncated inside its header (${rank} dimensions need ${dataStart} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shapeSize(shape);
  if (count === undefined) {
    throw badData(
      `${source} has an impossible shape [${shape.join(', ')}]: its element count overflows`,
      'the file is corrupt or not an IDX file',
    );
  }
  const needed = count * dtypeSize(dtype);
  const available = bytes.length - dataStart;
  if (needed > available) {
    throw badData(
      `${source} is too short: shape [${shape.join(', ')}] of ${dtype} needs ${needed} data bytes, ` +
        `the file holds ${available}`,
      'the file is truncated or corrupt; download it again',
    );
  }
  const data = typedArrayFromBytes(bytes.subarray(dataStart), dtype, count, false);
  return { dtype, shape, data } as NdArray;
}

export interface ImagePreprocess {
  scale: number; // pixel multiplier, e.g. 1/255
  mean: number | readonly number[]; // subtracted after scaling; one value or one per channel
  std: number | readonly number[]; // divided by last; one value or one per channel
  layout?: 'nchw' | 'nhwc'; // default 'nchw'
}

function perChannel(name: string, value: number | readonly number[], channels: number): number[] {
  let values = typeof value === 'number' ? [value] : [...value];
  if (values.length === 1) values = new Array<number>(channels).fill(values[0]!);
  if (values.length !== channels) {
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `${name} has ${values.length} values but the images have ${channels} channel${channels === 1 ? '' : 's'}`,
      `give one ${name} value or one per channel`,
    );
  }
  if (!values.every(Number.isFinite)) {
    throw new EdgefitError('BAD_ARGUMENT', `${name} must be finite numbers, got ${values.join(', ')}`);
  }
  return values;
}

/**
 * images is [N,H,W] (one channel) or [N,H,W,C]; returns float32 [N,C,H,W] (nchw) or [N,H,W,C] (nhwc)
 * holding (pixel × scale − mean[c]) / std[c].
 */
export function idxImagesToTensor(images: NdArray, options: ImagePreprocess): NdArray {
  const { shape } = images;
  if (shape.length !== 3 && shape.length !== 4) {
    throw badData(
      `images must have shape [N,H,W] or [N,H,W,C], got [${shape.join(', ')}]`,
      'pass an IDX image file such as t10k-images-idx3-ubyte',
    );
  }
  const [n, h, w] = shape as [number, number, number];
  const c = shape[3] ?? 1;
  const layout = options.layout ?? 'nchw';
  if (layout !== 'nchw' && layout !== 'nhwc') {
    throw new EdgefitError('BAD_ARGUMENT', `layout must be nchw or nhwc, got ${String(layout)}`);
  }
  if (!Number.isFinite(options.scale)) {
    throw new EdgefitError('BAD_ARGUMENT', `scale must be a finite number, got ${options.scale}`);
  }
  const mean = perChannel('mean', options.mean, c);
  const std = perChannel('std', options.std, c);
  if (std.includes(0)) throw new EdgefitError('BAD_ARGUMENT', 'std must not be 0', 'use 1 for no scaling');

  const pixels: ArrayLike<number> =
    images.dtype === 'int64' || images.dtype === 'uint64' || images.dtype === 'float16'
      ? toFloat32(images)
      : images.data;
  const out = new Float32Array(n * h * w * c);
  const { scale } = options;
  const hw = h * w;
  for (let s = 0; s < n; s++) {
    for (let p = 0; p < hw; p++) {
      for (let ch = 0; ch < c; ch++) {
        const src = (s * hw + p) * c + ch; // input is [N,H,W,C]
        const dst = layout === 'nhwc' ? src : (s * c + ch) * hw + p;
        out[dst] = (pixels[src]! * scale - mean[ch]!) / std[ch]!;
      }
    }
  }
  return { dtype: 'float32', shape: layout === 'nhwc' ? [n, h, w, c] : [n, c, h, w], data: out };
}
