// edgefit's platform-neutral core: the IR, decode/encode, analysis, passes, recipes, datasets and
// metrics, evaluation. Nothing here imports Node-only modules; `edgefit/node` adds files and
// onnxruntime-node, `edgefit/web` (src/runtime/web.ts) onnxruntime-web.

export { analyzeCost, type LayerCost, type ModelCost } from './analysis/cost.js';
export { type InspectReport, inspectModel } from './analysis/inspect.js';
export { inferShapes, type ShapeInference } from './analysis/shape-inference.js';
// the library over bytes / Model (edgefit/node offers the same names over file paths)
export {
  type BytesResult,
  type Core,
  type CoreEnv,
  clusterBytes as cluster,
  decomposeBytes as decompose,
  evaluateBytes as evaluate,
  inspectBytes as inspect,
  pruneBytes as prune,
  quantizeBytes as quantize,
  slimBytes as slim,
} from './commands/api.js';
// the command layer: option schemas (keys = CLI flags), validation, the engine and the report types
export { buildFinetune, type FinetuneOptions, finetuneOptions } from './commands/finetune.js';
export * from './commands/measure.js';
export * from './commands/options.js';
export * from './commands/quantize.js';
export * from './commands/schema.js';
export { type SearchOptions, searchCore, searchOptions } from './commands/search.js';
export { resolveShapes } from './commands/shapes.js';
export * from './commands/techniques.js';
export * from './commands/transform.js';
export * from './commands/transforms.js';
export { parseBudget, parseSize } from './commands/units.js';
export { bindArrays, type Dataset, syntheticDataset } from './data/dataset.js';
export * from './data/index.js';
export { synthesizeInputs } from './data/synthetic.js';
export { EdgefitError, isEdgefitError } from './errors.js';
export { GraphBuilder, newModel } from './ir/builder.js';
export { cloneModel } from './ir/clone.js';
export { type Attribute, Graph, Model, Node, type TensorType, Value } from './ir/graph.js';
export type { HostTensor } from './ir/host-tensor.js';
export { decodeModel, encodeModel, encodeModelChunks } from './ir/serialize.js';
export { modelCounts } from './ir/stats.js';
export { Tensor } from './ir/tensor.js';
export { assertValid, topologicalSort, verifyModel } from './ir/verify.js';
export { DataType, dataTypeName } from './onnx/dtype.js';
export { definePass, type Pass, type PassContext, type PassResult } from './passes/pass.js';
export { findPass, PASSES, SLIM_PASSES } from './passes/registry.js';
export { benchmark, parseProfile } from './pipeline/benchmark.js';
export { evaluate as runEvaluation } from './pipeline/evaluate.js';
export { inspectWithRuntime } from './pipeline/inspect.js';
export { kernelReport } from './pipeline/kernels.js';
export { mixedPrecision } from './pipeline/mixed-precision.js';
export { compareOutputs, runPasses } from './pipeline/pass-manager.js';
export { parseRecipe, type RecipeStep, recipeToJson, step } from './pipeline/recipe.js';
export * from './pipeline/transform.js';
export { type AnyReport, checkReport, readReport, renderReport, reportPage } from './report/html.js';
export * from './report/schema.js';
export { textTable } from './report/text-table.js';
export { collectActivations } from './runtime/collect.js';
export { exposeValues } from './runtime/expose.js';
export type { Runtime, Session, SessionOptions } from './runtime/types.js';
export { type EvalCache, type Evaluator, LocalEvaluator, memoryCache } from './search/evaluator.js';
export { paretoFront } from './search/pareto.js';
export { runSearch } from './search/search.js';
