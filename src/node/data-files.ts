// Opening datasets from files (docs/CLI.md "Data"): .npz, .npy, IDX (MNIST format, gzipped or not) and
// folders of images with one subfolder per class. Everything is checked against the model's inputs
// before anything runs; a problem is one BAD_DATA line naming the input and what was expected.
//
// A .npy file is read batch by batch from disk (only its header is parsed up front), so a data set
// larger than memory streams with bounded memory. .npz and IDX files are read whole (they are
// compressed archives; Fashion-MNIST's test set is 7.8 MB). Image folders are decoded with sharp; the
// input they feed and the data set are src/data/images.ts's (the web app shares them).

import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { bindArrays, type Dataset, onnxTypeOfNd } from '../data/dataset.js';
import { decodeIdx, idxImagesToTensor } from '../data/idx.js';
import { imageDataset, imageInput } from '../data/images.js';
import {
  decodeNpy,
  decodeNpyHeader,
  dtypeSize,
  MAX_DATA_BYTES,
  type NdArray,
  typedArrayFromBytes,
} from '../data/npy.js';
import { decodeNpz } from '../data/npz.js';
import { feedInputs } from '../data/synthetic.js';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { fileError, readBytes } from './model-io.js';

export interface DataOptions {
  /** labels file for .npy / IDX data */
  labels?: string;
  /** preprocessing for IDX and images: x = (pixel * scale - mean) / std */
  scale?: number;
  mean?: number[];
  std?: number[];
  /** image size (square) for image folders */
  size?: number;
  layout?: 'nchw' | 'nhwc';
  limit?: number;
}

/** A whole data file (.npz, IDX, labels): at most MAX_DATA_BYTES, read errors as one IO line. */
function readAll(path: string): Uint8Array {
  if (!existsSync(path)) throw new EdgefitError('IO', `cannot read ${path}: no such file`, 'check the path');
  const size = statSync(path).size;
  if (size > MAX_DATA_BYTES)
    throw new EdgefitError(
      'BAD_DATA',
      `${path} is ${size} bytes, past the ${MAX_DATA_BYTES / 1024 ** 3} GiB cap for data read whole`,
      'use fewer samples, or a .npy file (streamed from disk)',
    );
  return readBytes(path, 'check the file is readable');
}

function isIdx(bytes: Uint8Array, path: string): boolean {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return /idx|ubyte/i.test(path);
  return bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && [8, 9, 11, 12, 13, 14].includes(bytes[2]!);
}

function singleInputName(model: Model, path: string): string {
  const inputs = feedInputs(model);
  if (inputs.length !== 1)
    throw new EdgefitError(
      'BAD_DATA',
      `${path} holds one array but the model has ${inputs.length} inputs`,
      'use an .npz with one array per input name',
    );
  return inputs[0]!.name;
}

function readLabels(path: string): NdArray {
  const bytes = readAll(path);
  if (path.endsWith('.npy')) return decodeNpy(bytes, path);
  if (isIdx(bytes, path)) return decodeIdx(bytes, path);
  throw new EdgefitError(
    'BAD_DATA',
    `${path}: labels must be an .npy or IDX file`,
    'pass --labels labels.npy or an IDX labels file',
  );
}

export async function openDataset(model: Model, path: string, options: DataOptions = {}): Promise<Dataset> {
  if (!existsSync(path))
    throw new EdgefitError('IO', `cannot read data ${path}: no such file or folder`, 'check the path');
  if (statSync(path).isDirectory()) return openImageFolder(model, path, options);
  const ext = extname(path).toLowerCase();
  if (ext === '.npz') {
    const arrays = decodeNpz(readAll(path), path);
    if (options.labels) arrays.set('labels', readLabels(options.labels));
    return bindArrays(model, arrays, path, options.limit);
  }
  if (ext === '.npy') return openNpyStream(model, path, options);
  const bytes = readAll(path);
  if (isIdx(bytes, path)) {
    const images = decodeIdx(bytes, path);
    const tensor = idxImagesToTensor(images, {
      scale: options.scale ?? 1,
      mean: options.mean ?? [0],
      std: options.std ?? [1],
      layout: options.layout ?? 'nchw',
    });
    const arrays = new Map<string, NdArray>([[singleInputName(model, path), tensor]]);
    if (options.labels) arrays.set('labels', readLabels(options.labels));
    return bindArrays(model, arrays, path, options.limit);
  }
  throw new EdgefitError(
    'BAD_DATA',
    `${path}: unknown data format`,
    'use .npz, .npy, an IDX file or a folder of images',
  );
}

