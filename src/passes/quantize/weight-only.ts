// Weight-only quantization, shared by quantize-weight-int8 and quantize-weight-int4: weights stored as
// int8/int4, activations stay float (docs/ORT.md §2.8, §3).
//  1. MatMul(A, B) with B a constant float [K, N], format 'matmulnbits' (default): com.microsoft
//     MatMulNBits(A, B uint8 [N, kBlocks, bs·bits/8], scales [N, kBlocks][, zp][, bias]); int8 is per
//     column (scales repeated per block), int4 block-wise. Format 'qdq': int8 [K, N] + DequantizeLinear
//     (scale [N], axis 1, int8 zero point 0) or int4 [K, N] + opset-21 blocked DequantizeLinear (scales
//     [kBlocks, N], axis 0) -> MatMul, which ORT 1.30 fuses into the same MatMulNBits at load — but not
//     always [measured]: MatMul + bias Add (A 2-D) becomes Gemm at level 1 and Gemm + Relu FusedGemm at
//     level 2 before the QDQ rules run, and DQ -> MatMul -> Relu -> MatMul also stays unfused; the DQ then
//     runs on every inference. Hence MatMulNBits by default.
//  2. Gemm(A, B, C; alpha, beta, transA = 0, transB): ORT fuses DQ -> Gemm only with transB = 0, alpha 1
//     and no activation after it, so the Gemm becomes MatMul(A, B') with B' = alpha · op(B) as [K, N],
//     then 1.; beta · C becomes MatMulNBits' bias when it is a per-feature constant, else an Add after
//     the product (C non-constant: only when beta = 1; a per-sample constant C: Gemm left alone).
//  3. Conv (option conv): per-output-channel DequantizeLinear(axis 0) -> Conv. ORT runs that DQ on every
//     inference (no fusion): a smaller file, not a faster model.
//  4. Skipped: non-constant or non-float32 B, fewer than minElements weights, transA = 1, rank-1 A.
//  5. A clustered weight (codebook + indices, cluster-weights) is left as it is, with a warning
//     (passes/encoding.ts rule 3): its indices already take <= 8 bits per weight
// Opsets: per-axis DQ needs ai.onnx 13; int4 and blocked DQ need 21 (IR 10). A lower opset is raised
// when no op of the model changed meaning in between (opset.ts); otherwise int8 DQs fall back to
// per-tensor (opset 10) and int4 qdq to MatMulNBits, with a warning.
// Here: the Rewriter (finding layers, GPTQ, the MatMulNBits and DQ rewrites) and the options both
// passes share.

import { z } from 'zod';
import { EdgefitError } from '../../errors.js';
import { GraphBuilder } from '../../ir/builder.js';
import type { Graph, Model, Node, Value } from '../../ir/graph.js';
import { viewBytes } from '../../ir/tensor.js';
import {
  type QuantizedMatrix,
  quantizeRowsRtn,
  quantizeRtn,
  type WeightScheme,
} from '../../kernels/block-quant.js';
import { quantizeGptq } from '../../kernels/gptq.js';
import type { GemmFn } from '../../kernels/matmul.js';
import { packMatMulNBits } from '../../kernels/matmulnbits.js';
import { DataType } from '../../onnx/dtype.js';
import { codebookWeights } from '../encoding.js';
import { type PassContext, result } from '../pass.js';
import { collectInputStats, type InputStats, type LayerMatrix, layerMatrix } from '../prune/activations.js';
import { weightOnlyNothing } from '../reasons.js';
import { constantOf, replaceValue, samplesOption } from '../util.js';
import { type GptqQuantizer, type Linear, linearOf, matrixOf, prepareGptq } from './gptq.js';
import { dqInputs, initializer } from './qdq.js';

/** What to Add after the product, if anything (biasVector too unless it has a better place). */
function biasToAdd(lin: Linear, withVector: boolean): Value | undefined {
  const g = lin.node.graph;
  const base = `${lin.node.name || 'gemm'}_bias`;
  if (lin.biasVector && withVector)
    return initializer(g, base, DataType.FLOAT, [lin.N], viewBytes(lin.biasVector));
  return lin.biasValue;
}

/** Let `y` take over node's (single) output, then drop node. */
function replaceNode(node: Node, y: Value): void {
  const out = node.outputs[0]!;
  if (out.type && !out.isGraphOutput) y.setType(out.type);
  if (!replaceValue(out, y)) throw new Error(`cannot replace the output of ${node.name}`);
  node.graph.removeNode(node, true);
}

