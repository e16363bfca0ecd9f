// prune-channels: structured pruning that physically removes channels, so shapes shrink and ONNX
// Runtime does less work (unlike zeros, which no CPU kernel exploits).
//  1. channel spaces (channel-spaces.ts): values carrying the same channels, joined through
//     per-channel ops and residual Adds; a space reaching anything else is frozen (left whole)
//  2. importance per channel: with calibration data (and importance 'auto'), the output error of the
//     space's consumers when the channel is replaced by its mean (channel-compensation.ts rule 5);
//     without, the producers' filter L1 norms plus |bias| — a channel with a small filter and a large
//     bias still carries a large (constant) signal — except where compensation restores that
//     constant; each producer normalized by its mean, times |γ/σ| of BatchNormalizations in the space
//  3. how many channels each space keeps: 'sparsity' removes the fraction S of each space; 'macs'
//     instead removes channels space by space, roundTo at a time, always where the importance lost
//     per MAC saved is least, until the model's MACs are at most that fraction of the original. Kept
//     counts are multiples of roundTo (at least one stays): ORT's blocked (NCHWc) convolutions pad
//     channels to their block, so on cnn-residual (AVX-512) widths 23/45 ran 0.69× as fast as the
//     original, 24/48 1.1× faster and 32/48 1.26× (bench/compose/prune.ts prints the table); the
//     default 8 never leaves odd widths and suits AVX2's blocks, 16 is better on AVX-512
//  4. before slicing, each consumer of a pruned space is compensated (channel-compensation.ts):
//     'bias' folds the removed channels' constant (their mean with data) into the consumer's bias;
//     'lsq' (with calibration data; bias without) refits the consumer's kept weights and bias to its
//     original output by least squares
//  5. every weight, bias, BatchNorm parameter and per-channel constant that touches the space is
//     sliced, depthwise groups shrink with it
//  6. with a runtime, the model is timed before and after (batch 1, one thread); a pruned model that
//     runs more than 5% slower is warned about (stats: speedup)

import { z } from 'zod';
import { inferShapes } from '../../analysis/shape-inference.js';
import { attrFloat, attrInt, setAttr } from '../../ir/builder.js';
import { cloneModel } from '../../ir/clone.js';
import type { Model, Node } from '../../ir/graph.js';
import { encodeModel } from '../../ir/serialize.js';
import type { GemmFn } from '../../kernels/matmul.js';
import { definePass, type PassContext } from '../pass.js';
import { weightCensus } from '../reasons.js';
import { choice, removeUnused, samplesOption } from '../util.js';
import { collectInputStats, type InputStats, layerMatrix } from './activations.js';
import {
  addBias,
  channelErrors,
  compensationDelta,
  consumerBias,
  propagateConstants,
  reconstruct,
  setBias,
  writeWeight,
} from './channel-compensation.js';
import { analyse, type Entry, floatConst, type Spaces, sliceInput } from './channel-spaces.js';
import { compareLatency, latencyFeeds } from './latency.js';

const options = z
  .object({
    sparsity: z
      .number()
      .min(0)
      .max(0.95)
      .default(0.3)
      .describe('fraction of the channels removed from each prunable channel group'),
    macs: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .describe(
        'instead of --sparsity: prune the least important channels, group by group, until the MACs are at most this fraction of the original',
      ),
    minChannels: z
      .number()
      .int()
      .min(1)
      .default(8)
      .describe('leave channel groups with fewer channels whole'),
    roundTo: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(8)
      .describe(
        'keep channel counts multiples of this (8 suits ORT CPU convolutions on AVX2, 16 on AVX-512)',
      ),
    importance: choice(
      ['auto', 'l1'],
      'auto',
      'auto: output error on the calibration data when given, else l1; l1: filter L1 norm (+ |bias|)',
    ),
    compensate: choice(
      ['none', 'bias', 'lsq'],
      'lsq',
      "removed channels' constant output into the next layer's bias (bias), or least-squares refit of the next layer on calibration data (lsq; bias without data)",
    ),
    samples: samplesOption(256, 'calibration samples for data-aware importance and reconstruction'),
    measure: z
      .boolean()
      .default(true)
      .describe('time the model before and after with the runtime (batch 1) and warn when it got slower'),
  })
  .strict();

