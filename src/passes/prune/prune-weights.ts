// prune-weights: unstructured and N:M sparsity of Conv, ConvTranspose, MatMul and Gemm weights.
//  1. methods: 'magnitude' |w| and 'wanda' |w| · ||x_k|| score the weights and zero the lowest
//     (masks.ts); 'sparsegpt' (kernels/sparsegpt.ts) chooses the mask by OBS saliency w² / [H⁻¹]ₖₖ
//     block by block and pushes each pruned weight's error onto the weights not yet pruned, with
//     H = XᵀX of the layer's calibration inputs (activations.ts: MatMul/Gemm rows, Conv im2col,
//     grouped and depthwise convs per group). Layers sparsegpt cannot see (ConvTranspose, subgraph
//     nodes, inputs that were not collected) fall back to magnitude, and the log says so
//  2. patterns: 'unstructured' (exactly floor(S · size) zeros per tensor at sparsity S), or N:M (n kept
//     in every m consecutive weights along the input; sparsegpt reconstructs, and for Conv runs the
//     groups over input channels at the same kernel position)
//  3. scope 'layer': every tensor at S. scope 'global': S of all pruned weights together, split by
//     `allocation`: 'uniform' puts one threshold over every layer's mean-normalized scores
//     (sparsegpt: the initial saliencies); 'sensitivity' measures each layer's relative output error
//     at the sparsities of allocation.ts's GRID (with calibration data through H, else ||ΔW||²) and
//     gives each layer the sparsity that minimises the summed error for the total
//  4. a weight read by several layers of one graph is pruned once (their H summed) and shared again
//  5. zeros are stored densely: ONNX Runtime's CPU kernels do not exploit unstructured sparsity
//     (docs/ORT.md §1.7), so this shrinks the transport size (brotli), not the file or the latency;
//     structured (channel) pruning is what makes models faster
//  6. sequential sparsegpt (the default): layers are pruned in waves in graph order, each wave's H
//     collected on the model with the earlier waves already pruned, so a layer compensates the error
//     of the layers before it; with --scope global the split itself comes from the unpruned model

import { z } from 'zod';
import { EdgefitError } from '../../errors.js';
import { attrInt } from '../../ir/builder.js';
import type { Model, Node, Value } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import {
  outputError,
  pruneSparseGpt,
  type SparseGptFactor,
  sparseGptFactor,
} from '../../kernels/sparsegpt.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass, type PassContext } from '../pass.js';
import { linearOf } from '../quantize/gptq.js';
import { nothingReason, weightCensus } from '../reasons.js';
import { choice, constantOf, newFloatWeight, samplesOption } from '../util.js';
import { collectInputStats, type InputStats, type LayerMatrix, layerMatrix } from './activations.js';
import { allocateBySensitivity, GRID, thresholdSparsities } from './allocation.js';
import { pruneLowest, pruneNM, scoresOf, wandaNorms } from './masks.js';

const PRUNED_OPS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);

const options = z
  .object({
    sparsity: z
      .number()
      .min(0)
      .max(0.99)
      .default(0.5)
      .describe('fraction of weights set to zero (unstructured; of all pruned weights with --scope global)'),
    pattern: choice(
      ['unstructured', '2:4', '4:8', '1:4'],
      'unstructured',
      'unstructured, or N:M (N kept in every M consecutive weights along the input)',
    ),
    method: choice(
      ['magnitude', 'wanda', 'sparsegpt'],
      'magnitude',
      'magnitude |w|; wanda |w| · input norm; sparsegpt OBS reconstruction with calibration Hessians (wanda and sparsegpt need calibration data)',
    ),
    scope: choice(
      ['layer', 'global'],
      'layer',
      'layer: every tensor at the sparsity; global: the sparsity over all pruned weights together',
    ),
    allocation: choice(
      ['uniform', 'sensitivity'],
      'uniform',
      "with --scope global, uniform: one threshold over normalized scores; sensitivity: per-layer sparsity from each layer's output-error curve",
    ),
    minElements: z.number().int().min(0).default(1024).describe('leave weights with fewer elements alone'),
    samples: samplesOption(128, 'calibration samples for wanda, sparsegpt and sensitivity'),
    blockSize: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .default(128)
      .describe('sparsegpt: rows per block (the mask is chosen per block)'),
    sequential: z
      .boolean()
      .default(true)
      .describe(
        "sparsegpt: collect each layer's statistics on the model with the layers before it already pruned (as the paper does)",
      ),
    percdamp: z
      .number()
      .min(0)
      .max(1)
      .default(0.01)
      .describe('sparsegpt: dampening of H, as a fraction of its mean diagonal'),
  })
  .strict();