/**
 * GPTQ of a Conv weight, one group at a time (W_g [K, O/G] with H = XᵀX of the group's im2col rows),
 * as a per-output-channel QuantizedMatrix in the weight's own layout [O, Cg·kh·kw] (like quantizeRowsRtn).
 */
async function gptqConv(
  layer: LayerMatrix,
  stats: InputStats,
  scheme: WeightScheme,
  gemm: GemmFn,
  percdamp: number,
): Promise<QuantizedMatrix> {
  const { K, N: og, groups } = layer;
  const O = og * groups;
  const codes = new Int8Array(O * K);
  const scales = new Float32Array(O);
  let zeroPoints: Uint8Array | undefined;
  const mats = layer.read();
  let first: QuantizedMatrix | undefined;
  for (let g = 0; g < groups; g++) {
    const qm = await quantizeGptq(mats[g]!, K, og, stats.xtx[g]!, { ...scheme, blockSize: K }, gemm, {
      percdamp,
    });
    first ??= qm;
    for (let j = 0; j < og; j++) {
      const o = g * og + j;
      scales[o] = qm.scales[j]!;
      if (qm.zeroPoints) {
        zeroPoints ??= new Uint8Array(O);
        zeroPoints[o] = qm.zeroPoints[j]!;
      }
      for (let k = 0; k < K; k++) codes[o * K + k] = qm.codes[k * og + j]!;
    }
  }
  return { ...first!, K, N: O, blockSize: K, kBlocks: 1, codes, scales, zeroPoints };
}

/** Shared plumbing of both passes: finding layers, GPTQ, rewiring, bookkeeping, cleanup. */
export class Rewriter {
  readonly stats = {
    quantized: 0,
    matmul: 0,
    gemm: 0,
    conv: 0,
    convGptq: 0,
    weightBytesBefore: 0,
    weightBytesAfter: 0,
  };
  private readonly replaced = new Set<Value>();
  private readonly cache = new Map<string, Value[]>();
  private readonly graphIds = new Map<Graph, number>();
  private gptq: GptqQuantizer | undefined;

  constructor(readonly ctx: PassContext) {}

  /** Rule 5: say which clustered weights stay as they are. */
  codebooks(model: Model, pass: string): void {
    const n = codebookWeights(model, this.ctx.selects).length;
    if (n)
      this.ctx.log.warn(
        `${pass}: ${n} clustered weight(s) already take <= 8 bits per weight (codebook indices) and are left as they are; --mode static or dynamic re-encodes them for ORT's integer kernels`,
      );
  }

  linears(model: Model, minElements: number, accept: (lin: Linear) => boolean): Linear[] {
    const out: Linear[] = [];
    for (const n of model.graph.allNodes()) {
      if ((n.opType !== 'MatMul' && n.opType !== 'Gemm') || n.domain !== '' || !this.ctx.selects(n)) continue;
      const lin = linearOf(n, minElements);
      if (lin && accept(lin)) out.push(lin);
    }
    return out;
  }

  convs(model: Model, minElements: number): Node[] {
    return [...model.graph.allNodes()].filter((n) => {
      const w =
        n.opType === 'Conv' && n.domain === '' && this.ctx.selects(n) ? constantOf(n.inputs[1]) : undefined;
      return w !== undefined && w.dtype === DataType.FLOAT && w.dims.length >= 3 && w.size >= minElements;
    });
  }

  /** Collect GPTQ's statistics for the main-graph layers (the model must still be the float one). */
  async startGptq(
    model: Model,
    lins: Linear[],
    settings: { percdamp: number; samples: number },
  ): Promise<void> {
    const acts = new Map<string, number>();
    for (const l of lins) {
      const a = l.node.inputs[0];
      if (a && l.node.graph === model.graph && !constantOf(a)) acts.set(a.name, l.K);
    }
    this.gptq = await prepareGptq(model, acts, this.ctx, settings);
  }