type Options = z.infer<typeof options>;

interface Space {
  root: number;
  entries: Entry[];
  channels: number;
  /** importance per channel (rule 2) */
  score: Float64Array;
  kept: number;
}

const isProducer = (e: Entry) => e.role === 'conv-out' || e.role === 'fc-out';
const isConsumer = (e: Entry) => e.role === 'conv-in' || e.role === 'fc-in';

function channelCount(entries: Entry[]): number | undefined {
  for (const e of entries) {
    const t = floatConst(e.node.inputs[1]);
    if (!t) continue;
    if (e.role === 'conv-out' || e.role === 'dw') return t.dims[0];
    if (e.role === 'conv-in') return t.dims[1]; // group 1
    const transB = e.node.opType === 'Gemm' && attrInt(e.node, 'transB', 0) === 1;
    if (e.role === 'fc-out') return transB ? t.dims[0] : t.dims[1];
    if (e.role === 'fc-in') return transB ? t.dims[1] : t.dims[0];
  }
  return undefined;
}

/**
 * rule 2 without data: producers' normalized filter L1 + |bias|, times BatchNorm |γ/σ|. The bias
 * counts unless compensation restores it, i.e. unless the channel is constant (filter L1 at most a
 * tenth of the mean, channel-compensation.ts rule 1).
 */
function normImportance(entries: Entry[], channels: number, compensating: boolean): Float64Array {
  const score = new Float64Array(channels);
  for (const e of entries.filter(isProducer)) {
    const lm = layerMatrix(e.node);
    if (!lm) continue;
    const w = lm.read()[0]!;
    const l1 = new Float64Array(channels);
    for (let i = 0; i < w.length; i++) l1[i % channels]! += Math.abs(w[i]!);
    const mean = l1.reduce((a, v) => a + v, 0) / channels;
    const b = consumerBias(e.node, channels);
    const norms = l1.map((v, c) => v + (b && !(compensating && v <= 0.1 * mean) ? Math.abs(b[c]!) : 0));
    const scale = norms.reduce((a, v) => a + v, 0) / channels || 1;
    for (let c = 0; c < channels; c++) score[c]! += norms[c]! / scale;
  }
  for (const e of entries.filter((x) => x.role === 'bn')) {
    const g = floatConst(e.node.inputs[1])!.toFloat32();
    const v = floatConst(e.node.inputs[4])!.toFloat32();
    const eps = attrFloat(e.node, 'epsilon', 1e-5);
    for (let c = 0; c < channels; c++) score[c]! *= Math.abs(g[c]! / Math.sqrt(v[c]! + eps));
  }
  return score;
}

/** rule 2 with data: Σ over the consumers of their relative output error per channel. */
async function dataImportance(
  entries: Entry[],
  channels: number,
  stats: Map<string, InputStats>,
  gemm: GemmFn,
): Promise<Float64Array | undefined> {
  const score = new Float64Array(channels);
  let any = false;
  for (const e of entries.filter(isConsumer)) {
    const lm = layerMatrix(e.node);
    const s = lm && stats.get(lm.statsKey);
    if (!lm || !s || lm.K % channels !== 0) continue;
    const err = await channelErrors(lm, channels, s, gemm);
    for (let c = 0; c < channels; c++) score[c]! += err[c]!;
    any = true;
  }
  return any ? score : undefined;
}

/** MACs per sample of a Conv/Gemm/MatMul from its inferred output shape (symbolic dims count 1). */
function layerMacs(n: Node): number {
  const shape = n.outputs[0]?.type?.shape;
  const w = floatConst(n.inputs[1]);
  if (!shape || !w) return 0;
  const out = shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
  if (n.opType === 'Conv') return out * w.dims.slice(1).reduce((a, b) => a * b, 1);
  const lm = layerMatrix(n);
  return lm ? out * lm.K : 0;
}