type Options = z.infer<typeof options>;

/** One weight to prune, with every layer of one graph that reads it (rule 4). */
interface Unit {
  nodes: Node[];
  weight: Value;
  tensor: Tensor;
  /** the product view for H-based work (undefined: ConvTranspose) */
  lm?: LayerMatrix;
  /** per group H (dampened) and its factor, when statistics exist */
  factors?: SparseGptFactor[];
  /** Wanda's per-input-feature Σx² */
  norm?: Float64Array;
}

function unitsOf(model: Model, o: Options, ctx: PassContext): Unit[] {
  const units = new Map<string, Unit>();
  for (const n of model.graph.allNodes()) {
    const t = constantOf(n.inputs[1]);
    if (
      n.domain !== '' ||
      !PRUNED_OPS.has(n.opType) ||
      !ctx.selects(n) ||
      t?.dtype !== DataType.FLOAT ||
      t.size < o.minElements ||
      (n.opType === 'Gemm' && attrInt(n, 'transA', 0) !== 0)
    )
      continue;
    const w = n.inputs[1]!;
    const lm = layerMatrix(n);
    const layout = lm ? `${lm.statsKey.split('|')[0]}|${n.opType === 'Conv' ? '' : linearKey(n)}` : n.opType;
    const key = `${w.name}|${layout}|${n.graph === model.graph ? 'main' : n.name}`;
    const u = units.get(key);
    if (u) u.nodes.push(n);
    else units.set(key, { nodes: [n], weight: w, tensor: t, ...(lm && { lm }) });
  }
  return [...units.values()];
}

const linearKey = (n: Node) => linearOf(n, 0)?.key.split('|').slice(1).join('|') ?? '';

/** Conv N:M under sparsegpt: rows reordered (kernel position, channel) so groups run over channels. */
function nmOrder(lm: LayerMatrix, nm: { m: number } | undefined): Uint32Array | undefined {
  if (!lm.conv || !nm || lm.conv.cg % nm.m !== 0) return undefined;
  const S = lm.conv.kh * lm.conv.kw;
  const cg = lm.conv.cg;
  return Uint32Array.from({ length: lm.K }, (_, r) => (r % cg) * S + Math.floor(r / cg));
}

/** rows of w [K, N] in `order` (row r of the result is row order[r]), or back when `inverse` */
function permuteRows(w: Float32Array, N: number, order: Uint32Array, inverse = false): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < order.length; r++) {
    const [to, from] = inverse ? [order[r]!, r] : [r, order[r]!];
    out.set(w.subarray(from * N, (from + 1) * N), to * N);
  }
  return out;
}

