// fold-batchnorm: fold an inference BatchNormalization into the linear op before it.
//   BN(y) = (y - mean) * s + beta,  s = gamma / sqrt(var + eps)
//  1. Conv(x, W[M, C/g, k...], b) -> BN:  W'[m] = W[m] * s[m],  b' = (b - mean) * s + beta
//  2. ConvTranspose(x, W[C, M/g, k...], b) -> BN: output channel of W[c, j] is
//     o = floor(c / (C/g)) * (M/g) + j;  W'[c, j] = W[c, j] * s[o],  b' as in 1
//  3. Gemm(A, B, C; alpha, beta_g, transB) -> BN over the N features (2-D output):
//     column n of op(B) scaled by s[n];  C' = (beta_g * C - mean) * s + beta, beta_g' = 1
//  4. MatMul(A[M,K], B[K,N]) with a 2-D output -> BN: becomes Gemm(A, B', C') as in 3
// Conditions: BN in inference mode (training_mode 0, extra outputs unused), constant BN parameters and
// weights (float32), and the linear op's output read only by the BN. Shared weights are copied, not
// edited in place.

import { attrFloat, attrInt, setAttr } from '../../ir/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { defineNodeRewrite } from '../pass.js';
import { constantOf, newFloatWeight, replaceValue } from '../util.js';

function float32Const(v: Value | undefined): Float32Array | undefined {
  const t = constantOf(v);
  return t && t.dtype === DataType.FLOAT ? t.toFloat32() : undefined;
}

interface BnParams {
  scale: Float32Array; // s
  shift: Float32Array; // beta - mean * s
}

function bnParams(bn: Node): BnParams | undefined {
  if (attrInt(bn, 'training_mode', 0) !== 0) return undefined;
  for (const o of bn.outputs.slice(1)) if (o.uses.length > 0 || o.isGraphOutput) return undefined;
  const gamma = float32Const(bn.inputs[1]);
  const beta = float32Const(bn.inputs[2]);
  const mean = float32Const(bn.inputs[3]);
  const variance = float32Const(bn.inputs[4]);
  if (!gamma || !beta || !mean || !variance) return undefined;
  const n = gamma.length;
  if (beta.length !== n || mean.length !== n || variance.length !== n) return undefined;
  const eps = attrFloat(bn, 'epsilon', 1e-5);
  const scale = new Float32Array(n);
  const shift = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // float64 arithmetic, one rounding at the end: as close to BN's own result as possible
    const s = gamma[i]! / Math.sqrt(variance[i]! + eps);
    scale[i] = s;
    shift[i] = beta[i]! - mean[i]! * s;
  }
  return { scale, shift };
}

/** y' = bias * s + shift (bias may be absent = 0) */
function foldedBias(bias: Float32Array | undefined, p: BnParams): Float32Array {
  const out = new Float32Array(p.scale.length);
  for (let i = 0; i < out.length; i++) out[i] = (bias ? bias[i]! : 0) * p.scale[i]! + p.shift[i]!;
  return out;
}

function foldConv(conv: Node, p: BnParams, transpose: boolean): boolean {
  const wt = constantOf(conv.inputs[1]);
  if (!wt || wt.dtype !== DataType.FLOAT || wt.dims.length < 3) return false;
  const w = wt.toFloat32();
  const bias = conv.inputs[2] ? float32Const(conv.inputs[2]) : undefined;
  if (conv.inputs[2] && !bias) return false;
  const group = attrInt(conv, 'group', 1);
  const [d0, d1] = wt.dims as [number, number];
  const spatial = wt.dims.slice(2).reduce((a, b) => a * b, 1);
  const outChannels = transpose ? d1 * group : d0;
  if (p.scale.length !== outChannels) return false;
  const w2 = new Float32Array(w.length);
  for (let a = 0; a < d0; a++)
    for (let b = 0; b < d1; b++) {
      const o = transpose ? Math.floor(a / (d0 / group)) * d1 + b : a;
      const s = p.scale[o]!;
      const base = (a * d1 + b) * spatial;
      for (let k = 0; k < spatial; k++) w2[base + k] = w[base + k]! * s;
    }
  const g = conv.graph;
  conv.setInput(1, newFloatWeight(g, `${wt.name}_bnfolded`, [...wt.dims], w2));
  conv.setInput(
    2,
    newFloatWeight(g, `${conv.name || 'conv'}_bias_bnfolded`, [outChannels], foldedBias(bias, p)),
  );
  return true;
}