/** rule 3, 'macs': greedy removal, roundTo channels at a time, least importance per MAC saved first. */
function allocateMacs(model: Model, spaces: Space[], o: Options, ctx: PassContext): void {
  const layers = new Map<Node, { base: number; spaces: { s: Space; entry: Entry }[] }>();
  for (const s of spaces)
    for (const e of s.entries) {
      if (e.role === 'bn' || e.role === 'const') continue;
      const l = layers.get(e.node) ?? { base: layerMacs(e.node), spaces: [] };
      l.spaces.push({ s, entry: e });
      layers.set(e.node, l);
    }
  let total = 0;
  for (const n of model.graph.nodes)
    if (n.opType === 'Conv' || n.opType === 'Gemm' || n.opType === 'MatMul') total += layerMacs(n);
  const scaled = (l: { base: number; spaces: { s: Space }[] }, s?: Space, kept?: number) =>
    l.base * l.spaces.reduce((a, x) => a * ((x.s === s ? kept! : x.s.kept) / x.s.channels), 1);
  const fixed = total - [...layers.values()].reduce((a, l) => a + l.base, 0);
  const macsNow = () => fixed + [...layers.values()].reduce((a, l) => a + scaled(l), 0);
  const target = o.macs! * total;
  const order = new Map(
    spaces.map((s) => [s, Array.from(s.score.keys()).sort((a, b) => s.score[a]! - s.score[b]! || a - b)]),
  );
  const step = (s: Space, dir: -1 | 1) => {
    const next =
      dir < 0
        ? (Math.ceil(s.kept / o.roundTo) - 1) * o.roundTo
        : Math.min(s.channels, (Math.floor(s.kept / o.roundTo) + 1) * o.roundTo);
    if (dir < 0 && (next < 1 || s.channels - next > Math.floor(0.95 * s.channels))) return undefined;
    if (dir > 0 && next <= s.kept) return undefined;
    const [from, to] =
      dir < 0 ? [s.channels - s.kept, s.channels - next] : [s.channels - next, s.channels - s.kept];
    let importance = 0;
    for (const c of order.get(s)!.slice(from, to)) importance += s.score[c]!;
    let macs = fixed;
    for (const l of layers.values()) macs += scaled(l, s, next);
    return { s, next, importance, macs };
  };
  let now = macsNow();
  // remove the step that loses least importance per MAC saved, until the target is met
  while (now > target) {
    let best: ReturnType<typeof step>;
    let bestCost = Number.POSITIVE_INFINITY;
    for (const s of spaces) {
      const t = step(s, -1);
      const cost = t ? t.importance / Math.max(now - t.macs, 1e-9) : Number.POSITIVE_INFINITY;
      if (t && cost < bestCost) [best, bestCost] = [t, cost];
    }
    if (!best) break;
    best.s.kept = best.next;
    now = best.macs;
  }
  // the last step may overshoot: give back the steps that still fit, most importance per MAC first
  for (;;) {
    let best: ReturnType<typeof step>;
    let bestGain = 0;
    for (const s of spaces) {
      const t = step(s, 1);
      const gain = t && t.macs <= target ? t.importance / Math.max(t.macs - now, 1e-9) : 0;
      if (t && gain > bestGain) [best, bestGain] = [t, gain];
    }
    if (!best) break;
    best.s.kept = best.next;
    now = best.macs;
  }
  if (now > target)
    ctx.log.warn(
      `prune-channels: MACs reach ${(now / total).toFixed(3)} of the original, not ${o.macs} (every prunable group is at its smallest)`,
    );
}

/** rule 3, 'sparsity': the kept count of one space. */
function keptBySparsity(channels: number, o: Options): number {
  const wanted = Math.max(1, channels - Math.floor(o.sparsity * channels));
  return channels >= o.roundTo ? Math.min(channels, Math.ceil(wanted / o.roundTo) * o.roundTo) : wanted;
}