/** H of a unit (every reader's XᵀX / rows, summed; rows in `order`), factored per group. */
function factorsOf(
  u: Unit,
  stats: Map<string, InputStats>,
  percdamp: number,
  order: Uint32Array | undefined,
): SparseGptFactor[] | undefined {
  const lm = u.lm;
  if (!lm) return undefined;
  const parts = u.nodes.map((n) => stats.get(layerMatrix(n)!.statsKey)).filter((s) => s !== undefined);
  if (!parts.length) return undefined;
  const K = lm.K;
  const out: SparseGptFactor[] = [];
  for (let g = 0; g < lm.groups; g++) {
    const h = new Float64Array(K * K);
    for (const p of parts) {
      const x = p.xtx[g]!;
      for (let i = 0; i < K; i++) {
        const oi = order ? order[i]! : i;
        for (let j = 0; j < K; j++)
          h[i * K + j] = h[i * K + j]! + x[oi * K + (order ? order[j]! : j)]! / p.rows;
      }
    }
    const f = sparseGptFactor(h, K, percdamp);
    if (!f) return undefined;
    out.push(f);
  }
  return out;
}

interface Pruned {
  weights: Float32Array;
  /** relative output error ||ΔW X||² / ||W X||² when H is known */
  error?: number;
}

type Gemm = Parameters<typeof pruneSparseGpt>[3];

/** Σ_g output error / Σ_g output energy over the groups of a unit. */
async function relativeError(u: Unit, w: Float32Array[], p: Float32Array[], gemm: Gemm): Promise<number> {
  let error = 0;
  let energy = 0;
  for (let g = 0; g < w.length; g++) {
    const r = await outputError(u.factors![g]!, w[g]!, p[g]!, u.lm!.N, gemm);
    error += r.error;
    energy += r.energy;
  }
  return energy > 0 ? error / energy : 0;
}

/** Prune one unit at sparsity s (unstructured) or N:M, by its method (rules 1, 2). */
async function pruneUnit(
  u: Unit,
  s: number,
  nm: { keep: number; m: number } | undefined,
  o: Options,
  gemm: Gemm | undefined,
): Promise<Pruned> {
  const t = u.tensor;
  const w = t.toFloat32();
  const lm = u.lm;
  if (o.method === 'sparsegpt' && lm && u.factors && gemm) {
    const order = nmOrder(lm, nm);
    const mats = lm.read().map((m) => (order ? permuteRows(m, lm.N, order) : m));
    const out: Float32Array[] = [];
    // grouped convs: the tensor's floor(S · size) zeros shared out over the groups
    const total = Math.floor(s * w.length);
    for (let g = 0; g < lm.groups; g++) {
      const zeros = Math.floor((total * (g + 1)) / lm.groups) - Math.floor((total * g) / lm.groups);
      const r = await pruneSparseGpt(mats[g]!, lm.N, u.factors[g]!, gemm, {
        zeros,
        ...(nm && { nm }),
        blockSize: o.blockSize,
      });
      out.push(r.weights);
    }
    const error = await relativeError(u, mats, out, gemm);
    return { weights: lm.fromMats(out.map((m) => (order ? permuteRows(m, lm.N, order, true) : m))), error };
  }
  const p = w.slice();
  const score = scoresOf(u.nodes[0]!, t, w, o.method === 'wanda' ? u.norm : undefined);
  if (nm) pruneNM(u.nodes[0]!, t.dims, p, score, nm.keep, nm.m);
  else pruneLowest(p, score, Math.floor(s * p.length));
  if (!lm || !u.factors || !gemm) return { weights: p };
  return { weights: p, error: await relativeError(u, lm.toMats(w), lm.toMats(p), gemm) };
}

/**
 * rule 6: units in waves; a unit starts a new wave when its input depends on a unit of the current
 * wave (so each wave's statistics come from the model with every earlier wave pruned). Units
 * outside the main graph form the last wave.
 */
