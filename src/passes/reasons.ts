// Why a technique pass changed nothing, said the same way by every pass (docs/CLI.md: a transform
// that changed little or nothing says why in warnings[]): what weights the model has, which of them
// the pass could not take and the flag or mode that would.

import type { Model, Node } from '../ir/graph.js';
import { DataType } from '../onnx/dtype.js';
import { constantOf, nodeMatcher } from './util.js';

/** Ops whose presence means the model is already quantized or clustered. */
const QUANTIZED = new Set([
  'DequantizeLinear',
  'QuantizeLinear',
  'DynamicQuantizeLinear',
  'MatMulNBits',
  'MatMulInteger',
  'ConvInteger',
  'QLinearConv',
  'QLinearMatMul',
  'DynamicQuantizeLSTM',
  'DynamicQuantizeMatMul',
  'QGemm',
]);

export interface WeightCensus {
  /** constant float32 weights of MatMul/Gemm (2-D) at or above minElements */
  linear: number;
  /** constant float32 weights of Conv/ConvTranspose at or above minElements */
  conv: number;
  /** recurrent layers (LSTM, GRU, RNN) with constant weights */
  recurrent: number;
  /** weights of those ops below minElements */
  small: number;
  /** weights that are not float32 (already float16, int8, ...) */
  nonFloat: number;
  /** an op of a quantized model (DequantizeLinear, MatMulNBits, ...), when there is one */
  quantizedOp?: string;
}

export function weightCensus(
  model: Model,
  minElements: number,
  selects: (n: Node) => boolean = () => true,
): WeightCensus {
  const c: WeightCensus = { linear: 0, conv: 0, recurrent: 0, small: 0, nonFloat: 0 };
  for (const n of model.graph.allNodes()) {
    if (QUANTIZED.has(n.opType)) c.quantizedOp ??= n.opType;
    if (!selects(n)) continue;
    const recurrent = n.opType === 'LSTM' || n.opType === 'GRU' || n.opType === 'RNN';
    const linear = n.opType === 'MatMul' || n.opType === 'Gemm';
    const conv = n.opType === 'Conv' || n.opType === 'ConvTranspose';
    if (!recurrent && !linear && !conv) continue;
    const w = constantOf(n.inputs[1]);
    if (!w) continue;
    if (w.dtype !== DataType.FLOAT) c.nonFloat++;
    else if (recurrent) c.recurrent++;
    else if (w.size < minElements) c.small++;
    else if (linear && w.dims.length === 2) c.linear++;
    else if (conv) c.conv++;
  }
  return c;
}

/**
 * "<id> changed 0 of N weight tensors: <reasons>" from a census and what the pass takes:
 * `takes` names the kinds it handles, `hints` the flag for each kind it leaves (absent = none).
 */
export function nothingReason(
  id: string,
  c: WeightCensus,
  minElements: number,
  hints: { linear?: string; conv?: string; recurrent?: string },
  verb = 'changed',
): string {
  const total = c.linear + c.conv + c.recurrent + c.small + c.nonFloat;
  const why: string[] = [];
  if (c.quantizedOp)
    why.push(`the model is already quantized (it has ${c.quantizedOp}); start from the float model`);
  if (c.linear && hints.linear) why.push(`${c.linear} MatMul/Gemm weight(s): ${hints.linear}`);
  if (c.conv && hints.conv) why.push(`${c.conv} Conv weight(s): ${hints.conv}`);
  if (c.recurrent && hints.recurrent) why.push(`${c.recurrent} LSTM/GRU/RNN layer(s): ${hints.recurrent}`);
  if (c.small)
    why.push(`${c.small} weight(s) below minElements ${minElements} (lower it with --min-elements)`);
  if (c.nonFloat && !c.quantizedOp) why.push(`${c.nonFloat} weight(s) are not float32`);
  if (!total && !c.quantizedOp)
    why.push('the model has no MatMul, Gemm, Conv or LSTM with a constant weight');
  return `${id} ${verb} 0 of ${total} weight tensors: ${why.join('; ')}`;
}

/** The weight-only passes' reason (quantize-weight-int8/int4): Conv needs --conv, LSTM --mode dynamic. */
export function weightOnlyNothing(
  id: string,
  model: Model,
  minElements: number,
  selects: (n: Node) => boolean,
  conv: string,
): string {
  return nothingReason(
    id,
    weightCensus(model, minElements, selects),
    minElements,
    {
      conv: `need --conv (${conv}: a smaller file, not faster) or --mode static`,
      recurrent: 'use --mode dynamic',
      linear: 'rank-1 inputs or transA are left float',
    },
    'quantized',
  );
}

/** "<id>: --exclude P matches no node" for each exclude pattern that names nothing in the model. */
export function unmatchedExcludes(id: string, model: Model, patterns: readonly string[]): string[] {
  const nodes = [...model.graph.allNodes()];
  return patterns
    .filter((p) => {
      const m = nodeMatcher([p]);
      return !nodes.some(m);
    })
    .map(
      (p) =>
        `${id}: --exclude ${p} matches no node (names are node names or globs, or op types; see edgefit inspect)`,
    );
}
