// cluster-weights: k-means weight clustering (palettization). Each weight tensor of a Conv,
// ConvTranspose, MatMul or Gemm becomes K shared values (a codebook) plus an index per element.
//  1. codebooks per tensor, per output channel or per group of `groupSize` output channels (the axis:
//     layers.ts rule 1), each from 1-D k-means (kernels/kmeans1d): the exact dynamic program on a
//     histogram (`init dp`) or Lloyd from a k-means++ seeding (`init kmeans++`); fit.ts
//  2. `weighting hessian` (needs calibration): element (k, n) of a layer's W [K, N] weighs
//     diag(XᵀX)[k] of its input feature (im2col features for Conv), so the codebook minimises the
//     layer-output error Σ_k H_kk ‖Δw_k‖² rather than the weight error
//  3. `keepZeros` (sparsity preserved): a codebook whose weights are at least 1% exact zeros (pruned)
//     gets an exact 0 plus K − 1 centroids of the non-zeros; zeros stay 0, no other weight becomes 0
//  4. `compensate` (needs calibration): GPTQ-style error compensation (kernels/cluster-gptq.ts) with
//     the step-1 codebooks: W's rows (input features) are snapped in order and each row's error is
//     pushed onto the rows not yet snapped through the inverse Hessian (MatMul, Gemm, 2-D Conv of any
//     group count in the main graph; other weights keep the plain assignment). `refit` rounds (layers
//     of one group): the codebook values are refitted by least squares to that assignment
//     (tr((W − Q)ᵀH(W − Q)) over the values, an exact 0 kept), re-sorted, and W is assigned again
//  5. storage 'codebook' (default): passes/cluster/codebook.ts: indices packed to ⌈log2 K⌉ bits (K <= 64,
//     opset >= 10; uint4 initializers at opset >= 21) or uint8, expanded by Cast/Div/Mod/Reshape and
//     Gather, which ONNX Runtime folds when it loads the model, so inference runs on float weights at
//     float speed while the raw file holds the packed indices (`pack false`: always uint8)
//  6. storage 'dense': every weight replaced in place by its centroid: the same file size, but few
//     distinct values compress well (transport size), and later passes still see plain weights
//  7. weights are initializers or Constant-node outputs, in any graph (subgraphs too; the data-aware
//     options reach main-graph layers only); tensors smaller than minElements, and non-float weights,
//     are left alone

import { z } from 'zod';
import { EdgefitError } from '../../errors.js';
import type { Graph, Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { clusterGptq, refitCodebooks } from '../../kernels/cluster-gptq.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass, type PassContext } from '../pass.js';
import { gptqOptions } from '../quantize/weight-only.js';
import { nothingReason, weightCensus } from '../reasons.js';
import { choice, constantOf, newFloatWeight } from '../util.js';
import {
  type Codebook,
  expandCodebook,
  indexBitsFor,
  indexBitsSupported,
  writeCodebook,
} from './codebook.js';
import { type Codebooks, fitCodebooks } from './fit.js';
import { outputAxis, type WeightMatrix, weightHessians, weightMatrix } from './layers.js';

const CLUSTERED_OPS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);

const options = z
  .object({
    clusters: z.number().int().min(2).max(256).default(16).describe('centroids per codebook (2 to 256)'),
    storage: choice(
      ['codebook', 'dense'],
      'codebook',
      'codebook: packed indices + codebook, expanded by ORT at load; dense: centroid values in place',
    ),
    pack: z
      .boolean()
      .default(true)
      .describe('store indices in ceil(log2 K) bits (K <= 64, opset >= 10); off: one byte per index'),
    granularity: choice(
      ['tensor', 'channel', 'group'],
      'tensor',
      'one codebook per weight tensor, per output channel, or per group of --group-size channels',
    ),
    groupSize: z
      .number()
      .int()
      .min(1)
      .max(65536)
      .default(16)
      .describe('output channels per codebook with --granularity group'),
    init: choice(
      ['dp', 'kmeans++'],
      'dp',
      'dp: exact 1-D k-means (dynamic programming); kmeans++: Lloyd from a k-means++ seeding',
    ),
    weighting: choice(
      ['none', 'hessian'],
      'none',
      'hessian: weigh each weight by its input feature diag(XᵀX) from --calib',
    ),
    compensate: z
      .boolean()
      .default(false)
      .describe(
        "GPTQ-style error compensation from --calib: each input row's error moves to the rows not yet clustered",
      ),
    percdamp: gptqOptions.percdamp.describe(
      '--compensate: dampening added to the Hessian, as a fraction of its mean diagonal',
    ),
    refit: z
      .number()
      .int()
      .min(0)
      .max(8)
      .default(0)
      .describe(
        '--compensate: rounds of refitting the codebook to the compensated assignment, then assigning again',
      ),
    keepZeros: z
      .boolean()
      .default(true)
      .describe('a weight with >= 1% exact zeros (pruned) keeps an exact 0 centroid; its zeros stay zero'),
    samples: gptqOptions.samples.describe('calibration samples for --weighting hessian and --compensate'),
    minElements: z
      .number()
      .int()
      .min(0)
      .default(1024)
      .describe('leave weight tensors with fewer elements alone'),
  })
  .strict();

