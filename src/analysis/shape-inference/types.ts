// The public types of shape inference (options, results, constants) and the constant size limit.
// Everything else in this folder builds on these; see engine.ts for the rules inference follows.

import type { Dim, Node, TensorType, Value } from '../../ir/graph.js';

export interface InferShapesOptions {
  /** concrete shapes of graph inputs by name (replace symbolic and unknown dims) */
  inputShapes?: Record<string, number[]>;
  /** size given to symbolic/unknown input dims not set by `inputShapes`; null keeps them symbolic (default 1) */
  defaultDim?: number | null;
  /** write the inferred types into `Value.type` where they are more specific (default false) */
  write?: boolean;
}

/** A small tensor known statically; integer tensors may hold symbols (string) or unknowns (null). */
export interface ConstantValue {
  dtype: number;
  dims: number[];
  values: Dim[];
}

export interface InferenceError {
  node: Node;
  error: unknown;
}

export interface ShapeInference {
  /** the type of every value inference reached: inputs (after substitution), weights, node outputs */
  types: Map<Value, TensorType>;
  /** values known statically (small tensors only) */
  constants: Map<Value, ConstantValue>;
  /** node outputs whose rank or some dim is unknown (symbolic dims count as known) */
  missing: Value[];
  /** rules that failed on odd nodes (the outputs stay unknown) */
  errors: InferenceError[];
}

/** Constants with more elements than this are not evaluated. */
export const CONSTANT_LIMIT = 4096;