/** rule 4: compensate every consumer of a space for the channels it loses. */
async function compensate(
  model: Model,
  sp: Spaces,
  s: Space,
  keep: number[],
  o: Options,
  stats: Map<string, InputStats>,
  gemm: GemmFn | undefined,
  spaces: Space[],
): Promise<number> {
  // an Add inserted after a consumer that also produces a space is sliced with that space
  const track = (n: Node, add: Node | undefined) => {
    if (!add) return;
    for (const t of spaces)
      if (t.entries.some((x) => x.node === n && isProducer(x)))
        t.entries.push({ node: add, role: 'const', index: 1 });
  };
  if (o.compensate === 'none') return 0;
  const kept = new Set(keep);
  const removed = Array.from({ length: s.channels }, (_, c) => c).filter((c) => !kept.has(c));
  const constants = stats.size
    ? undefined
    : propagateConstants(model.graph, sp, s.root, s.channels, s.entries);
  let done = 0;
  for (const e of s.entries.filter(isConsumer)) {
    const lm = layerMatrix(e.node);
    if (!lm || lm.K % s.channels !== 0) continue;
    const st = stats.get(lm.statsKey);
    const bias = consumerBias(e.node, lm.N);
    if (o.compensate === 'lsq' && st && bias && gemm) {
      const r = await reconstruct(lm, s.channels, keep, bias, st, gemm);
      if (r) {
        writeWeight(lm, r.weight);
        track(e.node, setBias(e.node, r.bias));
        done++;
        continue;
      }
    }
    const delta = compensationDelta(lm, s.channels, removed, constants?.get(e.node.inputs[0]!), st);
    if (delta.some((v) => v !== 0)) {
      track(e.node, addBias(e.node, delta));
      done++;
    }
  }
  return done;
}

/** rule 5: slice every entry of a space to the kept channels. */
function sliceSpace(entries: Entry[], keep: number[]): void {
  for (const e of entries) {
    const n = e.node;
    const transB = n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1;
    switch (e.role) {
      case 'conv-out':
      case 'dw':
        sliceInput(n, 1, 0, keep);
        if (n.inputs[2]) sliceInput(n, 2, 0, keep);
        if (e.role === 'dw') setAttr(n, 'group', keep.length);
        break;
      case 'conv-in':
        sliceInput(n, 1, 1, keep);
        break;
      case 'bn':
        for (let i = 1; i <= 4; i++) sliceInput(n, i, 0, keep);
        break;
      case 'const': {
        const t = floatConst(n.inputs[e.index!])!;
        sliceInput(
          n,
          e.index!,
          t.dims.findIndex((d) => d !== 1),
          keep,
        );
        break;
      }
      case 'fc-out':
        sliceInput(n, 1, transB ? 0 : 1, keep);
        if (n.inputs[2] && floatConst(n.inputs[2])!.size > 1) sliceInput(n, 2, 0, keep);
        break;
      case 'fc-in':
        sliceInput(n, 1, transB ? 1 : 0, keep);
        break;
    }
  }
}

