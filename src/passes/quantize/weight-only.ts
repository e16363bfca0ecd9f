// Weight-only quantization: weights stored as int8/int4, activations stay float (ORT.md §2.8, §3).
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
// Opsets: per-axis DQ needs ai.onnx 13; int4 and blocked DQ need 21 (IR 10). A lower opset is raised
// when no op of the model changed meaning in between (table below); otherwise int8 DQs fall back to
// per-tensor (opset 10) and int4 qdq to MatMulNBits, with a warning.

import { z } from 'zod';
import { GraphBuilder } from '../../ir/builder.js';
import type { Graph, Model, Node, Value } from '../../ir/graph.js';
import { Tensor, viewBytes } from '../../ir/tensor.js';
import { type QuantizedMatrix, quantizeRowsRtn, quantizeRtn, type WeightScheme } from '../../kernels/gptq.js';
import { packMatMulNBits } from '../../kernels/ort-matmul.js';
import { packNibbles } from '../../kernels/quant.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass, type PassContext, result } from '../pass.js';
import { constantOf, replaceValue } from '../util.js';
import { type GptqQuantizer, type Linear, linearOf, matrixOf, prepareGptq } from './gptq.js';

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

function initializer(g: Graph, base: string, dtype: number, dims: number[], bytes: Uint8Array): Value {
  return new GraphBuilder(g).weight(base, Tensor.fromBytes(base, dtype, dims, bytes));
}

/**
 * DequantizeLinear inputs (x, scale, zero point) for a quantized matrix or Conv weight of shape `dims`:
 * int8 gets an explicit int8 zero point (ORT's DQ -> MatMul fusion requires one); symmetric int4 none.
 */
