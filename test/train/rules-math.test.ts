// Gradient rules of arithmetic, activations, Gemm/MatMul, normalizations and reductions, each checked
// against central finite differences of the forward graph run by onnxruntime-node (gradcheck.ts).
import { describe } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { awayFromZero, distinct, ruleChecks } from './gradcheck.js';

const check = ruleChecks();

const positive = (n: number, seed: number) => awayFromZero(n, seed, 0.5).map(Math.abs);

describe('gradient rules vs finite differences: arithmetic', () => {
  check('Add (broadcast [2,3,4] + [3,1])', {
    inputs: { a: { dims: [2, 3, 4] }, b: { dims: [3, 1] } },
    build: (b, x) => b.op('Add', [x.a, x.b]),
  });
  check('Sub (broadcast [4] - [2,3,4])', {
    inputs: { a: { dims: [4] }, b: { dims: [2, 3, 4] } },
    build: (b, x) => b.op('Sub', [x.a, x.b]),
  });
  check('Mul (broadcast [2,3,4] * [2,1,4])', {
    inputs: { a: { dims: [2, 3, 4] }, b: { dims: [2, 1, 4] } },
    build: (b, x) => b.op('Mul', [x.a, x.b]),
  });
  check('Div (broadcast [2,3,4] / [3,4])', {
    inputs: { a: { dims: [2, 3, 4] }, b: { dims: [3, 4], data: awayFromZero(12, 5, 1) } },
    build: (b, x) => b.op('Div', [x.a, x.b]),
  });
  check('Pow (constant exponent 3)', {
    inputs: { a: { dims: [3, 4], data: positive(12, 3) } },
    build: (b, x) => b.op('Pow', [x.a, b.weight('e', Tensor.fromFloat32('e', [], [3]))]),
    h: 1e-3,
  });
  check('Pow (exponent as an input, broadcast)', {
    inputs: { a: { dims: [3, 4], data: positive(12, 3) }, e: { dims: [4], data: positive(4, 4) } },
    build: (b, x) => b.op('Pow', [x.a, x.e]),
    h: 1e-3,
  });
  check('Sqrt', {
    inputs: { a: { dims: [3, 4], data: positive(12, 6) } },
    build: (b, x) => b.op('Sqrt', [x.a]),
    h: 1e-3,
  });
  check('Exp, Log, Neg, Reciprocal chain', {
    inputs: { a: { dims: [3, 4], data: positive(12, 7) } },
    build: (b, x) =>
      b.op('Reciprocal', [b.op('Neg', [b.op('Log', [b.op('Add', [b.op('Exp', [x.a]), x.a])])])]),
    h: 1e-3,
  });
  check('Erf', { inputs: { a: { dims: [3, 5] } }, build: (b, x) => b.op('Erf', [x.a]), h: 1e-3 });
});

describe('gradient rules vs finite differences: activations', () => {
  check('Relu', {
    inputs: { a: { dims: [3, 8], data: awayFromZero(24, 1) } },
    build: (b, x) => b.op('Relu', [x.a]),
  });
  check('LeakyRelu', {
    inputs: { a: { dims: [3, 8], data: awayFromZero(24, 2) } },
    build: (b, x) => b.op('LeakyRelu', [x.a], { alpha: 0.2 }, { floatAttrs: ['alpha'] }),
  });
  check('Clip (Relu6)', {
    inputs: { a: { dims: [4, 8], data: distinct(32, 3, 0.47).map((v) => v + 0.011) } },
    build: (b, x) =>
      b.op('Clip', [
        x.a,
        b.weight('lo', Tensor.fromFloat32('lo', [], [0])),
        b.weight('hi', Tensor.fromFloat32('hi', [], [6])),
      ]),
  });
  check('Clip (opset 10 attributes)', {
    opset: 10,
    inputs: { a: { dims: [4, 8], data: distinct(32, 4, 0.23).map((v) => v + 0.011) } },
    build: (b, x) => b.op('Clip', [x.a], { min: -1, max: 1 }, { floatAttrs: ['min', 'max'] }),
  });
  check('Sigmoid', { inputs: { a: { dims: [3, 5] } }, build: (b, x) => b.op('Sigmoid', [x.a]), h: 1e-3 });
  check('Tanh', { inputs: { a: { dims: [3, 5] } }, build: (b, x) => b.op('Tanh', [x.a]), h: 1e-3 });
  check('HardSigmoid', {
    inputs: { a: { dims: [4, 8], data: distinct(32, 5, 0.37).map((v) => v + 0.013) } },
    build: (b, x) =>
      b.op('HardSigmoid', [x.a], { alpha: 0.25, beta: 0.5 }, { floatAttrs: ['alpha', 'beta'] }),
  });
  check('HardSwish', {
    inputs: { a: { dims: [4, 8], data: distinct(32, 6, 0.29).map((v) => v + 0.017) } },
    build: (b, x) => b.op('HardSwish', [x.a]),
    h: 1e-3,
  });
  check('Gelu (exact, opset 20)', {
    opset: 20,
    inputs: { a: { dims: [3, 5] } },
    build: (b, x) => b.op('Gelu', [x.a]),
    h: 1e-3,
  });
  check('Gelu (tanh, opset 20)', {
    opset: 20,
    inputs: { a: { dims: [3, 5] } },
    build: (b, x) => b.op('Gelu', [x.a], { approximate: 'tanh' }),
    h: 1e-3,
  });
  check('Gelu as exported (Div, Erf, Add, Mul, Mul)', {
    inputs: { a: { dims: [3, 5] } },
    build: (b, x) => {
      const e = b.op('Erf', [b.op('Div', [x.a, b.weight('s', Tensor.fromFloat32('s', [], [Math.SQRT2]))])]);
      const one = b.weight('one', Tensor.fromFloat32('one', [], [1]));
      const half = b.weight('half', Tensor.fromFloat32('half', [], [0.5]));
      return b.op('Mul', [b.op('Mul', [x.a, b.op('Add', [e, one])]), half]);
    },
    h: 1e-3,
  });
  check('Softmax (axis 1 of 3-D)', {
    inputs: { a: { dims: [2, 4, 3] } },
    build: (b, x) => b.op('Softmax', [x.a], { axis: 1 }),
    h: 1e-3,
  });
  check('Softmax (opset 11: flattened from axis 1)', {
    opset: 11,
    inputs: { a: { dims: [2, 3, 4] } },
    build: (b, x) => b.op('Softmax', [x.a], { axis: 1 }),
    h: 1e-3,
  });
  check('LogSoftmax', {
    inputs: { a: { dims: [3, 6] } },
    build: (b, x) => b.op('LogSoftmax', [x.a], { axis: -1 }),
    h: 1e-3,
  });
});