  /** The quantized initializers of a linear's matrix; `emit` makes them once per distinct matrix. */
  async weights(lin: Linear, lins: Linear[], scheme: WeightScheme, emit: (qm: QuantizedMatrix) => Value[]) {
    const g = lin.node.graph;
    if (!this.graphIds.has(g)) this.graphIds.set(g, this.graphIds.size);
    const key = `${this.graphIds.get(g)}|${lin.key}`;
    let vs = this.cache.get(key);
    if (!vs) {
      const w = matrixOf(lin);
      const readers = lins.filter((l) => l.key === lin.key).map((l) => l.node.inputs[0]?.name ?? '');
      const qm = this.gptq
        ? await this.gptq.quantize(w, lin.K, lin.N, readers, scheme)
        : quantizeRtn(w, lin.K, lin.N, scheme);
      vs = emit(qm);
      this.cache.set(key, vs);
      this.count(lin.weight, lin.K * lin.N * 4, vs);
    }
    this.replaced.add(lin.weight);
    this.stats.quantized++;
    this.stats[lin.node.opType === 'Gemm' ? 'gemm' : 'matmul']++;
    return vs;
  }

  private count(weight: Value, bytesBefore: number, added: Value[]): void {
    this.replaced.add(weight);
    this.stats.weightBytesBefore += bytesBefore;
    for (const v of added) this.stats.weightBytesAfter += v.initializer!.byteLength;
  }

  /** MatMul(A, DQ(vs)) [+ bias] (rules 1, 2): a MatMul gets its new B, a Gemm is replaced. */
  dqMatMul(lin: Linear, vs: Value[], attrs: Record<string, number>): void {
    const { node } = lin;
    const g = node.graph;
    const b = new GraphBuilder(g);
    const at = g.nodes.indexOf(node);
    const w = b.op('DequantizeLinear', vs, attrs, { name: `${node.name}_dq`, at });
    w.setType({ elemType: DataType.FLOAT, shape: [lin.K, lin.N] });
    if (node.opType === 'MatMul') {
      node.setInput(1, w);
      return;
    }
    let y = b.op('MatMul', [node.inputs[0], w], {}, { name: `${node.name}_matmul`, at: at + 1 });
    const bias = biasToAdd(lin, true);
    if (bias) y = b.op('Add', [y, bias], {}, { name: `${node.name}_bias_add`, at: at + 2 });
    replaceNode(node, y);
  }

  /** com.microsoft MatMulNBits(A, B, scales[, zp][, bias]) in place of the linear (rules 1, 2). */
  async matMulNBits(
    lin: Linear,
    lins: Linear[],
    scheme: WeightScheme,
    blockSize: number,
    accuracyLevel: number,
  ) {
    const { node, K, N } = lin;
    const g = node.graph;
    const bits = scheme.bits;
    const [q, s, zp] = await this.weights(lin, lins, scheme, (qm) => {
      const p = packMatMulNBits(qm, blockSize);
      const base = lin.weight.name;
      const vs = [
        initializer(g, `${base}_q${bits}`, DataType.UINT8, [N, p.kBlocks, (blockSize * bits) / 8], p.b),
        initializer(g, `${base}_scales`, DataType.FLOAT, [N, p.kBlocks], viewBytes(p.scales)),
      ];
      const zpDims = [N, Math.ceil(p.kBlocks / 2)];
      if (p.zeroPoints) vs.push(initializer(g, `${base}_zero_points`, DataType.UINT8, zpDims, p.zeroPoints));
      return vs;
    });
    const bias = lin.biasVector
      ? initializer(g, `${node.name}_bias`, DataType.FLOAT, [N], viewBytes(lin.biasVector))
      : undefined;
    const b = new GraphBuilder(g);
    const at = g.nodes.indexOf(node);
    const attrs = { K, N, bits, block_size: blockSize, accuracy_level: accuracyLevel };
    const inputs = bias ? [node.inputs[0], q, s, zp, undefined, bias] : [node.inputs[0], q, s, zp];
    if (!inputs.at(-1)) inputs.pop();
    let y = b.op('MatMulNBits', inputs, attrs, {
      domain: 'com.microsoft',
      name: `${node.name}_q${bits}`,
      at,
    });
    const add = biasToAdd(lin, false);
    if (add) y = b.op('Add', [y, add], {}, { name: `${node.name}_bias_add`, at: at + 1 });
    replaceNode(node, y);
    if (!g.model.opsetImports.has('com.microsoft')) g.model.opsetImports.set('com.microsoft', 1);
  }