function foldGemm(gemm: Node, p: BnParams): boolean {
  const bt = constantOf(gemm.inputs[1]);
  if (!bt || bt.dtype !== DataType.FLOAT || bt.dims.length !== 2) return false;
  if (gemm.opType === 'Gemm' && attrInt(gemm, 'transA', 0) !== 0 && gemm.inputs[0]?.type?.shape?.length !== 2)
    return false;
  const transB = gemm.opType === 'Gemm' ? attrInt(gemm, 'transB', 0) : 0;
  const [r, c] = bt.dims as [number, number];
  const n = transB ? r : c;
  if (p.scale.length !== n) return false;
  let bias: Float32Array | undefined;
  if (gemm.opType === 'Gemm' && gemm.inputs[2]) {
    const ct = constantOf(gemm.inputs[2]);
    if (!ct || ct.dtype !== DataType.FLOAT) return false;
    const cv = ct.toFloat32();
    // C must broadcast per feature: [N] or [1,N] (a scalar is expanded)
    if (cv.length !== n && cv.length !== 1) return false;
    if (cv.length === 1 && ct.dims.length > 0 && ct.dims.some((d) => d !== 1)) return false;
    const betaG = attrFloat(gemm, 'beta', 1);
    bias = Float32Array.from({ length: n }, (_, i) => betaG * cv[cv.length === 1 ? 0 : i]!);
  }
  const b = bt.toFloat32();
  const b2 = new Float32Array(b.length);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < c; j++) b2[i * c + j] = b[i * c + j]! * p.scale[transB ? i : j]!;
  const g = gemm.graph;
  gemm.setInput(1, newFloatWeight(g, `${bt.name}_bnfolded`, [r, c], b2));
  gemm.setInput(2, newFloatWeight(g, `${gemm.name || 'gemm'}_bias_bnfolded`, [n], foldedBias(bias, p)));
  if (gemm.opType === 'MatMul') {
    gemm.opType = 'Gemm';
  } else {
    setAttr(gemm, 'beta', 1.0, true);
  }
  return true;
}

export const foldBatchNorm = defineNodeRewrite({
  id: 'fold-batchnorm',
  summary: 'fold inference BatchNormalization into the preceding Conv, ConvTranspose, Gemm or MatMul',
  total: 'folded',
  rewrite(bn, graph) {
    if (bn.opType !== 'BatchNormalization' || bn.domain !== '') return undefined;
    const y = bn.inputs[0];
    const prev = y?.producer;
    if (!y || !prev || prev.graph !== graph || y.uses.length !== 1 || y.isGraphOutput || prev.domain !== '')
      return undefined;
    const p = bnParams(bn);
    if (!p) return undefined;
    const op = prev.opType;
    let ok = false;
    if (op === 'Conv') ok = foldConv(prev, p, false);
    else if (op === 'ConvTranspose') ok = foldConv(prev, p, true);
    else if (op === 'Gemm') ok = foldGemm(prev, p);
    else if (op === 'MatMul' && y.type?.shape?.length === 2 && prev.inputs[0]?.type?.shape?.length === 2)
      ok = foldGemm(prev, p);
    if (!ok || !replaceValue(bn.outputs[0]!, y)) return undefined;
    graph.removeNode(bn, true);
    return op;
  },
});
