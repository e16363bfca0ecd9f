// A dataset is random access to samples [start, end) as model feeds, plus optional integer labels.
// Sources (arrays in memory, synthetic data, files streamed by the host) all end up behind this one
// interface, and `bindArrays` checks that arrays fit the model before anything runs:
//  1. every model input has an array by name; a single-input model also takes one unnamed array
//     (`arr_0`, what np.savez(path, x) writes), never a wrongly named one
//  2. dtypes match exactly (no silent float64 -> float32)
//  3. ranks match and every fixed dim but the sample axis matches; a scalar input (shape []) takes a
//     0-d array (one value for every sample) or a 1-d array (one value per sample)
//  4. labels, when present, are integer class ids, one per sample, from 0 to 2^31-1 and below the
//     model's class count when its first output has a static width

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
  /**
   * the most samples one slice may hold, when less than any: 1 when a scalar input has a different
   * value per sample (a scalar cannot carry a batch)
   */
  readonly maxBatch?: number;
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

/**
 * How one array feeds one model input: `perSample` (the first axis indexes samples), or `constant`
 * (a scalar input given one value for every sample: a 0-d array), or `scalarPerSample` (a scalar
 * input given one value per sample: a 1-d array).
 */
type Binding = 'perSample' | 'constant' | 'scalarPerSample';

