// Reading intermediate values: a copy of the model in which chosen values are also graph outputs.
// ONNX Runtime then returns them from run() (at the price of stopping fusions across them).

import { cloneModel } from '../ir/clone.js';
import type { Model, Value } from '../ir/graph.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { encodeModel } from '../ir/serialize.js';
import { runEach } from './session.js';
import type { Runtime, SessionOptions } from './types.js';

/** Names of main-graph values that can be exposed: node outputs that are tensors and not already outputs. */
export function exposableValues(model: Model): string[] {
  const out: string[] = [];
  for (const n of model.graph.nodes)
    for (const v of n.outputs)
      if (v.name && !v.isGraphOutput && (!v.typeProto || v.typeProto.value.case === 'tensorType'))
        out.push(v.name);
  return out;
}

/** A copy of `model` whose graph also outputs the named values (names missing from the graph are ignored). */
export function exposeValues(model: Model, names: readonly string[]): Model {
  const copy = cloneModel(model);
  const byName = new Map<string, Value>();
  for (const n of copy.graph.nodes) for (const v of n.outputs) byName.set(v.name, v);
  for (const name of names) {
    const v = byName.get(name);
    if (v && !v.isGraphOutput) copy.graph.outputs.push(v);
  }
  return copy;
}

/** Run once with every intermediate value exposed; returns each value's runtime dims and dtype. */
export async function runtimeShapes(
  model: Model,
  runtime: Runtime,
  feeds: Record<string, HostTensor>,
  options: SessionOptions = {},
): Promise<Map<string, { dims: number[]; dtype: number }>> {
  const names = exposableValues(model);
  const exposed = exposeValues(model, names);
  const result = (
    await runEach(runtime, encodeModel(exposed), [feeds], { optimization: 'disabled', ...options })
  )[0]!;
  const out = new Map<string, { dims: number[]; dtype: number }>();
  for (const [k, v] of Object.entries(result)) out.set(k, { dims: v.dims, dtype: v.dtype });
  return out;
}
