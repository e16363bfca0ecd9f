// quantize-static-int8's plan (rules 1 and 2 of quantize-static-int8.ts): which nodes run quantized,
// which values get Q -> DQ, which share their input's parameters (data-movement ops), and which lone
// Relu/Clip readers fold into their producer's output range.

import { attrInt } from '../../ir/builder.js';
import type { Graph, Node, Value } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import type { PassContext } from '../pass.js';
import { constantOf, nodeMatcher } from '../util.js';
import type { StaticOptions } from './quantize-static-int8.js';

export const COMPUTE = new Set([
  'Conv',
  'MatMul',
  'Gemm',
  'Add',
  'Mul',
  'AveragePool',
  'GlobalAveragePool',
  'Sigmoid',
  'LeakyRelu',
  'Softmax',
  'Concat',
]);
/** ops that run on uint8 when Q and DQ around them share scale and zero point */
const MOVE = new Set([
  'Reshape',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Flatten',
  'MaxPool',
  'Slice',
  'Gather',
  'Resize',
  'Expand',
  'Tile',
  'Split',
]);

const isFloatValue = (v: Value | undefined): v is Value =>
  v?.type?.elemType === DataType.FLOAT && !constantOf(v);

export interface Plan {
  /** nodes that will run quantized */
  targets: Set<Node>;
  /** value -> the name whose calibrated range it takes (a folded Relu's output, or itself) */
  rangeSource: Map<Value, string>;
  /** value -> value whose qparams it must share (data-movement outputs) */
  tiedTo: Map<Value, Value>;
  /** values that get Q -> DQ, in graph order */
  qdq: Value[];
  /** Relu/Clip nodes to remove: activation node -> the target output it follows */
  folds: Map<Node, Value>;
  /** input value of Conv/Gemm/MatMul targets with weights -> channel means wanted for bias correction */
  meanOf: Set<Value>;
}

function weightIsQuantizable(n: Node): boolean {
  const w = constantOf(n.inputs[1]);
  return !!w && w.dtype === DataType.FLOAT && w.dims.length >= 2;
}

function isTarget(n: Node): boolean {
  if (n.domain !== '' || !COMPUTE.has(n.opType)) return false;
  const x = n.inputs[0];
  switch (n.opType) {
    case 'Conv':
      return (
        isFloatValue(x) &&
        weightIsQuantizable(n) &&
        (!n.inputs[2] || constantOf(n.inputs[2])?.dtype === DataType.FLOAT)
      );
    case 'MatMul': {
      if (!isFloatValue(x)) return false;
      const w = constantOf(n.inputs[1]);
      return w ? w.dtype === DataType.FLOAT && w.dims.length === 2 : isFloatValue(n.inputs[1]);
    }
    case 'Gemm': {
      const w = constantOf(n.inputs[1]);
      const c = n.inputs[2] ? constantOf(n.inputs[2]) : undefined;
      const nOut = w ? (attrInt(n, 'transB', 0) ? w.dims[0]! : w.dims[1]!) : 0;
      return (
        isFloatValue(x) &&
        attrInt(n, 'transA', 0) === 0 &&
        !!w &&
        w.dtype === DataType.FLOAT &&
        w.dims.length === 2 &&
        (!n.inputs[2] || (!!c && c.dtype === DataType.FLOAT && (c.size === nOut || c.size === 1)))
      );
    }
    case 'Add':
    case 'Mul':
      return isFloatValue(x) && isFloatValue(n.inputs[1]);
    case 'Concat':
      return n.inputs.every((v) => isFloatValue(v));
    default:
      return isFloatValue(x);
  }
}

export function plan(graph: Graph, options: StaticOptions, ctx: PassContext): Plan {
  const excluded = options.exclude.length ? nodeMatcher(options.exclude) : () => false;
  const p: Plan = {
    targets: new Set(),
    rangeSource: new Map(),
    tiedTo: new Map(),
    qdq: [],
    folds: new Map(),
    meanOf: new Set(),
  };
  const marked = new Set<Value>();
  const pendingFolds: [Node, Value][] = [];
  const mark = (v: Value | undefined) => {
    if (v && !marked.has(v)) {
      marked.add(v);
      p.qdq.push(v);
    }
  };
  for (const n of graph.nodes) {
    if (!ctx.selects(n) || excluded(n)) continue;
    if (isTarget(n)) {
      p.targets.add(n);
      const weighted =
        (n.opType === 'Conv' || n.opType === 'Gemm' || n.opType === 'MatMul') && !!constantOf(n.inputs[1]);
      for (const [i, v] of n.inputs.entries()) if (v && !(weighted && i > 0)) mark(v);
      if (weighted && options.biasCorrection) p.meanOf.add(n.inputs[0]!);
      const out = n.outputs[0]!;
      // rule 2: fold a lone Relu/Clip reader into the output range
      const only = out.uses.length === 1 && !out.isGraphOutput ? out.uses[0]!.node : undefined;
      const foldable =
        options.foldActivations &&
        only !== undefined &&
        only.domain === '' &&
        !excluded(only) &&
        (only.opType === 'Relu' ||
          (only.opType === 'Clip' &&
            (!only.inputs[1] || constantOf(only.inputs[1]) !== undefined) &&
            (!only.inputs[2] || constantOf(only.inputs[2]) !== undefined)));
      if (n.opType === 'MatMul' || n.opType === 'Gemm') {
        // MatMul/Gemm need no output Q (MatMulIntegerToFloat and QGemm give float): their output is
        // quantized only when a quantized node reads it, and a Relu is folded only then (the Q clamps)
        if (foldable) pendingFolds.push([only, out]);
      } else {
        if (foldable) {
          p.folds.set(only, out);
          p.rangeSource.set(out, only.outputs[0]!.name);
          // the activation's output becomes `out` once folded: data-movement ops reading it join
          // the quantized region with `out`'s parameters
          marked.add(only.outputs[0]!);
        }
        mark(out);
      }
    } else if (
      n.domain === '' &&
      MOVE.has(n.opType) &&
      n.inputs[0] &&
      marked.has(n.inputs[0]) &&
      isFloatValue(n.inputs[0]) &&
      n.outputs.length === 1
    ) {
      p.targets.add(n);
      p.tiedTo.set(n.outputs[0]!, n.inputs[0]);
      mark(n.outputs[0]);
    }
  }
  for (const [act, out] of pendingFolds) {
    const y = act.outputs[0]!;
    if (!marked.has(y) && !marked.has(out)) continue;
    p.folds.set(act, out);
    p.rangeSource.set(out, y.name);
  }
  for (const v of p.qdq) if (!p.rangeSource.has(v)) p.rangeSource.set(v, v.name);
  return p;
}
