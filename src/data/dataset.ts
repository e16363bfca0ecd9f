// A dataset is random access to samples [start, end) as model feeds, plus optional integer labels.
// Sources (arrays in memory, synthetic data, files streamed by the host) all end up behind this one
// interface, and `bindArrays` checks that arrays fit the model before anything runs:
//  1. every model input has an array (by name; a single-input model also takes a single array)
//  2. dtypes match exactly (no silent float64 -> float32)
//  3. ranks match and every fixed dim but the sample axis matches
//  4. labels, when present, are integers, one per sample

import { EdgefitError } from '../errors.js';
import type { Model, Value } from '../ir/graph.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { DataType, dataTypeName } from '../onnx/dtype.js';
import type { NdArray, NdDtype } from './npy.js';
import { feedInputs, resolveInputShape, synthesizeInputs } from './synthetic.js';

export interface Dataset {
  /** number of samples */
  readonly size: number;
  /** class ids, one per sample, when the data has labels */
  readonly labels: Int32Array | undefined;
  /** what the data is, for messages ("examples/x.npz") */
  readonly source: string;
  /** samples [start, end) as feeds keyed by model input name; the first axis indexes samples */
  slice(start: number, end: number): Record<string, HostTensor>;
}

const ND_TO_ONNX: Record<NdDtype, number> = {
  bool: DataType.BOOL,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  int16: DataType.INT16,
  uint16: DataType.UINT16,
  int32: DataType.INT32,
  uint32: DataType.UINT32,
  int64: DataType.INT64,
  uint64: DataType.UINT64,
  float16: DataType.FLOAT16,
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
};

export function onnxTypeOfNd(dtype: NdDtype): number {
  return ND_TO_ONNX[dtype];
}

function describeType(elemType: number, shape: readonly (number | string | null)[] | undefined): string {
  const dims = shape
    ? `[${shape.map((d) => (typeof d === 'number' ? d : typeof d === 'string' ? d : '?')).join(',')}]`
    : '[?]';
  return `${dataTypeName(elemType).toLowerCase()} ${dims}`;
}

/** Check one array against one model input; returns the per-sample shape. */
function checkArray(input: Value, arr: NdArray, source: string): number[] {
  const want = input.type;
  const got = onnxTypeOfNd(arr.dtype);
  const expected = want ? describeType(want.elemType, want.shape) : 'a tensor';
  const actual = `${arr.dtype} [${arr.shape.join(',')}]`;
  const fail = (what: string) =>
    new EdgefitError(
      'BAD_DATA',
      `${source}: input "${input.name}" expects ${expected}; the data has ${actual} (${what})`,
      'convert the data to what the model expects',
    );
  if (want && want.elemType !== got) throw fail('wrong dtype');
  if (arr.shape.length === 0) throw fail('no sample axis');
  const shape = want?.shape;
  if (shape) {
    if (shape.length !== arr.shape.length) throw fail('wrong rank');
    for (let i = 1; i < shape.length; i++) {
      const d = shape[i];
      if (typeof d === 'number' && d !== arr.shape[i]) throw fail(`dim ${i} should be ${d}`);
    }
  }
  return arr.shape.slice(1);
}

function labelsFrom(arr: NdArray, samples: number, source: string): Int32Array {
  if (arr.dtype.startsWith('float') || arr.dtype === 'bool')
    throw new EdgefitError(
      'BAD_DATA',
      `${source}: labels are ${arr.dtype}, not integer class ids`,
      'store labels as an integer array',
    );
  if (arr.shape.length !== 1 || arr.shape[0] !== samples)
    throw new EdgefitError(
      'BAD_DATA',
      `${source}: labels has shape [${arr.shape.join(',')}] but the data has ${samples} samples`,
      `give exactly one label per sample (shape [${samples}])`,
    );
  return Int32Array.from(arr.data as ArrayLike<number | bigint>, (x) => Number(x));
}

