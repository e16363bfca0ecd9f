// `--shape` and `--input` specs → concrete input shapes and fixed input values.
// `--shape`: A spec is NAME=D1,D2,... for a graph input, or SYMBOL=N
// for a symbolic dimension by name (every input dim with that symbol gets N, e.g. batch=8).
// Inputs not named keep their declared dims (symbols resolved by SYMBOL specs, else left to the
// consumer, which counts them as 1).

import { feedInputs } from '../data/synthetic.js';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { DataType } from '../onnx/dtype.js';

const SPEC = /^([^=\s]+)=(\d+(?:,\d+)*)$/;

export function resolveShapes(model: Model, specs: readonly string[]): Record<string, number[]> {
  const inputs = feedInputs(model);
  const byName: Record<string, number[]> = {};
  const symbols: Record<string, number> = {};
  for (const raw of specs) {
    const spec = raw.trim();
    const m = SPEC.exec(spec);
    if (!m)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--shape ${JSON.stringify(raw)} is not NAME=D1,D2,... or SYMBOL=N`,
        'for example --shape input=1,3,224,224 or --shape batch=8',
      );
    const [name, dims] = [m[1]!, m[2]!.split(',').map(Number)];
    if (dims.some((d) => d < 1 || d > 2 ** 31 - 1))
      throw new EdgefitError('BAD_ARGUMENT', `--shape ${spec}: dims must be from 1 to 2^31-1`);
    if (inputs.some((v) => v.name === name)) byName[name] = dims;
    else if (dims.length === 1 && inputs.some((v) => v.type?.shape?.some((d) => d === name)))
      symbols[name] = dims[0]!;
    else
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--shape ${spec}: the model has no input or symbolic dimension named ${name}`,
        `inputs: ${inputs.map((v) => `${v.name}[${(v.type?.shape ?? []).map((d) => d ?? '?').join(',')}]`).join(', ')}`,
      );
  }
  if (Object.keys(symbols).length)
    for (const v of inputs) {
      if (byName[v.name] || !v.type?.shape) continue;
      const shape = v.type.shape;
      if (!shape.some((d) => typeof d === 'string' && symbols[d] !== undefined)) continue;
      // dims still symbolic after substitution become 1, as for any unnamed symbolic dim
      byName[v.name] = shape.map((d) => (typeof d === 'number' ? d : (symbols[d ?? ''] ?? 1)));
    }
  return byName;
}

const INPUT_SPEC = /^([^=\s]+)=(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|true|false)$/;

/**
 * `--input NAME=VALUE` specs → feeds that hold VALUE in every element of the input (its declared
 * shape, symbolic dims 1): a scalar such as a sample rate, or a constant mask.
 */
export function resolveInputValues(model: Model, specs: readonly string[]): Record<string, HostTensor> {
  const inputs = feedInputs(model);
  const out: Record<string, HostTensor> = {};
  for (const raw of specs) {
    const m = INPUT_SPEC.exec(raw.trim());
    if (!m)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--input ${JSON.stringify(raw)} is not NAME=NUMBER`,
        'for example --input sr=16000',
      );
    const v = inputs.find((x) => x.name === m[1]);
    if (!v)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--input ${raw}: the model has no input named ${m[1]}`,
        `inputs: ${inputs.map((x) => x.name).join(', ')}`,
      );
    const value = m[2] === 'true' ? 1 : m[2] === 'false' ? 0 : Number(m[2]);
    const dims = (v.type?.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    const dtype = v.type?.elemType ?? DataType.FLOAT;
    const data = typedFill(dtype, n, value, raw);
    out[v.name] = { dtype, dims, data };
  }
  return out;
}

function typedFill(dtype: number, n: number, value: number, spec: string): HostTensor['data'] {
  const integer = dtype !== DataType.FLOAT && dtype !== DataType.DOUBLE;
  if (integer && !Number.isInteger(value))
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `--input ${spec}: the input is an integer tensor`,
      'give a whole number',
    );
  switch (dtype) {
    case DataType.FLOAT:
      return new Float32Array(n).fill(value);
    case DataType.DOUBLE:
      return new Float64Array(n).fill(value);
    case DataType.INT64:
      return new BigInt64Array(n).fill(BigInt(value));
    case DataType.INT32:
      return new Int32Array(n).fill(value);
    case DataType.INT8:
      return new Int8Array(n).fill(value);
    case DataType.UINT8:
    case DataType.BOOL:
      return new Uint8Array(n).fill(value);
    default:
      throw new EdgefitError(
        'UNSUPPORTED',
        `--input ${spec}: inputs of this type cannot be set from the command line`,
        'give the data in an .npz',
      );
  }
}
