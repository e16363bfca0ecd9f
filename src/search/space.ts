// What the search may change: per layer, one structural technique (low-rank factors for MatMul/Gemm,
// a codebook, unstructured pruning, each at a few settings), and one model-wide quantization step.
// A point of the space is a Choice; `recipeOf` turns it into recipe steps, in the order that composes
// (slim first; factor, prune or cluster per layer — data-aware with calibration data; then quantize;
// sparse storage; tidy).
//
// Layers are the MatMul/Gemm/Conv nodes of the slimmed model whose weight is a constant with at
// least `minElements` values; node names are stable because the recipe slims first, deterministically.

import type { Model, Node } from '../ir/graph.js';
import { SLIM_PASSES } from '../passes/registry.js';
import { constantOf } from '../passes/util.js';
import { type RecipeStep, step } from '../pipeline/recipe.js';

export type Family = 'lowrank' | 'prune' | 'cluster';

export interface LayerInfo {
  name: string;
  op: string;
  /** weight elements */
  params: number;
  /** the techniques this layer takes, with the settings to try, least aggressive first */
  settings: { family: Family; value: number }[];
}

export type QuantChoice =
  | 'none'
  | 'weight-int8'
  | 'weight-int4'
  | 'weight-int4-b64'
  | 'weight-int4-b128'
  | 'static-int8'
  /** every layer not clustered on its own gets a K=16 codebook (its factors too), then static int8 */
  | 'codebook-int8';

/** A point of the space: a setting per layer (undefined = untouched) and the quantization step. */
export interface Choice {
  layers: Record<string, { family: Family; value: number } | undefined>;
  quant: QuantChoice;
}

export const SETTINGS: Record<Family, number[]> = {
  /** kept rank as a fraction of min(K, N) */
  lowrank: [0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.12, 0.1, 0.08, 0.06, 0.04],
  /** fraction of weights set to zero */
  prune: [0.3, 0.5, 0.6, 0.7, 0.8, 0.9],
  /** centroids per weight tensor */
  cluster: [64, 32, 16, 8, 4],
};

function weightOf(n: Node): number | undefined {
  const idx = n.opType === 'Conv' || n.opType === 'Gemm' || n.opType === 'MatMul' ? 1 : -1;
  const v = idx >= 0 ? n.inputs[idx] : undefined;
  const t = v ? constantOf(v) : undefined;
  if (!t || t.dims.length < 2) return undefined;
  return t.size;
}

export function layersOf(model: Model, minElements = 1024): LayerInfo[] {
  const out: LayerInfo[] = [];
  for (const n of model.graph.nodes) {
    const params = weightOf(n);
    if (params === undefined || params < minElements || !n.name) continue;
    const linear = n.opType !== 'Conv';
    const settings = [
      ...(linear ? SETTINGS.lowrank.map((value) => ({ family: 'lowrank' as const, value })) : []),
      ...SETTINGS.cluster.map((value) => ({ family: 'cluster' as const, value })),
      ...SETTINGS.prune.map((value) => ({ family: 'prune' as const, value })),
    ];
    out.push({ name: n.name, op: n.opType, params, settings });
  }
  return out;
}

export function settingLabel(s: { family: Family; value: number }): string {
  return s.family === 'lowrank'
    ? `rank ${s.value}`
    : s.family === 'prune'
      ? `prune ${s.value}`
      : `K=${s.value}`;
}

export function choiceLabel(c: Choice): string {
  const parts = Object.entries(c.layers)
    .filter(([, s]) => s)
    .map(([name, s]) => `${name.replace(/^\/+/, '')} ${settingLabel(s!)}`);
  if (c.quant !== 'none') parts.push(c.quant);
  return parts.length ? parts.join(' + ') : 'float (slim only)';
}

/** The recipe that makes a choice from the input model. */
export function recipeOf(c: Choice, options: { calibration: boolean; layers?: string[] }): RecipeStep[] {
  const allLayers = options.layers ?? Object.keys(c.layers);
  const steps: RecipeStep[] = SLIM_PASSES.map((id) => step(id));
  const layer = (family: Family) =>
    Object.entries(c.layers).filter(
      (e): e is [string, { family: Family; value: number }] => e[1]?.family === family,
    );
  // with calibration data, the data-aware form of each (issue 10): whitened SVD, SparseGPT, codebooks
  // with GPTQ-style error compensation
  const aware = options.calibration;
  for (const [name, s] of layer('lowrank'))
    steps.push(
      step('decompose-svd', { rankRatio: s.value, minElements: 0, ...(aware && { method: 'whitened' }) }, [
        name,
      ]),
    );
  for (const [name, s] of layer('prune'))
    steps.push(
      step('prune-weights', { sparsity: s.value, minElements: 0, ...(aware && { method: 'sparsegpt' }) }, [
        name,
      ]),
    );
  for (const [name, s] of layer('cluster'))
    steps.push(
      step('cluster-weights', { clusters: s.value, minElements: 0, ...(aware && { compensate: true }) }, [
        name,
      ]),
    );
  // every weight quantized, the small last layers too (at fp32 a 100x10 head is 4 KB of a 30 KB model)
  const wq = { ...(options.calibration ? { algorithm: 'gptq' } : {}), minElements: 0 };
  if (c.quant === 'weight-int8') steps.push(step('quantize-weight-int8', wq));
  if (c.quant === 'weight-int4') steps.push(step('quantize-weight-int4', wq));
  // larger blocks: fewer scales (4.25 or 4.125 bits per weight instead of 4.5)
  if (c.quant === 'weight-int4-b64') steps.push(step('quantize-weight-int4', { ...wq, blockSize: 64 }));
  if (c.quant === 'weight-int4-b128') steps.push(step('quantize-weight-int4', { ...wq, blockSize: 128 }));
  if (c.quant === 'codebook-int8') {
    const own = new Set(layer('cluster').map(([name]) => name));
    const rest = allLayers.filter((name) => !own.has(name)).map((name) => `${name}*`);
    if (rest.length)
      steps.push(
        step('cluster-weights', { clusters: 16, minElements: 0, ...(aware && { compensate: true }) }, rest),
      );
  }
  if (c.quant === 'static-int8' || c.quant === 'codebook-int8') steps.push(step('quantize-static-int8'));
  // mostly-zero weights and codebook indices stored sparse (lossless, smaller raw and brotli)
  steps.push(step('encode-sparse'), step('dead-code'), step('topological-sort'));
  return steps;
}

export function quantChoices(objective: string, calibration: boolean): QuantChoice[] {
  if (objective === 'latency') return calibration ? ['none', 'static-int8'] : ['none'];
  return calibration
    ? ['none', 'weight-int8', 'weight-int4', 'static-int8', 'codebook-int8']
    : ['none', 'weight-int8', 'weight-int4'];
}