function waves(model: Model, units: Unit[]): Unit[][] {
  const index = new Map(model.graph.nodes.map((n, i) => [n, i]));
  const main = units
    .filter((u) => u.nodes[0]!.graph === model.graph)
    .sort(
      (a, b) =>
        Math.min(...a.nodes.map((n) => index.get(n)!)) - Math.min(...b.nodes.map((n) => index.get(n)!)),
    );
  const out: Unit[][] = [];
  let wave: Unit[] = [];
  let downstream = new Set<Value>();
  for (const u of main) {
    if (u.nodes.some((n) => downstream.has(n.inputs[0]!))) {
      out.push(wave);
      wave = [];
      downstream = new Set();
    }
    wave.push(u);
    const todo = u.nodes.flatMap((n) => n.outputs);
    while (todo.length) {
      const v = todo.pop()!;
      if (downstream.has(v)) continue;
      downstream.add(v);
      for (const use of v.uses) todo.push(...use.node.outputs);
    }
  }
  if (wave.length) out.push(wave);
  const rest = units.filter((u) => u.nodes[0]!.graph !== model.graph);
  if (rest.length) out.push(rest);
  return out;
}

/** Wanda's Σx² per input feature of every main-graph unit (summed over its readers). */
async function attachNorms(model: Model, units: Unit[], ctx: PassContext, samples: number): Promise<void> {
  const main = units.filter((u) => u.nodes[0]!.graph === model.graph);
  const names = [...new Set(main.flatMap((u) => u.nodes.map((n) => n.inputs[0]!.name)))];
  const norms = await wandaNorms(model, names, ctx, samples);
  for (const u of main) {
    const parts = u.nodes.map((n) => norms.get(n.inputs[0]!.name)).filter((v) => v !== undefined);
    if (parts.length) u.norm = Float64Array.from(parts[0]!, (_, i) => parts.reduce((a, p) => a + p[i]!, 0));
  }
}

/** rule 3: the sparsity of every unit. */
async function sparsities(
  units: Unit[],
  o: Options,
  prune: (u: Unit, s: number) => Promise<Pruned>,
): Promise<number[]> {
  if (o.scope === 'layer') return units.map(() => o.sparsity);
  if (o.allocation === 'uniform') {
    const scores = units.map((u) => {
      if (o.method === 'sparsegpt' && u.lm && u.factors) {
        const mats = u.lm.read();
        const all: number[] = [];
        mats.forEach((m, g) => {
          const U = u.factors![g]!.u;
          const K = u.lm!.K;
          const N = u.lm!.N;
          for (let i = 0; i < m.length; i++) {
            const d = U[Math.floor(i / N) * K + Math.floor(i / N)]!;
            all.push((m[i]! * m[i]!) / (d * d));
          }
        });
        return Float64Array.from(all);
      }
      return scoresOf(u.nodes[0]!, u.tensor, u.tensor.toFloat32(), o.method === 'wanda' ? u.norm : undefined);
    });
    return thresholdSparsities(scores, o.sparsity);
  }
  const curves = [];
  for (const u of units) {
    const w = u.tensor.toFloat32();
    let wsq = 0;
    for (const v of w) wsq += v * v;
    const errors: number[] = [];
    for (const s of GRID) {
      const r = await prune(u, s);
      if (r.error !== undefined) errors.push(r.error);
      else {
        let d = 0;
        for (let i = 0; i < w.length; i++) d += (w[i]! - r.weights[i]!) ** 2;
        errors.push(wsq > 0 ? d / wsq : 0);
      }
    }
    curves.push({ size: w.length, errors });
  }
  return allocateBySensitivity(curves, o.sparsity);
}

