// The Fashion-MNIST test set (Debian's IDX files) as a model's dataset, preprocessed the way the
// bundled examples/fashion-mnist.onnx was trained; slices of the train or test images as .npz files.
// Shared by bench/eval-overhead.ts, bench/quantize.ts, bench/search.ts and bench/compose.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Dataset } from '../src/data/dataset.js';
import type { Model } from '../src/ir/graph.js';
import { openDataset } from '../src/node/data-files.js';
import { decodeIdx, encodeNpz, idxImagesToTensor } from '../src/node.js';

export const FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

/** The 10k test images and labels (the first `limit` when given). */
export function fashionMnistTest(model: Model, limit?: number): Promise<Dataset> {
  return openDataset(model, `${FASHION_MNIST}/t10k-images-idx3-ubyte.gz`, {
    labels: `${FASHION_MNIST}/t10k-labels-idx1-ubyte.gz`,
    scale: 1 / 255,
    mean: [0.286],
    std: [0.353],
    ...(limit !== undefined && { limit }),
  });
}

export const FM_TRAIN = {
  data: `${FASHION_MNIST}/train-images-idx3-ubyte.gz`,
  labels: `${FASHION_MNIST}/train-labels-idx1-ubyte.gz`,
};
export const FM_TEST = {
  data: `${FASHION_MNIST}/t10k-images-idx3-ubyte.gz`,
  labels: `${FASHION_MNIST}/t10k-labels-idx1-ubyte.gz`,
};
/** the preprocessing the fixtures were trained with */
export const FM_PRE = { scale: 1 / 255, mean: [0.286], std: [0.353] };

/** Images [from, to) of an IDX pair, preprocessed, written as an .npz (input, labels) at `path`. */
export function fashionMnistNpz(
  idx: { data: string; labels: string },
  from: number,
  to: number,
  path: string,
): string {
  const images = decodeIdx(new Uint8Array(gunzipSync(readFileSync(idx.data))));
  const labels = decodeIdx(new Uint8Array(gunzipSync(readFileSync(idx.labels))));
  const x = idxImagesToTensor(images, FM_PRE);
  const per = 28 * 28;
  writeFileSync(
    path,
    encodeNpz({
      input: {
        dtype: 'float32',
        shape: [to - from, 1, 28, 28],
        data: (x.data as Float32Array).slice(from * per, to * per),
      },
      labels: {
        dtype: 'int64',
        shape: [to - from],
        data: BigInt64Array.from((labels.data as Uint8Array).slice(from, to), BigInt),
      },
    }),
  );
  return path;
}