  /**
   * Per-output-channel DQ -> Conv (rule 3); with `gptq`, each group's weight [Cg·kh·kw, O/G] is
   * quantized by GPTQ on the im2col Hessian of the conv's input (prune/activations.ts).
   */
  async dqConvs(
    model: Model,
    convs: Node[],
    scheme: WeightScheme,
    pass: string,
    gptq?: { percdamp: number; samples: number },
  ): Promise<void> {
    if (convs.length)
      this.ctx.log.warn(
        `${pass}: DequantizeLinear -> Conv runs the DQ on every inference (ORT has no ${scheme.bits === 4 ? 'int4' : 'weight-only int8'} Conv kernel): smaller file, not faster`,
      );
    if (gptq && convs.length && !this.ctx.calibration)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        'gptq needs calibration data (--calib)',
        'pass --calib or use algorithm rtn',
      );
    // one scale per tensor (opset < 13) cannot take GPTQ's per-group scales: rounding to nearest then
    const layers =
      gptq && !scheme.perTensor ? convs.map((c) => layerMatrix(c)).filter((l) => l !== undefined) : [];
    const stats = layers.length ? await collectInputStats(model, layers, this.ctx, gptq!.samples) : new Map();
    const mm = stats.size ? this.ctx.matmul?.() : undefined;
    try {
      for (const conv of convs) {
        const wt = constantOf(conv.inputs[1])!;
        const M = wt.dims[0]!;
        const layer = layers.find((l) => l.node === conv);
        const st = layer && stats.get(layer.statsKey);
        const qm =
          layer && st && mm
            ? await gptqConv(layer, st, scheme, mm.gemm.bind(mm), gptq!.percdamp)
            : quantizeRowsRtn(wt.toFloat32(), M, scheme);
        const g = conv.graph;
        const vs = dqInputs(g, conv.inputs[1]!.name, qm, [...wt.dims], [M]);
        const attrs: Record<string, number> = qm.perTensor ? {} : { axis: 0 };
        const dq = new GraphBuilder(g).op('DequantizeLinear', vs, attrs, {
          name: `${conv.name}_dq`,
          at: g.nodes.indexOf(conv),
        });
        dq.setType({ elemType: DataType.FLOAT, shape: [...wt.dims] });
        this.count(conv.inputs[1]!, wt.size * 4, vs);
        this.stats.quantized++;
        this.stats.conv++;
        if (layer && st && mm) this.stats.convGptq++;
        conv.setInput(1, dq);
      }
    } finally {
      await mm?.release();
    }
  }

  /**
   * The end both passes share: the Conv weights (rule 3), cleanup, and the reason when nothing was
   * quantized (`convForm` names the Conv encoding for it).
   */
  async end(
    model: Model,
    convs: Node[],
    scheme: WeightScheme,
    pass: string,
    options: { minElements: number; algorithm: string; percdamp: number; samples: number },
    convForm: string,
  ) {
    await this.dqConvs(model, convs, scheme, pass, options.algorithm === 'gptq' ? options : undefined);
    const r = await this.finish();
    if (!r.changed)
      this.ctx.log.warn(weightOnlyNothing(pass, model, options.minElements, this.ctx.selects, convForm));
    return r;
  }

  async finish() {
    await this.gptq?.release();
    for (const v of this.replaced) {
      if (v.uses.length || v.isGraphOutput || v.isGraphInput) continue;
      if (v.initializer) v.graph.removeInitializer(v);
      else if (v.producer?.opType === 'Constant') v.graph.removeNode(v.producer);
    }
    return result(this.stats);
  }
}

export const gptqOptions = {
  algorithm: z
    .enum(['rtn', 'gptq'])
    .default('rtn')
    .describe('round to nearest, or GPTQ (needs calibration data)'),
  percdamp: z.number().min(0).max(1).default(0.01).describe('GPTQ dampening (fraction of mean diag H)'),
  samples: samplesOption(256, 'GPTQ: calibration samples to use at most'),
};

export const minElements = z
  .number()
  .int()
  .min(0)
  .default(1024)
  .describe('leave weights with fewer elements float');

export const formatOption = z
  .enum(['matmulnbits', 'qdq'])
  .default('matmulnbits')
  .describe("'matmulnbits' (com.microsoft) or 'qdq' (DequantizeLinear -> MatMul, which ORT may fuse)");
export const accuracyLevel = z
  .number()
  .int()
  .min(0)
  .max(4)
  .default(4)
  .describe('MatMulNBits accuracy_level (4: int8 compute, and the only level ORT prepacks 8-bit weights at)');