export const pruneChannels = definePass({
  id: 'prune-channels',
  summary:
    'structured pruning: remove the least important channels of conv and dense layers (shapes shrink), compensating the next layers',
  lossless: false,
  options,
  searchSpace: {
    sparsity: [0.2, 0.3, 0.5],
    macs: [0.8, 0.6, 0.4],
    roundTo: [1, 8, 16],
    importance: ['auto', 'l1'],
    compensate: ['none', 'bias', 'lsq'],
    measure: [false],
  },
  async apply(model, o, ctx) {
    const graph = model.graph;
    const timing = o.measure && ctx.runtime ? latencyFeeds(model, ctx.calibration, ctx.rng) : undefined;
    const before = timing ? encodeModel(model) : undefined;
    inferShapes(model, { defaultDim: null, write: true }); // ranks decide which ops keep a space
    const sp = analyse(graph);
    const groups = new Map<number, Entry[]>();
    for (const [s, list] of sp.entries) {
      const r = sp.find(s);
      groups.set(r, [...(groups.get(r) ?? []), ...list]);
    }
    const frozen = new Set([...sp.frozen].map((s) => sp.find(s)));
    const why = { frozen: 0, few: 0, spaces: 0, rounded: 0 };
    const spaces: Space[] = [];
    for (const [root, entries] of groups) {
      const producers = entries.filter(isProducer);
      if (producers.length) why.spaces++;
      if (frozen.has(root)) {
        if (producers.length) why.frozen++;
        continue;
      }
      if (producers.length === 0 || !entries.every((e) => ctx.selects(e.node))) continue;
      const channels = channelCount(entries);
      if (!channels || channels < o.minChannels) {
        why.few++;
        continue;
      }
      spaces.push({ root, entries, channels, score: new Float64Array(channels), kept: channels });
    }
    // rule 2: statistics of every consumer's input (one calibration run)
    const wantData = o.importance === 'auto' || o.compensate !== 'none';
    const engine = wantData && ctx.collect && ctx.matmul && spaces.length ? ctx.matmul() : undefined;
    let spacesPruned = 0;
    let removed = 0;
    let compensated = 0;
    try {
      const gemm = engine ? engine.gemm.bind(engine) : undefined;
      const stats = engine
        ? await collectInputStats(
            model,
            spaces.flatMap((s) => s.entries.filter(isConsumer).flatMap((e) => layerMatrix(e.node) ?? [])),
            ctx,
            o.samples,
          )
        : new Map<string, InputStats>();
      if (o.compensate === 'lsq' && !stats.size && spaces.length)
        ctx.log.info('prune-channels: no calibration data, so bias compensation instead of reconstruction');
      for (const s of spaces) {
        const data =
          o.importance === 'auto' && gemm
            ? await dataImportance(s.entries, s.channels, stats, gemm)
            : undefined;
        s.score = data ?? normImportance(s.entries, s.channels, o.compensate !== 'none');
        if (!o.macs) s.kept = keptBySparsity(s.channels, o);
      }
      if (o.macs) allocateMacs(model, spaces, o, ctx);
      for (const s of spaces) {
        const drop = s.channels - s.kept;
        if (drop <= 0) {
          why.rounded++;
          continue;
        }
        const order = Array.from(s.score.keys()).sort((a, b) => s.score[a]! - s.score[b]! || a - b);
        const keep = order.slice(drop).sort((a, b) => a - b);
        compensated += await compensate(model, sp, s, keep, o, stats, gemm, spaces);
        sliceSpace(s.entries, keep);
        // intermediate types now have fewer channels: drop the stale ones (inference recomputes them)
        for (const [v, id] of sp.of)
          if (sp.find(id) === s.root && !v.isGraphOutput && !v.isGraphInput)
            v.setType(v.type ? { elemType: v.type.elemType, shape: undefined } : undefined);
        spacesPruned++;
        removed += drop;
      }
    } finally {
      await engine?.release();
    }
    if (!spacesPruned) {
      const census = weightCensus(model, 0, ctx.selects);
      const reasons = [
        census.quantizedOp &&
          `the model is already quantized (it has ${census.quantizedOp}); prune the float model`,
        why.frozen &&
          `${why.frozen} of ${why.spaces} channel group(s) reach a graph output, Concat, Reshape, Transpose, Softmax, a grouped Conv or a non-per-channel constant, so their channel count is fixed`,
        why.few && `${why.few} group(s) have fewer than ${o.minChannels} channels`,
        why.rounded &&
          `${why.rounded} group(s) keep every channel once the kept count is rounded up to a multiple of ${o.roundTo} (--round-to)`,
        !why.spaces &&
          'the model has no Conv, Gemm or MatMul with constant weights that starts a channel group',
        census.recurrent && `${census.recurrent} LSTM/GRU layer(s) are not channel-pruned`,
      ].filter(Boolean);
      ctx.log.warn(
        `prune-channels removed 0 channels: ${reasons.join('; ')} (use --pattern unstructured to zero weights instead)`,
      );
      return { changed: false, stats: { groups: 0, channelsRemoved: 0 } };
    }
    const stats: Record<string, number> = { groups: spacesPruned, channelsRemoved: removed, compensated };
    // rule 6
    if (timing && before && ctx.runtime) {
      const after = cloneModel(model);
      removeUnused(after.graph);
      const t = await compareLatency(ctx.runtime, before, encodeModel(after), timing);
      if (t) {
        stats.speedup = Math.round((1000 * t.before) / t.after) / 1000;
        if (t.after > 1.05 * t.before)
          ctx.log.warn(
            `prune-channels: the pruned model runs slower than the original (${t.after.toFixed(3)} ms vs ${t.before.toFixed(3)} ms at batch 1); keep channel counts multiples of 8 or 16 (--round-to)`,
          );
      }
    }
    return { changed: true, stats };
  },
});