/** Bind named arrays (from .npz/.npy/IDX) to a model's inputs. */
export function bindArrays(
  model: Model,
  arrays: Map<string, NdArray>,
  source: string,
  limit?: number,
): Dataset {
  const inputs = feedInputs(model);
  const labelArr = arrays.get('labels');
  const rest = new Map([...arrays].filter(([k]) => k !== 'labels'));
  const bound = new Map<Value, NdArray>();
  for (const input of inputs) {
    let arr = rest.get(input.name);
    if (!arr && inputs.length === 1 && rest.size === 1) arr = [...rest.values()][0];
    if (!arr)
      throw new EdgefitError(
        'BAD_DATA',
        `${source} has no array for model input "${input.name}" (it has: ${[...arrays.keys()].join(', ') || 'nothing'})`,
        `name the array "${input.name}"`,
      );
    checkArray(input, arr, source);
    bound.set(input, arr);
  }
  const counts = new Set([...bound.values()].map((a) => a.shape[0]!));
  if (counts.size > 1)
    throw new EdgefitError(
      'BAD_DATA',
      `${source}: the input arrays have different sample counts (${[...counts].join(', ')})`,
      'every array needs the same first dimension',
    );
  let size = counts.size ? [...counts][0]! : 0;
  if (size === 0)
    throw new EdgefitError('BAD_DATA', `${source} holds no samples`, 'give at least one sample');
  const labels = labelArr ? labelsFrom(labelArr, size, source) : undefined;
  if (limit !== undefined) size = Math.min(size, limit);
  return {
    size,
    labels: labels?.subarray(0, size),
    source,
    slice(start, end) {
      const feeds: Record<string, HostTensor> = {};
      for (const [input, arr] of bound) {
        const per = arr.shape.slice(1).reduce((a, b) => a * b, 1);
        const data = arr.data.subarray(start * per, end * per);
        feeds[input.name] = {
          dtype: onnxTypeOfNd(arr.dtype),
          dims: [end - start, ...arr.shape.slice(1)],
          data,
        };
      }
      return feeds;
    },
  };
}

/** Seeded synthetic samples from the model's input spec (for label-free fidelity). */
export function syntheticDataset(
  model: Model,
  options: { samples: number; seed?: number; shapes?: Record<string, number[]> },
): Dataset {
  const inputs = feedInputs(model);
  for (const v of inputs) resolveInputShape(v, options.shapes, 1); // validate early
  return {
    size: options.samples,
    labels: undefined,
    source: 'synthetic inputs',
    slice(start, end) {
      // each sample gets its own seed so a sample is the same whatever the batch size
      const parts = Array.from({ length: end - start }, (_, k) =>
        synthesizeInputs(model, {
          shapes: options.shapes,
          seed: (options.seed ?? 0) * 1_000_003 + start + k,
          batch: 1,
        }),
      );
      const feeds: Record<string, HostTensor> = {};
      for (const v of inputs) feeds[v.name] = concatSamples(parts.map((p) => p[v.name]!));
      return feeds;
    },
  };
}

function concatSamples(parts: HostTensor[]): HostTensor {
  const first = parts[0]!;
  const per = (first.data as ArrayLike<unknown>).length;
  const Ctor = (
    first.data as unknown as {
      constructor: new (n: number) => { set(a: ArrayLike<unknown>, o: number): void };
    }
  ).constructor;
  const out = new Ctor(per * parts.length);
  for (let i = 0; i < parts.length; i++) out.set(parts[i]!.data as ArrayLike<unknown>, i * per);
  return {
    dtype: first.dtype,
    dims: [parts.length, ...first.dims.slice(1)],
    data: out as unknown as HostTensor['data'],
  };
}

/** The batch size to feed: the model's fixed batch dim when it has one, else `preferred`. */
export function batchSizeFor(model: Model, preferred: number): number {
  for (const v of feedInputs(model)) {
    const d = v.type?.shape?.[0];
    if (typeof d === 'number') return d;
  }
  return preferred;
}
