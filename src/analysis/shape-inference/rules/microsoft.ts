// Rules for com.microsoft contrib ops common in exported and quantized models (fused activations and
// normalizations, fused and quantized convs and matrix products). They reuse the default domain's
// rule builders; QuantizeLinear/DequantizeLinear use the default domain's rules themselves.

import { DataType } from '../../../onnx/dtype.js';
import type { RuleRow } from '../context.js';
import { broadcastShapes } from '../dims.js';
import { convRule } from './conv-pool.js';
import { dequantizeLinear, quantizeLinear } from './elementwise.js';
import { gemmRule, matmulShape, transposeLast } from './matmul.js';

export const microsoftRules: RuleRow[] = [
  [
    ['Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu', 'QLinearSigmoid', 'QLinearLeakyRelu'],
    (c) => c.set(0, c.elem(0), c.shape(0)),
  ],
  [
    ['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization'],
    (c) => {
      c.set(0, c.elem(0), c.shape(0));
      if (c.outputCount > 3) c.set(3, c.elem(0), c.shape(0));
    },
  ],
  [['FusedConv', 'NhwcConv'], convRule(1, (c) => c.elem(0))],
  [['FusedGemm'], gemmRule(1, (c) => c.elem(0))],
  [['QGemm'], gemmRule(3, (c) => (c.has(8) ? c.elem(8) : DataType.FLOAT))],
  [
    ['FusedMatMul'],
    (c) => {
      const a = transposeLast(c.shape(0), c.int('transA', 0) === 1);
      const b = transposeLast(c.shape(1), c.int('transB', 0) === 1);
      c.set(0, c.elem(0), matmulShape(a, b));
    },
  ],
  [['MatMulInteger16'], (c) => c.set(0, DataType.INT32, matmulShape(c.shape(0), c.shape(1)))],
  [
    ['MatMulIntegerToFloat', 'DynamicQuantizeMatMul'],
    (c) => c.set(0, DataType.FLOAT, matmulShape(c.shape(0), c.shape(1))),
  ],
  [
    ['MatMulNBits'],
    (c) => {
      const a = c.shape(0);
      c.set(0, c.elem(0), a && [...a.slice(0, -1), c.int('N', 0) || null]);
    },
  ],
  [['QLinearAdd', 'QLinearMul'], (c) => c.set(0, c.elem(0), broadcastShapes([c.shape(0), c.shape(3)]))],
  [['QuantizeLinear'], quantizeLinear],
  [['DequantizeLinear'], dequantizeLinear],
];
