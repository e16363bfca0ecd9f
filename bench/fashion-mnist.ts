// The Fashion-MNIST test set (Debian's IDX files) as a model's dataset, preprocessed the way the
// bundled examples/fashion-mnist.onnx was trained. Shared by bench/eval-overhead.ts and bench/quantize.ts.
import type { Dataset } from '../src/data/dataset.js';
import type { Model } from '../src/ir/graph.js';
import { openDataset } from '../src/node/data-files.js';

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