function dqInputs(g: Graph, base: string, qm: QuantizedMatrix, dims: number[], scaleDims: number[]): Value[] {
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

/** Shared plumbing of both passes: finding layers, GPTQ, rewiring, bookkeeping, cleanup. */
class Rewriter {
  readonly stats = { quantized: 0, matmul: 0, gemm: 0, conv: 0, weightBytesBefore: 0, weightBytesAfter: 0 };
  private readonly replaced = new Set<Value>();
  private readonly cache = new Map<string, Value[]>();
  private readonly graphIds = new Map<Graph, number>();
  private gptq: GptqQuantizer | undefined;

  constructor(readonly ctx: PassContext) {}

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

  /** Per-output-channel DQ -> Conv (rule 3). */
  dqConvs(convs: Node[], scheme: WeightScheme, pass: string): void {
    if (convs.length)
      this.ctx.log.warn(
        `${pass}: DequantizeLinear -> Conv runs the DQ on every inference: smaller file, not faster`,
      );
    for (const conv of convs) {
      const wt = constantOf(conv.inputs[1])!;
      const M = wt.dims[0]!;
      const qm = quantizeRowsRtn(wt.toFloat32(), M, scheme);
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
      conv.setInput(1, dq);
    }
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

const gptqOptions = {
  algorithm: z
    .enum(['rtn', 'gptq'])
    .default('rtn')
    .describe('round to nearest, or GPTQ (needs calibration data)'),
  percdamp: z.number().min(0).max(1).default(0.01).describe('GPTQ dampening (fraction of mean diag H)'),
  samples: z.number().int().positive().default(256).describe('GPTQ: calibration samples to use at most'),
};

const minElements = z.number().int().min(0).default(1024).describe('leave weights with fewer elements float');

// ----- quantize-weight-int8

const formatOption = z
  .enum(['matmulnbits', 'qdq'])
  .default('matmulnbits')
  .describe("'matmulnbits' (com.microsoft) or 'qdq' (DequantizeLinear -> MatMul, which ORT may fuse)");
const accuracyLevel = z
  .number()
  .int()
  .min(0)
  .max(4)
  .default(4)
  .describe('MatMulNBits accuracy_level (4: int8 compute, and the only level ORT prepacks 8-bit weights at)');

/** MatMulNBits block for a per-channel 8-bit matrix: the fewest bytes (scales repeat; the last block pads). */
function int8Block(K: number): number {
  const bytes = (bs: number) => Math.ceil(K / bs) * (bs + 4);
  return [16, 32, 64, 128, 256].reduce((best, bs) => (bytes(bs) < bytes(best) ? bs : best));
}

export const weightInt8Options = z
  .object({
    perChannel: z.boolean().default(true).describe('one scale per output channel (else one per tensor)'),
    format: formatOption,
    accuracyLevel,
    minElements,
    conv: z
      .enum(['skip', 'dq'])
      .default('skip')
      .describe("Conv weights: 'dq' = int8 + DequantizeLinear (size only)"),
    ...gptqOptions,
  })
  .strict();

export const weightInt8Pass = definePass({
  id: 'quantize-weight-int8',
  summary: 'int8 weight-only quantization of MatMul/Gemm (8-bit MatMulNBits, or DQ -> MatMul)',
  lossless: false,
  options: weightInt8Options,
  searchSpace: { perChannel: [true, false] },
  async apply(model, options, ctx) {
    const rw = new Rewriter(ctx);
    const lins = rw.linears(model, options.minElements, (l) => l.node.inputs[0]?.type?.shape?.length !== 1);
    let convs = options.conv === 'dq' ? rw.convs(model, options.minElements) : [];
    // DequantizeLinear: per axis from opset 13, per tensor from 10
    let dqPerChannel = options.perChannel;
    if ((options.format === 'qdq' || convs.length) && dqPerChannel && !raiseOpset(model, 13)) {
      ctx.log.warn(
        `quantize-weight-int8: per-channel DQ needs opset 13 (${opsetBlocker(model, 13)}); using per-tensor`,
      );
      dqPerChannel = false;
    }
    let format = options.format;
    if ((format === 'qdq' || convs.length) && !raiseOpset(model, 10)) {
      ctx.log.warn(
        `quantize-weight-int8: DQ needs opset 10 (${opsetBlocker(model, 10)}); MatMulNBits, Conv float`,
      );
      format = 'matmulnbits';
      convs = [];
    }
    if (options.algorithm === 'gptq' && lins.length) await rw.startGptq(model, lins, options);
    const perTensor = !(format === 'qdq' ? dqPerChannel : options.perChannel);
    const scheme: WeightScheme = { bits: 8, blockSize: Number.MAX_SAFE_INTEGER, symmetric: true, perTensor };
    for (const lin of lins) {
      if (format === 'matmulnbits') {
        await rw.matMulNBits(lin, lins, scheme, int8Block(lin.K), options.accuracyLevel);
        continue;
      }
      const g = lin.node.graph;
      const vs = await rw.weights(lin, lins, scheme, (qm) =>
        dqInputs(g, lin.weight.name, qm, [lin.K, lin.N], [lin.N]),
      );
      rw.dqMatMul(lin, vs, perTensor ? {} : { axis: 1 });
    }
    rw.dqConvs(convs, { ...scheme, perTensor: !dqPerChannel }, 'quantize-weight-int8');
    return rw.finish();
  },
});

// ----- quantize-weight-int4

export const weightInt4Options = z
  .object({
    blockSize: z
      .number()
      .int()
      .min(16)
      .refine((v) => (v & (v - 1)) === 0, 'must be a power of 2')
      .default(32)
      .describe('rows of K sharing a scale (power of 2, >= 16)'),
    format: formatOption,
    accuracyLevel,
    symmetric: z.boolean().default(true).describe('no zero points (ORT MLAS symmetric grid)'),
    minElements,
    conv: z
      .enum(['skip', 'int4'])
      .default('skip')
      .describe("Conv weights: 'int4' = per-channel int4 DQ (size only)"),
    ...gptqOptions,
  })
  .strict();

export const weightInt4Pass = definePass({
  id: 'quantize-weight-int4',
  summary: 'block-wise 4-bit weight-only quantization of MatMul/Gemm (MatMulNBits or blocked DQ -> MatMul)',
  lossless: false,
  options: weightInt4Options,
  searchSpace: { blockSize: [32, 128], algorithm: ['rtn', 'gptq'] },
  async apply(model, options, ctx) {
    const rw = new Rewriter(ctx);
    let convs = options.conv === 'int4' ? rw.convs(model, options.minElements) : [];
    let format = options.format;
    if ((format === 'qdq' || convs.length) && !raiseOpset(model, 21)) {
      const why = opsetBlocker(model, 21);
      if (format === 'qdq')
        ctx.log.warn(`quantize-weight-int4: qdq needs opset 21 (${why}); using MatMulNBits`);
      if (convs.length)
        ctx.log.warn(`quantize-weight-int4: int4 Conv weights need opset 21 (${why}); left float`);
      format = 'matmulnbits';
      convs = [];
    }
    const lins = rw.linears(model, options.minElements, (l) => l.node.inputs[0]?.type?.shape?.length !== 1);
    if (options.algorithm === 'gptq' && lins.length) await rw.startGptq(model, lins, options);
    const scheme: WeightScheme = { bits: 4, blockSize: options.blockSize, symmetric: options.symmetric };
    for (const lin of lins) {
      const { node, K, N } = lin;
      const g = node.graph;
      const base = lin.weight.name;
      if (format === 'qdq') {
        const vs = await rw.weights(lin, lins, scheme, (qm) =>
          dqInputs(g, base, qm, [K, N], [qm.kBlocks, N]),
        );
        rw.dqMatMul(lin, vs, { axis: 0, block_size: options.blockSize });
        continue;
      }
      await rw.matMulNBits(lin, lins, scheme, options.blockSize, options.accuracyLevel);
    }
    rw.dqConvs(convs, { ...scheme, blockSize: Number.MAX_SAFE_INTEGER }, 'quantize-weight-int4');
    return rw.finish();
  },
});
