// Q/DQ emission shared by the quantization passes: the ops that mark a model as already quantized,
// QuantizeLinear -> DequantizeLinear pairs after an activation (static int8), a DequantizeLinear in
// front of a node input for a quantized weight or bias (static int8), and the DequantizeLinear inputs
// (codes, scale, zero point initializers) of an int8/int4 weight (weight-only).

import { EdgefitError } from '../../errors.js';
import { GraphBuilder, setAttr } from '../../ir/builder.js';
import { type Graph, Node, Value } from '../../ir/graph.js';
import { Tensor, viewBytes } from '../../ir/tensor.js';
import type { QuantizedMatrix } from '../../kernels/block-quant.js';
import { packNibbles, type QRange } from '../../kernels/quant.js';
import { DataType } from '../../onnx/dtype.js';
import { replaceValue } from '../util.js';

/** ops whose presence means the model is already quantized */
const QUANTIZED_OPS = new Set([
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'QLinearConv',
  'QLinearMatMul',
  'MatMulInteger',
  'ConvInteger',
  'QGemm',
  'MatMulNBits',
  'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul',
  'QLinearAdd',
  'QLinearMul',
]);

export function assertNotQuantized(nodes: Iterable<Node>): void {
  for (const n of nodes)
    if (QUANTIZED_OPS.has(n.opType))
      throw new EdgefitError(
        'UNSUPPORTED',
        `the model is already quantized (it has ${n.opType} node ${n.name || ''})`.replace(' )', ')'),
        'quantize the float model instead',
      );
}

export function scalar(dtype: number, value: number): Tensor {
  switch (dtype) {
    case DataType.UINT8:
      return Tensor.fromTyped('', dtype, [], Uint8Array.of(value));
    case DataType.INT8:
      return Tensor.fromTyped('', dtype, [], Int8Array.of(value));
    case DataType.INT16:
      return Tensor.fromTyped('', dtype, [], Int16Array.of(value));
    default:
      return Tensor.fromFloat32('', [], [value]);
  }
}

export interface Emitter {
  b: GraphBuilder;
  qDomain: string;
  actType: number;
  actRange: QRange;
}

/** Insert Q -> DQ after `v`; every former reader of v reads the DQ output. */
export function insertQdq(e: Emitter, v: Value, scale: number, zeroPoint: number): void {
  const g = e.b.graph;
  const s = e.b.weight(`${v.name}_scale`, scalar(DataType.FLOAT, scale));
  const z = e.b.weight(`${v.name}_zero_point`, scalar(e.actType, zeroPoint));
  const dqOut = new Value(g, g.model.uniqueName(`${v.name}_dq`), v.type ? { ...v.type } : undefined);
  replaceValue(v, dqOut); // readers (and a graph output's name) move to the DQ output
  const at = v.producer ? g.nodes.indexOf(v.producer) + 1 : 0;
  const q = new Node(g, 'QuantizeLinear', e.qDomain, g.model.uniqueName(`${v.name}_QuantizeLinear`));
  q.addInput(v);
  q.addInput(s);
  q.addInput(z);
  const qOut = new Value(
    g,
    g.model.uniqueName(`${v.name}_q`),
    v.type ? { elemType: e.actType, shape: v.type.shape } : undefined,
  );
  q.addOutput(qOut);
  const dq = new Node(g, 'DequantizeLinear', e.qDomain, g.model.uniqueName(`${v.name}_DequantizeLinear`));
  dq.addInput(qOut);
  dq.addInput(s);
  dq.addInput(z);
  dq.addOutput(dqOut);
  g.insertNode(q, at);
  g.insertNode(dq, at + 1);
}

export function insertDqBefore(
  e: Emitter,
  node: Node,
  index: number,
  q: Tensor,
  scales: Float32Array,
  zeroPoints: Tensor,
  axis: number | undefined,
  base: string,
): void {
  const g = e.b.graph;
  const qv = e.b.weight(`${base}_quantized`, q);
  const perChannel = axis !== undefined;
  const sv = e.b.weight(
    `${base}_scale`,
    perChannel ? Tensor.fromFloat32('', [scales.length], scales) : Tensor.fromFloat32('', [], [scales[0]!]),
  );
  const zv = e.b.weight(`${base}_zero_point`, zeroPoints);
  const dq = new Node(g, 'DequantizeLinear', '', g.model.uniqueName(`${base}_DequantizeLinear`));
  dq.addInput(qv);
  dq.addInput(sv);
  dq.addInput(zv);
  if (perChannel) setAttr(dq, 'axis', axis);
  const out = new Value(g, g.model.uniqueName(`${base}_dq`), {
    elemType: q.dtype === DataType.INT32 ? DataType.FLOAT : DataType.FLOAT,
    shape: [...q.dims],
  });
  dq.addOutput(out);
  g.insertNode(dq, g.nodes.indexOf(node));
  node.setInput(index, out);
}

export function initializer(g: Graph, base: string, dtype: number, dims: number[], bytes: Uint8Array): Value {
  return new GraphBuilder(g).weight(base, Tensor.fromBytes(base, dtype, dims, bytes));
}

/**
 * DequantizeLinear inputs (x, scale, zero point) for a quantized matrix or Conv weight of shape `dims`:
 * int8 gets an explicit int8 zero point (ORT's DQ -> MatMul fusion requires one); symmetric int4 none.
 */
export function dqInputs(
  g: Graph,
  base: string,
  qm: QuantizedMatrix,
  dims: number[],
  scaleDims: number[],
): Value[] {
  const int4 = qm.bits === 4;
  const zp = qm.zeroPoints;
  const xType = int4 ? (zp ? DataType.UINT4 : DataType.INT4) : DataType.INT8;
  const sDims = qm.perTensor ? [] : scaleDims;
  const scales = qm.perTensor ? qm.scales.slice(0, 1) : qm.scales;
  const vs = [
    initializer(
      g,
      `${base}_${int4 ? 'int4' : 'int8'}`,
      xType,
      dims,
      int4 ? packNibbles(qm.codes) : viewBytes(qm.codes),
    ),
    initializer(g, `${base}_scale`, DataType.FLOAT, sDims, viewBytes(scales)),
  ];
  if (zp) vs.push(initializer(g, `${base}_zero_point`, DataType.UINT4, sDims, packNibbles(zp)));
  else if (!int4)
    vs.push(initializer(g, `${base}_zero_point`, DataType.INT8, sDims, new Uint8Array(scales.length)));
  return vs;
}
