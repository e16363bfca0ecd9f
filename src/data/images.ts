// Image folders as data (docs/CLI.md "Data"), the part the CLI (src/node/data-files.ts, decoded with
// sharp) and the web app (web/src/images.ts, decoded with a canvas) share: which input the images
// feed and at what channel count and side, and the data set of decoded images with their labels.
// Listing and decoding files is the platform's.

import { EdgefitError } from '../errors.js';
import type { Model, Value } from '../ir/graph.js';
import { bindArrays, type Dataset } from './dataset.js';
import type { NdArray } from './npy.js';
import { feedInputs } from './synthetic.js';

export type ImageLayout = 'nchw' | 'nhwc';

export interface ImageInput {
  input: Value;
  /** from the input's declared channel dim, else 3 */
  channels: number;
  /** the square side: `size` when given, else the input's declared height, else 224 */
  size: number;
}

/** The one input an image folder feeds, with its channel count and side; BAD_DATA if there are several. */
export function imageInput(model: Model, layout: ImageLayout = 'nchw', size?: number): ImageInput {
  const inputs = feedInputs(model);
  if (inputs.length !== 1)
    throw new EdgefitError(
      'BAD_DATA',
      `image folders feed one input; the model has ${inputs.length}`,
      'use an .npz',
    );
  const input = inputs[0]!;
  const shape = input.type?.shape ?? [];
  const chanDim = layout === 'nchw' ? shape[1] : shape[3];
  const sideDim = layout === 'nchw' ? shape[2] : shape[1];
  return {
    input,
    channels: typeof chanDim === 'number' ? chanDim : 3,
    size: size ?? (typeof sideDim === 'number' ? sideDim : 224),
  };
}

/** The decoded images (float32 of shape `dims`) as the input's data, and their classes as `labels`. */
export function imageDataset(
  model: Model,
  input: Value,
  dims: number[],
  data: Float32Array,
  labels: Int32Array,
  source: string,
  limit?: number,
): Dataset {
  const arrays = new Map<string, NdArray>([
    [input.name, { dtype: 'float32', shape: dims, data }],
    ['labels', { dtype: 'int32', shape: [labels.length], data: labels }],
  ]);
  return bindArrays(model, arrays, source, limit);
}
