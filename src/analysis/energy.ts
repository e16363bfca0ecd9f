// Energy per inference, estimated from what the hardware does: multiply-accumulates by arithmetic
// type, and bytes moved. The table is Horowitz's 45 nm figures ("Computing's energy problem", ISSCC
// 2014), the ones Deep Compression (Han et al., 2016) used to argue for small weights:
//
//   operation                      energy (pJ)
//   32-bit float multiply + add    3.7 + 0.9 = 4.6   (one fp32 MAC)
//   8-bit int multiply + 32-bit add 0.2 + 0.1 = 0.3  (one int8 MAC)
//   32-bit DRAM read               640  → 160 pJ per byte of weights, fetched once per inference
//   32-bit SRAM read (8 KB)        5    → 1.25 pJ per byte of activations written and read back
//
// A MAC counts as int8 when ORT runs it on an integer kernel: QLinear*/…Integer/MatMulNBits nodes, or a
// Conv/MatMul/Gemm whose activation input comes out of a DequantizeLinear (QDQ, which ORT fuses). The
// figure is an estimate for comparing candidates, not a measurement of any device.

import type { Model, Node } from '../ir/graph.js';
import type { ModelCost } from './cost.js';

export const ENERGY_PJ = { macFloat: 4.6, macInt8: 0.3, dramByte: 160, sramByte: 1.25 } as const;

const INTEGER_OPS = new Set([
  'QLinearConv',
  'QLinearMatMul',
  'MatMulInteger',
  'ConvInteger',
  'MatMulNBits',
  'DynamicQuantizeMatMul',
  'MatMulIntegerToFloat',
  'QGemm',
]);

function integerMac(n: Node): boolean {
  if (INTEGER_OPS.has(n.opType)) return true;
  if (n.opType !== 'Conv' && n.opType !== 'MatMul' && n.opType !== 'Gemm') return false;
  return n.inputs[0]?.producer?.opType === 'DequantizeLinear';
}

/** Estimated energy of one inference in microjoules (see the table above). */
export function energyMicrojoules(model: Model, cost: ModelCost): number {
  const integerNames = new Set<string>();
  for (const n of model.graph.nodes) if (integerMac(n)) integerNames.add(n.name);
  let pj = 0;
  for (const l of cost.layers) {
    pj += l.macs * (integerNames.has(l.name) ? ENERGY_PJ.macInt8 : ENERGY_PJ.macFloat);
    pj += 2 * l.activationBytes * ENERGY_PJ.sramByte;
  }
  pj += cost.weightBytes * ENERGY_PJ.dramByte;
  return pj / 1e6;
}