/** Fill `into` from `path` at `position`; file-system errors become one IO line. */
function readAt(path: string, into: Buffer, position: number): void {
  try {
    const fd = openSync(path, 'r');
    try {
      readSync(fd, into, 0, into.length, position);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw fileError(e, 'read', path, 'check the file is readable');
  }
}

/** A .npy file read per batch: the header is parsed once; slices are read with positioned reads. */
function openNpyStream(model: Model, path: string, options: DataOptions): Dataset {
  const size = statSync(path).size;
  const head = Buffer.alloc(Math.min(size, 1 << 20));
  readAt(path, head, 0);
  const layout = decodeNpyHeader(new Uint8Array(head.buffer, head.byteOffset, head.length), path, size);
  const name = singleInputName(model, path);
  const perSample = layout.shape.slice(1).reduce((a, b) => a * b, 1);
  const width = dtypeSize(layout.dtype);
  // validate against the model: a placeholder with the file's dtype and shape (no data is read)
  const placeholder = {
    dtype: layout.dtype,
    shape: layout.shape,
    data: new Uint8Array(0),
  } as unknown as NdArray;
  const arrays = new Map<string, NdArray>([[name, placeholder]]);
  if (options.labels) arrays.set('labels', readLabels(options.labels));
  const bound = bindArrays(model, arrays, path, options.limit);
  return {
    size: bound.size,
    labels: bound.labels,
    source: path,
    slice(start, end) {
      const bytes = Buffer.alloc((end - start) * perSample * width);
      readAt(path, bytes, layout.dataStart + start * perSample * width);
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
      const data = typedArrayFromBytes(view, layout.dtype, (end - start) * perSample, layout.littleEndian);
      return {
        [name]: {
          dtype: onnxTypeOfNd(layout.dtype),
          dims: [end - start, ...layout.shape.slice(1)],
          data: data as never,
        },
      };
    },
  };
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.gif', '.tif', '.tiff']);

/** A folder with one subfolder per class; classes are numbered in sorted subfolder order. */
async function openImageFolder(model: Model, folder: string, options: DataOptions): Promise<Dataset> {
  const list = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw fileError(e, 'read', folder, 'check the folder and its class subfolders are readable');
    }
  };
  const classes = list(() => readdirSync(folder, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const files: { path: string; label: number }[] = [];
  classes.forEach((c, label) => {
    for (const f of list(() => readdirSync(join(folder, c))).sort())
      if (IMAGE_EXT.has(extname(f).toLowerCase())) files.push({ path: join(folder, c, f), label });
  });
  if (files.length === 0)
    throw new EdgefitError(
      'BAD_DATA',
      `${folder} holds no images in class subfolders`,
      'put images in FOLDER/<class>/*.jpg|png',
    );
  const layout = options.layout ?? 'nchw';
  const { input: v, channels, size } = imageInput(model, layout, options.size);
  const mean = options.mean ?? [0];
  const std = options.std ?? [1];
  const scale = options.scale ?? 1 / 255;
  const { default: sharp } = await import('sharp');
  const n = Math.min(files.length, options.limit ?? files.length);
  // decode everything up front (the slice API is synchronous); memory = n × C × size² floats
  const per = channels * size * size;
  const data = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    let img = sharp(files[i]!.path).resize(size, size, { fit: 'cover', position: 'centre' });
    img = channels === 1 ? img.grayscale() : img.removeAlpha();
    let raw: Buffer;
    try {
      raw = await img.raw().toBuffer();
    } catch (e) {
      throw new EdgefitError(
        'BAD_DATA',
        `${files[i]!.path} cannot be decoded as an image (${(e as Error).message})`,
        'remove or replace the file',
      );
    }
    for (let p = 0; p < size * size; p++)
      for (let c = 0; c < channels; c++) {
        const x = (raw[p * channels + c]! * scale - mean[c % mean.length]!) / std[c % std.length]!;
        data[i * per + (layout === 'nchw' ? c * size * size + p : p * channels + c)] = x;
      }
  }
  const dims = layout === 'nchw' ? [n, channels, size, size] : [n, size, size, channels];
  const labels = Int32Array.from(files.slice(0, n), (f) => f.label);
  return imageDataset(model, v, dims, data, labels, folder, options.limit);
}