type Options = z.infer<typeof options>;

/**
 * Weights (initializers and Constant-node outputs) read as the weight (input 1) of a clusterable node
 * that the selector lets us touch (rule 7).
 */
function clusterable(graph: Graph, selects: (n: Node) => boolean, minElements: number): Value[] {
  const constants = graph.nodes
    .filter((n) => n.opType === 'Constant' && n.domain === '')
    .map((n) => n.outputs[0]!);
  return [...graph.initializers, ...constants].filter((v) => {
    const t = constantOf(v);
    if (!t || t.dtype !== DataType.FLOAT || t.size < minElements || v.isGraphOutput) return false;
    return (
      v.uses.length > 0 &&
      v.uses.every(
        (u) => u.index === 1 && u.node.domain === '' && CLUSTERED_OPS.has(u.node.opType) && selects(u.node),
      )
    );
  });
}

/** rule 2: the importance of every element, diag(XᵀX) of its input feature */
function importanceOf(m: WeightMatrix, h: Float64Array[], size: number): Float32Array {
  const out = new Float32Array(size);
  const { K, N } = m;
  for (let g = 0; g < m.groups; g++) {
    const H = h[g]!;
    for (let k = 0; k < K; k++) {
      const d = H[k * K + k]!;
      for (let n = 0; n < N; n++) out[m.offset(g, k, n)] = d;
    }
  }
  return out;
}

/** Sort every group's entries ascending again (after a refit), remapping the indices. */
function sortBooks(books: Codebooks): void {
  const { table, stride: S, count } = books;
  const perm = new Uint8Array(count.length * S);
  for (let g = 0; g < count.length; g++) {
    const m = count[g]!;
    const order = Array.from({ length: m }, (_, j) => j).sort(
      (a, b) => table[g * S + a]! - table[g * S + b]!,
    );
    const sorted = order.map((j) => table[g * S + j]!);
    order.forEach((j, t) => {
      perm[g * S + j] = t;
    });
    table.set(sorted, g * S);
  }
  const group = books.axis === undefined ? undefined : books.groupOf;
  for (let i = 0; i < books.indices.length; i++)
    books.indices[i] = perm[(group ? group[i]! : 0) * S + books.indices[i]!]!;
}

/**
 * rule 4: re-assign `books.indices` of weight w with GPTQ's error compensation, group by group; for
 * a layer of one group, refit the codebook values to the compensated assignment and assign again
 * (`rounds` times)
 */
async function compensate(
  w: Float32Array,
  books: Codebooks,
  m: WeightMatrix,
  h: Float64Array[],
  o: { keepZeros: boolean; percdamp: number; refit: number },
  ctx: PassContext,
): Promise<boolean> {
  const { K, N } = m;
  const mm = ctx.matmul!();
  const rounds = m.groups === 1 ? o.refit : 0;
  try {
    let all = true;
    for (let g = 0; g < m.groups; g++) {
      const W = new Float32Array(K * N);
      for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) W[k * N + n] = w[m.offset(g, k, n)]!;
      const groupOf = Int32Array.from({ length: N }, (_, n) =>
        books.axis === undefined ? 0 : Math.floor(m.channel(g, n) / books.groupSize),
      );
      for (let round = 0; round <= rounds; round++) {
        const cols = { table: books.table, stride: books.stride, count: books.count, groupOf };
        const idx = await clusterGptq(W, K, N, h[g]!, cols, mm.gemm.bind(mm), o);
        if (!idx) {
          all = false;
          break;
        }
        for (let k = 0; k < K; k++)
          for (let n = 0; n < N; n++) books.indices[m.offset(g, k, n)] = idx[k * N + n]!;
        if (round === rounds) break;
        books.table.set(refitCodebooks(W, K, N, h[g]!, cols, idx, o.keepZeros));
        sortBooks(books);
      }
    }
    return all;
  } finally {
    await mm.release();
  }
}

/** index bits as written (rule 5) */
function bitsFor(o: Options, entries: number, opset: number): number {
  const bits = o.pack ? indexBitsFor(entries) : 8;
  return indexBitsSupported(bits, opset) ? bits : 8;
}

function checkOptions(o: Options, ctx: PassContext, opset: number): void {
  const dataAware = o.weighting === 'hessian' || o.compensate;
  const flag = o.compensate ? '--compensate' : '--weighting hessian';
  if (dataAware && !ctx.calibration)
    throw new EdgefitError('BAD_ARGUMENT', `${flag} needs calibration data`, 'pass --calib FILE');
  if (dataAware && (!ctx.collect || !ctx.matmul))
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `${flag} needs ONNX Runtime to read activations`,
      'give the pass a runtime',
    );
  if (o.storage === 'codebook' && opset < 6)
    throw new EdgefitError(
      'UNSUPPORTED',
      `codebook storage needs ai.onnx opset >= 6 (the model has ${opset})`,
      'use --storage dense',
    );
}

