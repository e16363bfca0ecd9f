// Reverse-mode differentiation of an ONNX graph, emitted as ordinary ONNX nodes into the same graph.
//
// Rules:
//  1. Which values need a gradient: the `wrt` values, and every float output of a node one of whose
//     inputs needs one. QuantizeLinear, and nodes marked `meta.ste` (the rounding and casts of a
//     fake-quantized weight), pass the need on whatever their output type: straight-through estimators.
//  2. Nodes are visited once, in reverse graph order; a node none of whose outputs has a gradient, or
//     none of whose inputs needs one, is skipped. Otherwise its rule (rules/, one file per op family)
//     returns the gradient of each input from the gradients of the outputs.
//  3. A value used several times receives several contributions; they are summed (one Sum node)
//     when its producer is visited, which in reverse order is after every consumer.
//  4. An op on the gradient path without a rule is one EdgefitError naming the op and the node.

import { inferShapes } from '../analysis/shape-inference.js';
import { EdgefitError } from '../errors.js';
import { GraphBuilder } from '../ir/builder.js';
import type { Model, Node, TensorType, Value } from '../ir/graph.js';
import { DataType } from '../onnx/dtype.js';
import { GradContext } from './context.js';
import { ruleFor } from './rules/index.js';

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16]);

/** ops with integer outputs whose rule is a straight-through estimator */
const STRAIGHT_THROUGH = new Set(['QuantizeLinear']);

export interface BackwardOptions {
  /** forward value -> the value holding its gradient (a graph input, or a loss head's output) */
  seeds: Map<Value, Value>;
  /** the values whose gradients are wanted */
  wrt: readonly Value[];
  /** concrete shapes of the graph inputs (the batch size is fixed) */
  inputShapes?: Record<string, number[]>;
  /** the NCHWc block size when convolutions will be blocked (rules pick formulations that block well) */
  block?: number | undefined;
}

export interface Backward {
  /** the gradient of each `wrt` value (absent when the value does not reach any seed) */
  grads: Map<Value, Value>;
  /** the forward types used (shapes of every forward value) */
  types: Map<Value, TensorType>;
}

/** Append the backward pass of `model`'s main graph for `options.wrt` (see the header). */
export function buildBackward(model: Model, options: BackwardOptions): Backward {
  const graph = model.graph;
  const inference = inferShapes(model, { inputShapes: options.inputShapes ?? {} });
  const types = inference.types;
  const forward = [...graph.nodes];

  // rule 1
  const needs = new Set<Value>(options.wrt);
  const isFloat = (v: Value) => FLOAT_TYPES.has((types.get(v) ?? v.type)?.elemType ?? 0);
  for (const n of forward)
    if (n.inputs.some((v) => v && needs.has(v)))
      for (const o of n.outputs)
        if (o.name && (isFloat(o) || n.meta.ste || STRAIGHT_THROUGH.has(n.opType))) needs.add(o);

  const b = new GraphBuilder(graph);
  const ctx = new GradContext(
    b,
    types,
    inference.constants,
    (v) => v !== undefined && needs.has(v),
    options.block,
  );
  const parts = new Map<Value, Value[]>();
  const add = (v: Value, g: Value) => {
    const list = parts.get(v);
    if (list) list.push(g);
    else parts.set(v, [g]);
  };
  for (const [v, g] of options.seeds) add(v, g);
  // rule 3
  const total = (v: Value): Value | undefined => {
    const list = parts.get(v);
    if (!list?.length) return undefined;
    if (list.length === 1) return list[0];
    const sum = b.op('Sum', list);
    parts.set(v, [sum]);
    return sum;
  };

  // rule 2
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i]!;
    if (!node.inputs.some((v) => v && needs.has(v))) continue;
    const dy = node.outputs.map((o) => total(o));
    if (dy.every((g) => g === undefined)) continue;
    const rule = ruleFor(node);
    if (!rule) throw noRule(node);
    const dx = rule(node, dy, ctx);
    node.inputs.forEach((v, k) => {
      const g = dx[k];
      if (v && g && needs.has(v)) add(v, g);
    });
  }

  const grads = new Map<Value, Value>();
  for (const v of options.wrt) {
    const g = total(v);
    if (g) grads.set(v, g);
  }
  return { grads, types };
}

function noRule(node: Node): EdgefitError {
  const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
  return new EdgefitError(
    'UNSUPPORTED',
    `cannot fine-tune through ${op} (node ${node.name || '?'}): edgefit has no gradient rule for it`,
    'freeze the layers before it, or ask for the rule',
  );
}
