// Static shape and dtype inference over the whole model: the code lives in shape-inference/
// (engine.ts has the rules it follows, rules/ the per-op rules); this file keeps the import path.

export { isStaticShape } from './shape-inference/dims.js';
export { inferShapes } from './shape-inference/engine.js';
export { einsumDims } from './shape-inference/rules/matmul.js';
export {
  CONSTANT_LIMIT,
  type ConstantValue,
  type InferenceError,
  type InferShapesOptions,
  type ShapeInference,
} from './shape-inference/types.js';
