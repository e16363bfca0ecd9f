// quantize-static-int8's bias correction (rule 6 of quantize-static-int8.ts): the output shift that
// quantized weights add, (deq(Wq) - W) · E[x] per output channel, from the input means measured during
// calibration; the pass subtracts it from the bias.

import { attrInt } from '../../ir/builder.js';
import type { Node } from '../../ir/graph.js';

/** grouped-conv aware: input channel feeding weight element (o, c_local) */
export function biasCorrection(
  n: Node,
  w: Float32Array,
  deq: Float32Array,
  dims: number[],
  mean: Float64Array,
): Float64Array | undefined {
  if (n.opType === 'Conv') {
    const [m, cPer] = dims as [number, number];
    const inner = dims.slice(2).reduce((a, b) => a * b, 1);
    const group = attrInt(n, 'group', 1);
    if (mean.length !== cPer * group) return undefined;
    const corr = new Float64Array(m);
    for (let o = 0; o < m; o++) {
      const g = Math.floor(o / (m / group));
      let s = 0;
      for (let c = 0; c < cPer; c++) {
        const mu = mean[g * cPer + c]!;
        const base = (o * cPer + c) * inner;
        for (let k = 0; k < inner; k++) s += (deq[base + k]! - w[base + k]!) * mu;
      }
      corr[o] = s;
    }
    return corr;
  }
  const transB = n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1;
  const [r, c] = dims as [number, number];
  const k = transB ? c : r;
  const nOut = transB ? r : c;
  if (mean.length !== k) return undefined;
  const corr = new Float64Array(nOut);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < c; j++) {
      const idx = i * c + j;
      corr[transB ? i : j]! += (deq[idx]! - w[idx]!) * mean[transB ? j : i]!;
    }
  return corr;
}
