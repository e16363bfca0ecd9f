// Writing trained values back into the original graph: the inference model keeps every node, name and
// encoding; only the trained initializers get new bytes. An integer weight behind a DequantizeLinear
// (trained as float) is quantized back to its grid; a codebook stays a codebook (its indices were never
// trained).

import { cloneModel } from '../ir/clone.js';
import type { Model } from '../ir/graph.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { viewBytes } from '../ir/tensor.js';
import { DataType } from '../onnx/dtype.js';
import { quantizeValues } from './quantized.js';
import type { StepGraph } from './step-graph.js';

/** A copy of `original` with the trained values of `state` (step-graph input name -> value). */
export function exportTrained(original: Model, step: StepGraph, state: Map<string, HostTensor>): Model {
  const model = cloneModel(original);
  const byName = new Map(model.graph.initializers.map((v) => [v.name, v]));
  for (const t of step.trained) {
    const v = byName.get(t.name);
    const values = state.get(t.input)?.data as Float32Array | undefined;
    if (!v || !values) throw new Error(`trained tensor ${t.name} is missing`);
    const tensor = v.initializer!;
    if (t.grid) tensor.setData(viewBytes(quantizeValues(values, t.grid)), t.grid.dtype, [...t.dims]);
    else tensor.setData(viewBytes(Float32Array.from(values)), DataType.FLOAT, [...t.dims]);
  }
  return model;
}
