// Seeded synthetic inputs generated from a model's input spec, for label-free fidelity checks and for
// running a model once to learn its shapes. Floats are standard normal, integers small non-negative
// (valid as indices for most embeddings), bools random. Symbolic dims take `shapes[name]`, else 1.

import { EdgefitError } from '../errors.js';
import type { Model, Value } from '../ir/graph.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { Rng } from '../kernels/random.js';
import { DataType, dataTypeName } from '../onnx/dtype.js';
import { float32ToFloat16Bits } from '../onnx/float16.js';

export function resolveInputShape(v: Value, shapes: Record<string, number[]> = {}, batch?: number): number[] {
  const given = shapes[v.name];
  const declared = v.type?.shape;
  if (given) {
    if (declared && declared.length !== given.length)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--shape ${v.name} has rank ${given.length}, the model declares rank ${declared.length}`,
        `give ${declared.length} dims`,
      );
    declared?.forEach((d, i) => {
      if (typeof d === 'number' && d !== given[i])
        throw new EdgefitError(
          'BAD_ARGUMENT',
          `--shape ${v.name}: dim ${i} is fixed to ${d} in the model, not ${given[i]}`,
          'only symbolic dims can be set',
        );
    });
    return given;
  }
  if (!declared)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `input ${v.name} has no declared shape`,
      `give it with --shape ${v.name}=D1,D2,...`,
    );
  return declared.map((d, i) => (typeof d === 'number' ? d : i === 0 && batch !== undefined ? batch : 1));
}

/** The graph inputs that must be fed (initializers listed as inputs are not). */
export function feedInputs(model: Model): Value[] {
  return model.graph.inputs.filter((v) => !v.initializer);
}

export function synthesizeInputs(
  model: Model,
  options: { shapes?: Record<string, number[]>; seed?: number; batch?: number } = {},
): Record<string, HostTensor> {
  const rng = new Rng(options.seed ?? 0);
  const feeds: Record<string, HostTensor> = {};
  for (const v of feedInputs(model)) {
    const dims = resolveInputShape(v, options.shapes, options.batch);
    const n = dims.reduce((a, b) => a * b, 1);
    const dtype = v.type?.elemType ?? DataType.FLOAT;
    let data: HostTensor['data'];
    switch (dtype) {
      case DataType.FLOAT:
        data = Float32Array.from({ length: n }, () => rng.normal());
        break;
      case DataType.DOUBLE:
        data = Float64Array.from({ length: n }, () => rng.normal());
        break;
      case DataType.FLOAT16:
        data = Uint16Array.from({ length: n }, () => float32ToFloat16Bits(rng.normal()));
        break;
      case DataType.INT64:
        data = BigInt64Array.from({ length: n }, () => BigInt(rng.int(2)));
        break;
      case DataType.INT32:
        data = Int32Array.from({ length: n }, () => rng.int(2));
        break;
      case DataType.UINT8:
      case DataType.BOOL:
        data = Uint8Array.from({ length: n }, () => rng.int(2));
        break;
      case DataType.INT8:
        data = Int8Array.from({ length: n }, () => rng.int(2));
        break;
      default:
        throw new EdgefitError(
          'UNSUPPORTED',
          `input ${v.name} has type ${dataTypeName(dtype)}, for which edgefit cannot make synthetic data`,
          'give real data with --data',
        );
    }
    feeds[v.name] = { dtype, dims, data };
  }
  return feeds;
}
