// Raising a model's ai.onnx opset when a rewrite needs newer ops (per-axis DequantizeLinear: 13; int4
// and blocked DequantizeLinear: 21), only when no op of the model changed meaning in between (the
// table below); otherwise the caller falls back and says why.

import type { Model } from '../../ir/graph.js';

// ai.onnx versions at which ops changed meaning (an attribute became an input, new axis semantics...);
// added types, or added attributes whose default keeps the old behaviour, are not listed.
const BREAKING: [number, string[]][] = [
  [7, ['Gemm']],
  [9, ['Upsample', 'Scan', 'BatchNormalization']],
  [10, ['Upsample', 'Slice', 'TopK']],
  [11, ['Pad', 'Resize', 'Clip', 'Scatter']],
  [12, ['Dropout']],
  [13, ['Softmax', 'LogSoftmax', 'Hardmax', 'Split', 'Squeeze', 'Unsqueeze', 'ReduceSum']],
  [18, ['ReduceMax', 'ReduceMin', 'ReduceMean', 'ReduceProd', 'ReduceL1', 'ReduceL2']],
  [18, ['ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']],
  [20, ['GridSample', 'DFT']],
  [21, ['GroupNormalization']],
];

/** Why the default-domain opset cannot be raised to `to`, or undefined when it can. */
export function opsetBlocker(model: Model, to: number): string | undefined {
  const from = model.opset('') ?? 1;
  if (from < 7) return `opset ${from} is too old to convert`;
  if (model.functions.length) return 'the model has local functions';
  for (const n of model.graph.allNodes()) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
    const changes = BREAKING.filter(([, ops]) => ops.includes(n.opType)).map(([v]) => v);
    // BatchNormalization 14 dropped the training-only outputs
    if (n.opType === 'BatchNormalization' && n.outputs.length > 1) changes.push(14);
    const at = changes.find((v) => v > from && v <= to);
    if (at !== undefined) return `${n.opType} changed meaning in opset ${at}`;
  }
  return undefined;
}

/** Raise the default opset to at least `to` (and the IR version with it); false when unsafe. */
export function raiseOpset(model: Model, to: number): boolean {
  if ((model.opset('') ?? 1) >= to) return true;
  if (opsetBlocker(model, to)) return false;
  model.opsetImports.set('', to);
  model.irVersion = Math.max(model.irVersion, to >= 21 ? 10 : 7);
  return true;
}
