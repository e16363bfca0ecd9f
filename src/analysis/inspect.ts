// `inspect`: what a model costs, as one report — totals, one row per layer (heaviest first), opsets,
// inputs and outputs with their symbolic dims, op-type counts, and whether it fits a device budget.
// Shapes come from static inference here; pipeline/inspect.ts completes the unknown ones by running
// the model once (this module imports no runtime).

import type { Dim, Model, Value } from '../ir/graph.js';
import { modelCounts } from '../ir/stats.js';
import { dataTypeName } from '../onnx/dtype.js';
import { analyzeCost, type LayerCost, type ModelCost } from './cost.js';
import { inferShapes, type ShapeInference } from './shape-inference.js';

export interface IoInfo {
  name: string;
  dtype: string;
  shape: Dim[] | null;
}

export interface Budget {
  flash?: number;
  ram?: number;
}

export interface BudgetFit {
  limit: number;
  needed: number;
  fits: boolean;
}

export interface BudgetVerdict {
  flash?: BudgetFit;
  ram?: BudgetFit;
  fits: boolean;
}

export interface InspectReport extends ModelCost {
  nodes: number;
  opTypes: Record<string, number>;
  opsets: Record<string, number>;
  irVersion: number;
  producer: string;
  inputs: IoInfo[];
  outputs: IoInfo[];
  /** where the shapes came from */
  shapeSource: 'static' | 'runtime';
  /** heaviest first */
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

function budgetFit(limit: number | undefined, needed: number): BudgetFit | undefined {
  return limit === undefined ? undefined : { limit, needed, fits: needed <= limit };
}

/** The report for `model` under the layer costs `cost` (computed from shapes found by `source`). */
export function assembleReport(
  model: Model,
  cost: ModelCost,
  source: 'static' | 'runtime',
  budget?: Budget,
): InspectReport {
  const counts = modelCounts(model);
  const report: InspectReport = {
    ...cost,
    nodes: counts.nodes,
    opTypes: counts.opTypes,
    opsets: Object.fromEntries([...model.opsetImports].map(([d, v]) => [d || 'ai.onnx', v])),
    irVersion: model.irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    inputs: model.graph.inputs.filter((v) => !v.initializer).map(io),
    outputs: model.graph.outputs.map(io),
    shapeSource: source,
    layers: heaviestFirst(cost.layers),
  };
  if (budget) {
    const flash = budgetFit(budget.flash, cost.weightBytes);
    const ram = budgetFit(budget.ram, cost.peakActivationBytes);
    report.budget = {
      ...(flash && { flash }),
      ...(ram && { ram }),
      fits: (flash?.fits ?? true) && (ram?.fits ?? true),
    };
  }
  return report;
}

/** Static shape inference with the options' input shapes (every other free dim 1), and the cost under it. */
export function staticCost(
  model: Model,
  options: InspectOptions = {},
): { shapes: ShapeInference; cost: ModelCost } {
  const shapes = inferShapes(model, { inputShapes: options.shapes ?? {}, defaultDim: 1 });
  return { shapes, cost: analyzeCost(model, shapes) };
}

/** Static analysis only (no runtime); `inspectWithRuntime` in pipeline/inspect.ts also measures unknown shapes. */
export function inspectModel(model: Model, options: InspectOptions = {}): InspectReport {
  return assembleReport(model, staticCost(model, options).cost, 'static', options.budget);
}