/** Check one array against one model input; returns how it binds. */
function checkArray(input: Value, arr: NdArray, source: string): Binding {
  const want = input.type;
  const got = onnxTypeOfNd(arr.dtype);
  const expected = want ? describeType(want.elemType, want.shape) : 'a tensor';
  const actual = `${arr.dtype} [${arr.shape.join(',')}]`;
  const fail = (what: string, fix = 'convert the data to what the model expects') =>
    new EdgefitError(
      'BAD_DATA',
      `${source}: input "${input.name}" expects ${expected}; the data has ${actual} (${what})`,
      fix,
    );
  if (want && want.elemType !== got) throw fail('wrong dtype');
  const shape = want?.shape;
  if (shape && shape.length === 0) {
    // a scalar input (e.g. a sample rate): one value for all samples, or one per sample
    if (arr.shape.length === 0) return 'constant';
    if (arr.shape.length === 1) return 'scalarPerSample';
    throw fail(
      'a scalar input',
      'give a 0-d array (one value for every sample) or a 1-d array (one value per sample)',
    );
  }
  if (arr.shape.length === 0) throw fail('no sample axis');
  if (shape) {
    if (shape.length !== arr.shape.length) throw fail('wrong rank');
    for (let i = 1; i < shape.length; i++) {
      const d = shape[i];
      if (typeof d === 'number' && d !== arr.shape[i]) throw fail(`dim ${i} should be ${d}`);
    }
  }
  return 'perSample';
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * Labels as int32 class ids, each checked: an integer from 0 to 2^31-1 (an int64 2^32+3 is not class
 * 3) and, when the model's scored output has a static width, below it.
 */
function labelsFrom(arr: NdArray, samples: number, source: string, classes: number | undefined): Int32Array {
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
  const top = classes === undefined ? INT32_MAX : classes - 1;
  const out = new Int32Array(samples);
  const data = arr.data as ArrayLike<number | bigint>;
  for (let i = 0; i < samples; i++) {
    const x = data[i]!;
    const ok = typeof x === 'bigint' ? x >= 0n && x <= BigInt(top) : x >= 0 && x <= top;
    if (!ok)
      throw new EdgefitError(
        'BAD_DATA',
        `${source}: label ${String(x)} of sample ${i} is not a class id${
          classes === undefined ? '' : ` of a model with ${classes} classes`
        }`,
        `labels must be integers from 0 to ${top}`,
      );
    out[i] = Number(x);
  }
  return out;
}

/** The class count of the model's scored output (its first): the product of its static dims after the first. */
function classCount(model: Model): number | undefined {
  const shape = model.graph.outputs[0]?.type?.shape;
  if (!shape || shape.length < 2) return undefined;
  let n = 1;
  for (const d of shape.slice(1)) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

/** np.savez(path, a) names a positional array arr_0: the "unnamed array" a single-input model accepts. */
const UNNAMED = 'arr_0';

function pickArray(inputs: Value[], input: Value, rest: Map<string, NdArray>, source: string): NdArray {
  const arr = rest.get(input.name);
  if (arr) return arr;
  const names = [...rest.keys()];
  if (inputs.length === 1 && names.length === 1 && names[0] === UNNAMED) return rest.get(UNNAMED)!;
  throw new EdgefitError(
    'BAD_DATA',
    `${source} has no array for model input "${input.name}" (it has: ${names.join(', ') || 'nothing'})`,
    inputs.length === 1
      ? `name the array "${input.name}" (or save it unnamed: np.savez(path, x) stores it as ${UNNAMED})`
      : `name the arrays after the inputs: ${inputs.map((v) => v.name).join(', ')}`,
  );
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
  const bound = new Map<Value, { arr: NdArray; how: Binding }>();
  for (const input of inputs) {
    const arr = pickArray(inputs, input, rest, source);
    bound.set(input, { arr, how: checkArray(input, arr, source) });
  }
  const counts = new Set([...bound.values()].filter((b) => b.how !== 'constant').map((b) => b.arr.shape[0]!));
  if (counts.size > 1)
    throw new EdgefitError(
      'BAD_DATA',
      `${source}: the input arrays have different sample counts (${[...counts].join(', ')})`,
      'every array needs the same first dimension',
    );
  // only 0-d arrays (a model of scalar inputs): one sample
  let size = counts.size ? [...counts][0]! : bound.size ? 1 : 0;
  if (size === 0)
    throw new EdgefitError('BAD_DATA', `${source} holds no samples`, 'give at least one sample');
  const labels = labelArr ? labelsFrom(labelArr, size, source, classCount(model)) : undefined;
  if (limit !== undefined) size = Math.min(size, limit);
  const varying = [...bound].filter(([, b]) => b.how === 'scalarPerSample' && !allEqual(b.arr.data));
  return {
    size,
    labels: labels?.subarray(0, size),
    source,
    ...(varying.length ? { maxBatch: 1 } : {}),
    slice(start, end) {
      const feeds: Record<string, HostTensor> = {};
      for (const [input, { arr, how }] of bound) {
        const dtype = onnxTypeOfNd(arr.dtype);
        if (how === 'constant') {
          feeds[input.name] = { dtype, dims: [], data: arr.data.slice(0, 1) };
          continue;
        }
        if (how === 'scalarPerSample') {
          const part = arr.data.subarray(start, end);
          if (!allEqual(part))
            throw new EdgefitError(
              'BAD_DATA',
              `${source}: input "${input.name}" is a scalar with different values in samples ${start} to ${end - 1}, which cannot run as one batch`,
              'run one sample at a time (--batch-size 1), or give one value for every sample (a 0-d array)',
            );
          feeds[input.name] = { dtype, dims: [], data: part.slice(0, 1) };
          continue;
        }
        const per = arr.shape.slice(1).reduce((a, b) => a * b, 1);
        const data = arr.data.subarray(start * per, end * per);
        feeds[input.name] = { dtype, dims: [end - start, ...arr.shape.slice(1)], data };
      }
      return feeds;
    },
  };
}

function allEqual(data: ArrayLike<number | bigint>): boolean {
  for (let i = 1; i < data.length; i++) if (data[i] !== data[0]) return false;
  return true;
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

/** Samples [start, end) of a dataset, as a dataset (no copy). */
export function datasetView(d: Dataset, start: number, end: number): Dataset {
  const view: Dataset = {
    size: end - start,
    labels: d.labels?.subarray(start, end),
    source: `${d.source} [${start}, ${end})`,
    slice: (a, b) => d.slice(start + a, start + b),
  };
  return d.maxBatch === undefined ? view : { ...view, maxBatch: d.maxBatch };
}

/**
 * Calibration samples held out of evaluation data when no separate calibration data is given: data-
 * aware techniques (GPTQ, SparseGPT, whitened SVD, compensated codebooks) fitted on the samples that
 * judge them look better than they are. The first min(256, ⌊n/4⌋) samples; none below 64 samples.
 */
export function holdoutSize(n: number): number {
  return n < 64 ? 0 : Math.min(256, Math.floor(n / 4));
}
