// Model analysis: static shape inference and what a model costs (weights, MACs, activation memory).

export { analyzeCost, bytesOf, type LayerCost, type ModelCost } from './cost.js';
export {
  CONSTANT_LIMIT,
  type ConstantValue,
  type InferenceError,
  type InferShapesOptions,
  inferShapes,
  isStaticShape,
  type ShapeInference,
} from './shape-inference.js';
