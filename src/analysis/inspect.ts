// `inspect`: what a model costs, as one report — totals, one row per layer (heaviest first), opsets,
// inputs and outputs with their symbolic dims, op-type counts, and whether it fits a device budget.
// Shapes come from static inference; when some stay unknown and a runtime is given, the model is run
// once with every intermediate value exposed (dynamic dims from `shapes`, else 1) to measure them.

import { synthesizeInputs } from '../data/synthetic.js';
import type { Dim, Model, TensorType, Value } from '../ir/graph.js';
import { modelCounts } from '../ir/stats.js';
import { dataTypeName } from '../onnx/dtype.js';
import { runtimeShapes } from '../runtime/expose.js';
import type { Runtime } from '../runtime/types.js';
import { analyzeCost, type LayerCost, type ModelCost } from './cost.js';
import { inferShapes } from './shape-inference.js';

export interface IoInfo {
  name: string;
  dtype: string;
  shape: Dim[] | null;
}

export interface Budget {
  flash?: number;
  ram?: number;
}

export interface BudgetVerdict {
  flash?: { limit: number; needed: number; fits: boolean };
  ram?: { limit: number; needed: number; fits: boolean };
  fits: boolean;
}

export interface InspectReport {
  params: number;
  weightBytes: number;
  weightBytesByDtype: Record<string, number>;
  macs: number;
  peakActivationBytes: number;
  peakAt: string | undefined;
  nodes: number;
  opTypes: Record<string, number>;
  opsets: Record<string, number>;
  irVersion: number;
  producer: string;
  inputs: IoInfo[];
  outputs: IoInfo[];
  /** layers whose cost could not be computed (shapes unknown) */
  unknownShapes: number;
  /** where the shapes came from */
  shapeSource: 'static' | 'runtime';
  layers: LayerCost[];
  budget?: BudgetVerdict;
}

export interface InspectOptions {
  /** concrete shapes for dynamic inputs (else every symbolic dim is 1) */
  shapes?: Record<string, number[]>;
  budget?: Budget;
}

function io(v: Value): IoInfo {
  return {
    name: v.name,
    dtype: v.type ? dataTypeName(v.type.elemType).toLowerCase() : 'unknown',
    shape: v.type?.shape ?? null,
  };
}

function heaviestFirst(layers: LayerCost[]): LayerCost[] {
  return [...layers].sort(
    (a, b) => b.macs - a.macs || b.weightBytes - a.weightBytes || b.activationBytes - a.activationBytes,
  );
}

function assemble(
  model: Model,
  cost: ModelCost,
  source: 'static' | 'runtime',
  budget?: Budget,
): InspectReport {
  const counts = modelCounts(model);
  const report: InspectReport = {
    params: cost.params,
    weightBytes: cost.weightBytes,
    weightBytesByDtype: cost.weightBytesByDtype,
    macs: cost.macs,
    peakActivationBytes: cost.peakActivationBytes,
    peakAt: cost.peakAt,
    nodes: counts.nodes,
    opTypes: counts.opTypes,
    opsets: Object.fromEntries([...model.opsetImports].map(([d, v]) => [d || 'ai.onnx', v])),
    irVersion: model.irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    inputs: model.graph.inputs.filter((v) => !v.initializer).map(io),
    outputs: model.graph.outputs.map(io),
    unknownShapes: cost.unknownShapes,
    shapeSource: source,
    layers: heaviestFirst(cost.layers),
  };
  if (budget) {
    const verdict: BudgetVerdict = { fits: true };
    if (budget.flash !== undefined) {
      verdict.flash = {
        limit: budget.flash,
        needed: cost.weightBytes,
        fits: cost.weightBytes <= budget.flash,
      };
      verdict.fits &&= verdict.flash.fits;
    }
    if (budget.ram !== undefined) {
      verdict.ram = {
        limit: budget.ram,
        needed: cost.peakActivationBytes,
        fits: cost.peakActivationBytes <= budget.ram,
      };
      verdict.fits &&= verdict.ram.fits;
    }
    report.budget = verdict;
  }
  return report;
}

/** Static analysis only (no runtime). */
export function inspectModel(model: Model, options: InspectOptions = {}): InspectReport {
  const shapes = inferShapes(model, { inputShapes: options.shapes ?? {}, defaultDim: 1 });
  return assemble(model, analyzeCost(model, shapes), 'static', options.budget);
}

/** Static analysis, completed by one ONNX Runtime run when shapes stay unknown. */
export async function inspectWithRuntime(
  model: Model,
  runtime: Runtime,
  options: InspectOptions = {},
): Promise<InspectReport> {
  const shapes = inferShapes(model, { inputShapes: options.shapes ?? {}, defaultDim: 1 });
  let cost = analyzeCost(model, shapes);
  if (cost.unknownShapes === 0) return assemble(model, cost, 'static', options.budget);
  let measured: Map<string, { dims: number[]; dtype: number }>;
  try {
    measured = await runtimeShapes(
      model,
      runtime,
      synthesizeInputs(model, { shapes: options.shapes ?? {}, batch: 1 }),
    );
  } catch {
    return assemble(model, cost, 'static', options.budget); // the static figures are still right where known
  }
  const types = new Map(shapes.types);
  for (const g of [model.graph])
    for (const n of g.nodes)
      for (const v of n.outputs) {
        const m = measured.get(v.name);
        if (m) types.set(v, { elemType: m.dtype, shape: m.dims } satisfies TensorType);
      }
  cost = analyzeCost(model, { types });
  return assemble(model, cost, 'runtime', options.budget);
}
