// A tensor in host memory, as runtimes take and return it and as datasets produce it.

import type { NumericArray } from './tensor.js';

/** A tensor in host memory; `dtype` is an ONNX DataType id. bool is Uint8Array, float16 bit patterns Uint16Array. */
export interface HostTensor {
  dtype: number;
  dims: number[];
  data: NumericArray | string[];
}