describe('gradient rules vs finite differences: Gemm, MatMul', () => {
  for (const [ta, tb] of [
    [0, 0],
    [1, 0],
    [0, 1],
    [1, 1],
  ] as const)
    check(`Gemm transA=${ta} transB=${tb}, alpha, beta, C [1,N]`, {
      inputs: {
        a: { dims: ta ? [4, 3] : [3, 4] },
        w: { dims: tb ? [5, 4] : [4, 5] },
        c: { dims: [1, 5] },
      },
      build: (b, x) =>
        b.op(
          'Gemm',
          [x.a, x.w, x.c],
          { transA: ta, transB: tb, alpha: 0.7, beta: 1.3 },
          {
            floatAttrs: ['alpha', 'beta'],
          },
        ),
    });
  check('Gemm, C [N]', {
    inputs: { a: { dims: [3, 4] }, w: { dims: [5, 4] }, c: { dims: [5] } },
    build: (b, x) => b.op('Gemm', [x.a, x.w, x.c], { transB: 1 }),
  });
  check('MatMul 2-D', {
    inputs: { a: { dims: [3, 4] }, w: { dims: [4, 5] } },
    build: (b, x) => b.op('MatMul', [x.a, x.w]),
  });
  check('MatMul batched x 2-D weight', {
    inputs: { a: { dims: [2, 3, 4] }, w: { dims: [4, 5] } },
    build: (b, x) => b.op('MatMul', [x.a, x.w]),
  });
  check('MatMul broadcast batch [2,1,3,4] x [3,4,5]', {
    inputs: { a: { dims: [2, 1, 3, 4] }, w: { dims: [3, 4, 5] } },
    build: (b, x) => b.op('MatMul', [x.a, x.w]),
  });
  check('MatMul 1-D x 2-D and 2-D x 1-D', {
    inputs: { a: { dims: [4] }, w: { dims: [4, 5] }, v: { dims: [5] } },
    build: (b, x) => b.op('Concat', [b.op('MatMul', [x.a, x.w]), b.op('MatMul', [x.w, x.v])], { axis: 0 }),
  });
});

describe('gradient rules vs finite differences: normalizations, reductions', () => {
  check('LayerNormalization (last axis)', {
    inputs: { a: { dims: [3, 6] }, s: { dims: [6] }, c: { dims: [6] } },
    build: (b, x) =>
      b.op('LayerNormalization', [x.a, x.s, x.c], { axis: -1, epsilon: 1e-5 }, { floatAttrs: ['epsilon'] }),
    h: 1e-3,
  });
  check('LayerNormalization (axis 1 of 3-D)', {
    inputs: { a: { dims: [2, 3, 4] }, s: { dims: [3, 4] }, c: { dims: [3, 4] } },
    build: (b, x) => b.op('LayerNormalization', [x.a, x.s, x.c], { axis: 1 }),
    h: 1e-3,
  });
  check('BatchNormalization (frozen statistics)', {
    inputs: {
      a: { dims: [2, 3, 4, 4] },
      s: { dims: [3] },
      c: { dims: [3] },
      m: { dims: [3], grad: false },
      v: { dims: [3], data: positive(3, 9), grad: false },
    },
    build: (b, x) =>
      b.op('BatchNormalization', [x.a, x.s, x.c, x.m, x.v], { epsilon: 1e-3 }, { floatAttrs: ['epsilon'] }),
  });
  check('ReduceMean (axes [1], keepdims 0)', {
    inputs: { a: { dims: [2, 3, 4] } },
    build: (b, x) => b.op('ReduceMean', [x.a], { axes: [1], keepdims: 0 }),
  });
  check('ReduceMean (opset 18, axes input, keepdims 1)', {
    opset: 18,
    inputs: { a: { dims: [2, 3, 4] } },
    build: (b, x) => b.op('ReduceMean', [x.a, b.weight('ax', Tensor.fromInt64('ax', [2], [0, 2]))]),
  });
  check('ReduceSum (all axes)', {
    inputs: { a: { dims: [2, 3, 4] } },
    build: (b, x) => b.op('ReduceSum', [x.a], { keepdims: 0 }),
  });
});
