// smooth-quant: move activation outliers into the weights of the MatMuls that read them (Xiao et al.,
// "SmoothQuant"), so int8 activations lose less.
//  1. groups: a LayerNormalization output X read only by MatMul/Gemm nodes with constant weights
//     [K, N] (q, k, v projections, the first MLP layer)
//  2. from calibration: a_k = max |X[..., k]| per channel k; w_k = max over the group's weights of |W[k, :]|
//  3. s_k = a_k^alpha / w_k^(1 - alpha)  (clamped to [1e-5, 1e5])
//  4. X / s is folded into the LayerNorm (gamma /= s, beta /= s) and every weight row k is scaled by s_k:
//     (X / s) · (diag(s) W) = X · W, so the float model computes the same function
// Gemm with transB stores W as [N, K]: its column k is scaled instead.

import { z } from 'zod';
import { EdgefitError } from '../../errors.js';
import { attrInt } from '../../ir/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass } from '../pass.js';
import { asFloat32, constantOf, replaceInputWeight } from '../util.js';
import { divideInput } from './rescale.js';

const options = z
  .object({
    alpha: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe('migration strength: 0 leaves activations alone, 1 moves all their range into the weights'),
    samples: z.number().int().min(1).max(100000).default(128).describe('calibration samples to use at most'),
  })
  .strict();

function isWeighted(n: Node): boolean {
  const w = constantOf(n.inputs[1]);
  return (
    (n.opType === 'MatMul' || (n.opType === 'Gemm' && attrInt(n, 'transA', 0) === 0)) &&
    n.domain === '' &&
    w?.dtype === DataType.FLOAT &&
    w.dims.length === 2
  );
}

export const smoothQuant = definePass({
  id: 'smooth-quant',
  summary: 'migrate activation outliers from LayerNorm outputs into the following MatMul weights',
  lossless: false,
  options,
  searchSpace: { alpha: [0.3, 0.5, 0.7] },
  async apply(model, o, ctx) {
    if (!ctx.calibration || !ctx.collect)
      throw new EdgefitError('BAD_ARGUMENT', 'smooth-quant needs calibration data', 'pass --calib FILE');
    const graph = model.graph;
    const groups: { ln: Node; x: Value; readers: Node[] }[] = [];
    for (const ln of graph.nodes) {
      if (ln.opType !== 'LayerNormalization' || !ctx.selects(ln)) continue;
      const x = ln.outputs[0]!;
      const gamma = constantOf(ln.inputs[1]);
      if (!gamma || gamma.dtype !== DataType.FLOAT || x.isGraphOutput || x.uses.length === 0) continue;
      const readers = x.uses.map((u) => u.node);
      if (readers.every((r, i) => isWeighted(r) && x.uses[i]!.index === 0 && ctx.selects(r)))
        groups.push({ ln, x, readers });
    }
    if (groups.length === 0) return { changed: false, stats: { groups: 0 } };
    const amax = new Map<string, Float64Array>();
    await ctx.collect(
      model,
      groups.map((g) => g.x.name),
      (values) => {
        for (const [name, t] of Object.entries(values)) {
          const x = asFloat32(t);
          const k = t.dims[t.dims.length - 1]!;
          const acc = amax.get(name) ?? new Float64Array(k);
          for (let i = 0; i < x.length; i++) {
            const c = i % k;
            const v = Math.abs(x[i]!);
            if (v > acc[c]!) acc[c] = v;
          }
          amax.set(name, acc);
        }
      },
      { limit: o.samples },
    );
    let smoothed = 0;
    for (const { ln, x, readers } of groups) {
      const a = amax.get(x.name);
      if (!a) continue;
      const k = a.length;
      const wmax = new Float64Array(k);
      for (const r of readers) {
        const t = constantOf(r.inputs[1])!;
        const w = t.toFloat32();
        const transB = r.opType === 'Gemm' && attrInt(r, 'transB', 0) === 1;
        const [rows, cols] = t.dims as [number, number];
        if ((transB ? cols : rows) !== k) continue;
        for (let i = 0; i < rows; i++)
          for (let j = 0; j < cols; j++) {
            const kk = transB ? j : i;
            wmax[kk] = Math.max(wmax[kk]!, Math.abs(w[i * cols + j]!));
          }
      }
      const s = new Float32Array(k);
      for (let c = 0; c < k; c++) {
        const v = a[c]! ** o.alpha / Math.max(wmax[c]!, 1e-8) ** (1 - o.alpha);
        s[c] = Math.min(1e5, Math.max(1e-5, Number.isFinite(v) && v > 0 ? v : 1));
      }
      // rule 4: LayerNorm scale and bias / s; weight rows * s
      if (constantOf(ln.inputs[1])!.size !== k) continue;
      divideInput(ln, 1, s, 'smooth');
      divideInput(ln, 2, s, 'smooth');
      for (const r of readers) {
        const t = constantOf(r.inputs[1])!;
        const transB = r.opType === 'Gemm' && attrInt(r, 'transB', 0) === 1;
        const [rows, cols] = t.dims as [number, number];
        const w = t.toFloat32().slice();
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) w[i * cols + j]! *= s[transB ? j : i]!;
        replaceInputWeight(r, 1, t.dims, w, 'smooth');
      }
      smoothed++;
    }
    return { changed: smoothed > 0, stats: { groups: smoothed } };
  },
});
