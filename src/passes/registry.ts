// Every pass by id. Recipes, the CLI and the web app look passes up here.
import { deadCode } from './cleanup/dead-code.js';
import { dedupeInitializers } from './cleanup/dedupe-initializers.js';
import { foldBatchNorm } from './cleanup/fold-batchnorm.js';
import { foldConstants } from './cleanup/fold-constants.js';
import { fuseMatMulAdd } from './cleanup/fuse-matmul-add.js';
import { inferShapesPass } from './cleanup/infer-shapes.js';
import { liftConstants } from './cleanup/lift-constants.js';
import { removeIdentity } from './cleanup/remove-identity.js';
import { topologicalSortPass } from './cleanup/topological-sort.js';
import { clusterWeights } from './cluster/cluster-weights.js';
import { decomposeSvd } from './lowrank/decompose-svd.js';
import type { Pass } from './pass.js';
import { pruneChannels } from './prune/prune-channels.js';
import { pruneWeights } from './prune/prune-weights.js';
import { crossLayerEqualization } from './quantize/cross-layer-equalization.js';
import { quantizeDynamicInt8 } from './quantize/quantize-dynamic-int8.js';
import { quantizeFp16 } from './quantize/quantize-fp16.js';
import { quantizeStaticInt8 } from './quantize/quantize-static-int8.js';
import { quantizeWeightInt4 } from './quantize/quantize-weight-int4.js';
import { quantizeWeightInt8 } from './quantize/quantize-weight-int8.js';
import { smoothQuant } from './quantize/smooth-quant.js';
import { encodeSparse } from './sparse/encode-sparse.js';

export const PASSES: readonly Pass[] = [
  inferShapesPass,
  liftConstants,
  foldConstants,
  removeIdentity,
  foldBatchNorm,
  fuseMatMulAdd,
  dedupeInitializers,
  deadCode,
  topologicalSortPass,
  crossLayerEqualization,
  smoothQuant,
  quantizeStaticInt8,
  quantizeDynamicInt8,
  quantizeFp16,
  quantizeWeightInt8,
  quantizeWeightInt4,
  clusterWeights,
  decomposeSvd,
  pruneWeights,
  pruneChannels,
  encodeSparse,
] as Pass[];

export function findPass(id: string): Pass | undefined {
  return PASSES.find((p) => p.id === id);
}

/** The lossless slimming sequence `edgefit slim` runs to a fixed point, then sorts. */
export const SLIM_PASSES = [
  'infer-shapes',
  'lift-constants',
  'fold-constants',
  'remove-identity',
  'fold-batchnorm',
  'fuse-matmul-add',
  'dedupe-initializers',
  'dead-code',
] as const;
