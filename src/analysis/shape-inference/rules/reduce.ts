// Rules for reductions (ReduceSum, ReduceMean, …, ArgMax/ArgMin) and the losses that reduce
// (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss). ReduceProd/ReduceSum of a constant shape
// vector are evaluated (flatten sizes).

import type { Dim } from '../../../ir/graph.js';
import { DataType } from '../../../onnx/dtype.js';
import { ops, type RuleContext, type RuleRow } from '../context.js';
import { axisOf, dimProduct, dimSum, unknownDims } from '../dims.js';

function reduceRule(
  c: RuleContext,
  elemType: number,
  axes: number[] | undefined,
  axesUnknown: boolean,
): void {
  const x = c.shape(0);
  const keep = c.int('keepdims', 1) === 1;
  if (!x || axesUnknown) {
    c.set(0, elemType, x && keep ? unknownDims(x.length) : undefined);
    return;
  }
  if (!axes || axes.length === 0) {
    if (c.int('noop_with_empty_axes', 0) === 1) {
      c.set(0, elemType, x);
      return;
    }
    axes = x.map((_, i) => i);
  }
  const reduced = new Set(axes.map((a) => axisOf(a, x.length)));
  const out: Dim[] = [];
  x.forEach((d, i) => {
    if (!reduced.has(i)) out.push(d);
    else if (keep) out.push(1);
  });
  c.set(0, elemType, out);
}

export const reduceRules: RuleRow[] = [
  [
    ops(
      'ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceSumSquare',
    ),
    (c) => {
      const fromInput = c.has(1);
      const axes = fromInput ? c.numbers(1) : c.ints('axes');
      reduceRule(c, c.elem(0), axes, fromInput && !axes);
      // ReduceProd/ReduceSum of a known shape vector (used for flatten sizes)
      const k = c.constant(0);
      const op = c.node.opType;
      if (
        k &&
        k.dims.length === 1 &&
        (op === 'ReduceProd' || op === 'ReduceSum') &&
        (!axes || axes.length <= 1)
      ) {
        const v = op === 'ReduceProd' ? dimProduct(k.values) : dimSum(k.values);
        const keep = c.int('keepdims', 1) === 1;
        c.setConstant(0, { dtype: k.dtype, dims: keep ? [1] : [], values: [v] });
      }
    },
  ],

  [['ArgMax', 'ArgMin'], (c) => reduceRule(c, DataType.INT64, [c.int('axis', 0)], false)],

  [
    ['NegativeLogLikelihoodLoss', 'SoftmaxCrossEntropyLoss'],
    (c) => {
      const x = c.shape(0);
      const reduction = c.str('reduction', 'mean');
      c.set(0, c.elem(0), reduction === 'none' ? x && [x[0]!, ...x.slice(2)] : []);
      if (c.node.opType === 'SoftmaxCrossEntropyLoss') c.set(1, c.elem(0), x);
    },
  ],
];
