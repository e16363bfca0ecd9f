// `inspect` with a runtime: static analysis (analysis/inspect.ts), completed when some shapes stay
// unknown by running the model once with every intermediate value exposed (dynamic dims from
// `shapes`, else 1) to measure them.

import { analyzeCost } from '../analysis/cost.js';
import { assembleReport, type InspectOptions, type InspectReport, staticCost } from '../analysis/inspect.js';
import { synthesizeInputs } from '../data/synthetic.js';
import type { Model, TensorType } from '../ir/graph.js';
import { runtimeShapes } from '../runtime/expose.js';
import type { Runtime } from '../runtime/types.js';

export type { InspectOptions, InspectReport };

/** Static analysis, completed by one ONNX Runtime run when shapes stay unknown. */
export async function inspectWithRuntime(
  model: Model,
  runtime: Runtime,
  options: InspectOptions = {},
): Promise<InspectReport> {
  const { shapes, cost } = staticCost(model, options);
  if (cost.unknownShapes === 0) return assembleReport(model, cost, 'static', options.budget);
  let measured: Map<string, { dims: number[]; dtype: number }>;
  try {
    measured = await runtimeShapes(
      model,
      runtime,
      synthesizeInputs(model, { shapes: options.shapes ?? {}, batch: 1 }),
    );
  } catch {
    return assembleReport(model, cost, 'static', options.budget); // the static figures are still right where known
  }
  const types = new Map(shapes.types);
  for (const n of model.graph.nodes)
    for (const v of n.outputs) {
      const m = measured.get(v.name);
      if (m) types.set(v, { elemType: m.dtype, shape: m.dims } satisfies TensorType);
    }
  return assembleReport(model, analyzeCost(model, { types }), 'runtime', options.budget);
}