export const pruneWeights = definePass({
  id: 'prune-weights',
  summary: 'unstructured or N:M weight sparsity (magnitude, Wanda or SparseGPT; per layer or global)',
  lossless: false,
  options,
  searchSpace: {
    sparsity: [0.3, 0.5, 0.7],
    pattern: ['unstructured', '2:4'],
    method: ['magnitude', 'wanda', 'sparsegpt'],
    scope: ['layer', 'global'],
    allocation: ['uniform', 'sensitivity'],
    sequential: [true, false],
  },
  async apply(model, o, ctx) {
    const nm =
      o.pattern === 'unstructured'
        ? undefined
        : (([keep, m]) => ({ keep: keep!, m: m! }))(o.pattern.split(':').map(Number));
    if (nm && o.scope === 'global')
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--scope global splits an unstructured target; pattern ${o.pattern} fixes every layer at ${1 - nm.keep / nm.m}`,
        'use --pattern unstructured with --scope global',
      );
    if (o.allocation === 'sensitivity' && o.scope !== 'global')
      throw new EdgefitError(
        'BAD_ARGUMENT',
        '--allocation sensitivity splits a global target over layers',
        'add --scope global',
      );
    if (o.method !== 'magnitude' && (!ctx.calibration || !ctx.collect))
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `${o.method} pruning needs calibration data`,
        'pass --calib FILE',
      );
    const units = unitsOf(model, o, ctx);
    if (o.method === 'wanda') await attachNorms(model, units, ctx, o.samples);
    // H for sparsegpt, and for the sensitivity curves when there is data (else they use ||ΔW||²)
    const wantsH = o.method === 'sparsegpt' || (o.scope === 'global' && o.allocation === 'sensitivity');
    const engine = wantsH && ctx.collect && ctx.matmul ? ctx.matmul() : undefined;
    try {
      const gemm = engine ? engine.gemm.bind(engine) : undefined;
      const attach = async (batch: Unit[]) => {
        const layers = batch.flatMap((u) => (u.lm ? u.nodes.map((n) => layerMatrix(n)!) : []));
        const stats = await collectInputStats(model, layers, ctx, o.samples);
        for (const u of batch) {
          const order = u.lm && nmOrder(u.lm, nm);
          if (o.method === 'sparsegpt' && u.lm?.conv && nm && !order) continue; // rule 2: magnitude
          const f = factorsOf(u, stats, o.percdamp, order);
          if (f) u.factors = f;
          else delete u.factors;
        }
      };
      // rule 6: sparsegpt sees each layer's inputs through the layers pruned before it
      const sequential = !!engine && o.method === 'sparsegpt' && o.sequential;
      if (engine && (!sequential || o.scope === 'global')) await attach(units);
      const prune = (u: Unit, s: number) => pruneUnit(u, s, nm, o, gemm);
      const targets = new Map<Unit, number>();
      const split = nm ? units.map(() => 0) : await sparsities(units, o, prune);
      for (const [i, u] of units.entries()) targets.set(u, split[i]!);
      let zeros = 0;
      let total = 0;
      let tensors = 0;
      let errorSum = 0;
      let measured = 0;
      const blind: string[] = [];
      for (const batch of sequential ? waves(model, units) : [units]) {
        if (sequential) await attach(batch);
        for (const u of batch) {
          const s = targets.get(u)!;
          if (!nm && Math.floor(s * u.tensor.size) === 0) continue;
          const r = await prune(u, s);
          const first = u.nodes[0]!;
          const v = newFloatWeight(first.graph, `${u.weight.name}_pruned`, [...u.tensor.dims], r.weights);
          for (const n of u.nodes) n.setInput(1, v);
          for (const x of r.weights) if (x === 0) zeros++;
          total += r.weights.length;
          tensors++;
          if (r.error !== undefined) {
            errorSum += r.error;
            measured++;
          }
          if (o.method === 'sparsegpt' && !u.factors) blind.push(first.name || u.weight.name);
        }
      }
      if (blind.length)
        ctx.log.info(
          `prune-weights: sparsegpt had no calibration statistics for ${blind.join(', ')} (ConvTranspose, a subgraph, or N:M over channels not divisible by M): magnitude used there`,
        );
      if (!tensors)
        ctx.log.warn(
          nothingReason('prune-weights', weightCensus(model, o.minElements, ctx.selects), o.minElements, {
            recurrent: 'LSTM/GRU weights are not pruned',
          }),
        );
      const stats: Record<string, number> = { tensors, sparsity: total ? zeros / total : 0 };
      if (measured) stats.meanOutputError = errorSum / measured;
      return { changed: tensors > 0, stats };
    } finally {
      await engine?.release();
    }
  },
});
