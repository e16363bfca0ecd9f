// Rules for ops whose output has the shape of an input or of the inputs broadcast: activations,
// elementwise math, normalizations, casts and quantization, random ops, and the broadcasting binary
// ops (Add, Equal, Where, …), which also evaluate constant inputs.

import { DataType } from '../../../onnx/dtype.js';
import { binaryConstant, elementwiseConstant, INT_TYPES, UNARY_CONSTANT } from '../constants.js';
import { ops, type Rule, type RuleContext, type RuleRow } from '../context.js';
import { axisOf, broadcastShapes, isNum } from '../dims.js';
import type { ConstantValue } from '../types.js';

/** output i has the type of input 0 */
const sameAsInput: Rule = (c) => {
  c.set(0, c.elem(0), c.shape(0));
  const fn = UNARY_CONSTANT[c.node.opType];
  const k = c.constant(0);
  if (fn && k)
    c.setConstant(
      0,
      elementwiseConstant(k.dtype, [k], ([x]) => (isNum(x) ? fn(x) : null)),
    );
};

/** also the com.microsoft QuantizeLinear and DequantizeLinear (microsoft.ts) */
export const quantizeLinear: Rule = (c) =>
  c.set(0, c.has(2) ? c.elem(2) : c.int('output_dtype', 0) || DataType.UINT8, c.shape(0));
export const dequantizeLinear: Rule = (c) =>
  c.set(0, c.int('output_dtype', 0) || c.elem(1) || DataType.FLOAT, c.shape(0));

/** numpy-broadcasting ops over all inputs; `elemType` picks the output type. */
function broadcastRule(elemType: (c: RuleContext) => number): Rule {
  return (c) => {
    const inputs = c.node.inputs.map((_, i) => c.shape(i));
    const out = elemType(c);
    c.set(0, out, broadcastShapes(inputs));
    const consts = c.node.inputs.map((_, i) => c.constant(i));
    if (consts.length === 0 || !consts.every((k) => k !== undefined)) return;
    const ks = consts as ConstantValue[];
    const op = c.node.opType;
    const dtype = out || ks[0]!.dtype;
    if (op === 'Where') {
      c.setConstant(
        0,
        elementwiseConstant(dtype, ks, ([cond, a, b]) => (isNum(cond!) ? (cond ? a! : b!) : null)),
      );
      return;
    }
    if (op === 'Mean') return;
    const fn = binaryConstant(op, INT_TYPES.has(ks[0]!.dtype), c.int('fmod', 0) === 1);
    if (fn)
      c.setConstant(
        0,
        elementwiseConstant(dtype, ks, (xs) => xs.reduce((a, b) => fn(a, b))),
      );
  };
}

export const elementwiseRules: RuleRow[] = [
  // activations
  [ops('Relu Sigmoid Tanh Gelu Erf LeakyRelu HardSigmoid HardSwish Softplus Softsign Elu Selu'), sameAsInput],
  [ops('Celu ThresholdedRelu Mish Swish Shrink Clip'), sameAsInput],
  // elementwise math
  [ops('Sqrt Exp Log Neg Abs Floor Ceil Round Sign Reciprocal Not BitwiseNot'), sameAsInput],
  [ops('Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh'), sameAsInput],
  // normalization and per-axis ops that keep the shape
  [ops('Softmax LogSoftmax Hardmax InstanceNormalization GroupNormalization LpNormalization'), sameAsInput],
  [ops('MeanVarianceNormalization LRN RMSNormalization RotaryEmbedding ImageScaler'), sameAsInput],
  [ops('Trilu CumSum ReverseSequence Scatter ScatterElements ScatterND'), sameAsInput],

  [
    ['Identity'],
    (c) => {
      c.set(0, c.elem(0), c.shape(0));
      c.setConstant(0, c.constant(0));
    },
  ],

  [['IsNaN', 'IsInf'], (c) => c.set(0, DataType.BOOL, c.shape(0))],

  [
    ['Dropout'],
    (c) => {
      c.set(0, c.elem(0), c.shape(0));
      c.set(1, DataType.BOOL, c.shape(0));
    },
  ],

  [
    ['BatchNormalization'],
    (c) => {
      c.set(0, c.elem(0), c.shape(0));
      // training outputs: running mean/var (opset 14+) or mean, var, saved mean, saved var: all [C]
      for (let i = 1; i < c.outputCount; i++)
        c.set(i, c.elem(3) || c.elem(0), c.shape(3) ?? [c.shape(0)?.[1] ?? null]);
    },
  ],

  [
    ['LayerNormalization'],
    (c) => {
      const x = c.shape(0);
      c.set(0, c.elem(0), x);
      const axis = x ? axisOf(c.int('axis', -1), x.length) : undefined;
      const reduced = x && axis !== undefined ? x.map((d, i) => (i < axis ? d : 1)) : undefined;
      const stash = c.int('stash_type', DataType.FLOAT);
      c.set(1, stash, reduced);
      c.set(2, stash, reduced);
    },
  ],

  [
    ['Cast'],
    (c) => {
      const to = c.int('to', 0);
      c.set(0, to, c.shape(0));
      const k = c.constant(0);
      if (k && to !== DataType.STRING)
        c.setConstant(
          0,
          elementwiseConstant(to, [k], ([x]) => x ?? null),
        );
    },
  ],

  [
    ['CastLike'],
    (c) => {
      const to = c.elem(1);
      c.set(0, to, c.shape(0));
      const k = c.constant(0);
      if (k && to)
        c.setConstant(
          0,
          elementwiseConstant(to, [k], ([x]) => x ?? null),
        );
    },
  ],

  [['QuantizeLinear'], quantizeLinear],
  [['DequantizeLinear'], dequantizeLinear],
  [
    ['DynamicQuantizeLinear'],
    (c) => {
      c.set(0, DataType.UINT8, c.shape(0));
      c.set(1, DataType.FLOAT, []);
      c.set(2, DataType.UINT8, []);
    },
  ],

  [
    ['Bernoulli', 'RandomUniformLike', 'RandomNormalLike'],
    (c) => c.set(0, c.int('dtype', 0) || c.elem(0), c.shape(0)),
  ],
  [['EyeLike'], (c) => c.set(0, c.int('dtype', 0) || c.elem(0), c.shape(0))],
  [['RandomUniform', 'RandomNormal'], (c) => c.set(0, c.int('dtype', DataType.FLOAT), c.ints('shape'))],
  [
    ['Multinomial'],
    (c) => c.set(0, c.int('dtype', DataType.INT32), [c.shape(0)?.[0] ?? null, c.int('sample_size', 1)]),
  ],

  [
    [
      'Add',
      'Sub',
      'Mul',
      'Div',
      'Pow',
      'Mod',
      'Max',
      'Min',
      'Sum',
      'Mean',
      'BitShift',
      'BitwiseAnd',
      'BitwiseOr',
      'BitwiseXor',
      'PRelu',
    ],
    broadcastRule((c) => c.elem(0)),
  ],
  [
    ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'],
    broadcastRule(() => DataType.BOOL),
  ],
  [['Where'], broadcastRule((c) => c.elem(1) || c.elem(2))],
];