export const clusterWeights = definePass({
  id: 'cluster-weights',
  summary:
    'k-means weight clustering: K shared values per tensor, channel or group, stored as codebook + indices',
  lossless: false,
  options,
  searchSpace: {
    clusters: [4, 8, 16, 64],
    storage: ['codebook'],
    pack: [true],
    granularity: ['tensor', 'channel', 'group'],
    groupSize: [8, 32],
    init: ['dp', 'kmeans++'],
    weighting: ['none', 'hessian'],
    compensate: [false, true],
    percdamp: [0.01, 0.1],
    refit: [0, 2],
    keepZeros: [true],
    samples: [128, 512],
  },
  async apply(model, o, ctx) {
    const opset = model.opset('') ?? 0;
    checkOptions(o, ctx, opset);
    const targets = [...model.graph.allGraphs()].flatMap((g) => clusterable(g, ctx.selects, o.minElements));
    // rules 2, 4: the matrix view and XᵀX of every weight the data-aware options reach
    const matrices = new Map<Value, WeightMatrix>();
    if (o.weighting === 'hessian' || o.compensate)
      for (const v of targets) {
        const m = weightMatrix(v);
        if (m) matrices.set(v, m);
      }
    const hessians = matrices.size ? await weightHessians(model, matrices, ctx, o.samples) : new Map();
    const stats = {
      tensors: 0,
      elements: 0,
      sse: 0,
      energy: 0,
      compensated: 0,
      weighted: 0,
      zeroKept: 0,
      bits: 0,
    };
    let missed = 0;
    for (const v of targets) {
      const t = constantOf(v)!;
      const w = t.toFloat32();
      const dims = [...t.dims];
      const axis = o.granularity === 'tensor' ? undefined : outputAxis(v.uses[0]!.node, dims.length);
      const m = matrices.get(v);
      const h = hessians.get(v);
      if ((o.weighting === 'hessian' || o.compensate) && !h) missed++;
      const importance = o.weighting === 'hessian' && m && h ? importanceOf(m, h, w.length) : undefined;
      const books = fitCodebooks(w, dims, axis, o.granularity === 'channel' ? 1 : o.groupSize, {
        k: o.clusters,
        init: o.init,
        seed: ctx.rng.int(2 ** 31),
        keepZeros: o.keepZeros,
        importance,
      });
      if (o.compensate && m && h && (await compensate(w, books, m, h, o, ctx))) stats.compensated++;
      if (importance) stats.weighted++;
      if (books.zeroGroups) stats.zeroKept++;
      const G = books.groups;
      const cb: Codebook = {
        codebook: Tensor.fromFloat32('', G > 1 ? [G, books.stride] : [books.stride], books.table),
        indices: books.indices,
        dims,
        bits: bitsFor(o, books.stride, opset),
        ...(G > 1 ? { groupAxis: books.axis!, groups: G, groupSize: books.groupSize } : {}),
      };
      const expanded = expandCodebook(cb);
      for (let i = 0; i < w.length; i++) {
        stats.sse += (w[i]! - expanded[i]!) ** 2;
        stats.energy += w[i]! * w[i]!;
      }
      stats.tensors++;
      stats.elements += w.length;
      stats.bits = Math.max(stats.bits, o.storage === 'dense' ? 32 : cb.bits);
      // rules 5, 6
      const graph = v.graph;
      const replacement =
        o.storage === 'dense'
          ? newFloatWeight(graph, `${v.name}_clustered`, dims, expanded)
          : writeCodebook(graph, v.name, cb);
      for (const u of [...v.uses]) u.node.setInput(u.index, replacement);
    }
    if (missed)
      ctx.log.warn(
        `cluster-weights: ${missed} weight(s) got no calibration statistics (not a MatMul/Gemm/2-D Conv of the main graph, or shared by layers that see it differently): clustered without --weighting/--compensate`,
      );
    if (!stats.tensors)
      ctx.log.warn(
        nothingReason('cluster-weights', weightCensus(model, o.minElements, ctx.selects), o.minElements, {
          recurrent: 'LSTM/GRU weights are not clustered',
        }),
      );
    return {
      changed: stats.tensors > 0,
      stats: {
        tensors: stats.tensors,
        elements: stats.elements,
        clusters: o.clusters,
        indexBits: stats.bits,
        weighted: stats.weighted,
        compensated: stats.compensated,
        zeroKept: stats.zeroKept,
        weightSqnrDb: stats.energy > 0 && stats.sse > 0 ? 10 * Math.log10(stats.energy / stats.sse) : 0,
      },
    };
  },
});
