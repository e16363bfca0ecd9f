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
import { weightClustering } from './cluster/weight-clustering.js';
import { svdDecompose } from './lowrank/svd-decompose.js';
import type { Pass } from './pass.js';
import { channelPrune } from './prune/channel-prune.js';
import { sparsify } from './prune/sparsify.js';
import { crossLayerEqualization } from './quantize/cross-layer-equalization.js';
import { dynamicInt8Pass } from './quantize/dynamic-int8.js';
import { fp16Pass } from './quantize/fp16.js';
import { smoothQuant } from './quantize/smooth-quant.js';
import { staticInt8Pass } from './quantize/static-int8.js';
import { weightInt4Pass, weightInt8Pass } from './quantize/weight-only.js';

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
  staticInt8Pass,
  dynamicInt8Pass,
  fp16Pass,
  weightInt8Pass,
  weightInt4Pass,
  weightClustering,
  svdDecompose,
  sparsify,
  channelPrune,
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
