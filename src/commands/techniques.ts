// prune, cluster and decompose: each command's options (picked from its passes' schemas, so a flag
// and a recipe key share one name, default and range) and the recipe it runs.

import { z } from 'zod';
import { EdgefitError } from '../errors.js';
import { clusterWeights } from '../passes/cluster/cluster-weights.js';
import { decomposeSvd } from '../passes/lowrank/decompose-svd.js';
import { pruneChannels } from '../passes/prune/prune-channels.js';
import { pruneWeights } from '../passes/prune/prune-weights.js';
import { step } from '../pipeline/recipe.js';
import { dataShape, finetuneShape, slimFlag, transformShape } from './options.js';
import type { TransformCommand } from './transform.js';
import { type BuildContext, slimSteps, tidySteps } from './transforms.js';

const P = pruneWeights.options.shape;
const PC = pruneChannels.options.shape;
const WEIGHT_PATTERNS = P.pattern.unwrap().options;

export const pruneOptions = z
  .object({
    ...transformShape,
    sparsity: P.sparsity
      .unwrap()
      .optional()
      .describe(
        'fraction of weights set to zero (of all pruned weights with --scope global); with --pattern channel, the fraction of channels removed per group (required unless --macs or an N:M pattern)',
      ),
    pattern: z
      .enum([...WEIGHT_PATTERNS, 'channel'])
      .default('unstructured')
      .describe(
        'unstructured, N:M (2:4), or channel (removes whole channels: shapes shrink, inference gets faster)',
      ),
    method: z
      .enum([...P.method.unwrap().options, 'l1'])
      .default('magnitude')
      .describe(
        'weights: magnitude | wanda | sparsegpt (both need --calib); channels: l1 forces filter L1 + |bias| ranking (else the calibration output error when --calib is given)',
      ),
    calib: z
      .string()
      .optional()
      .describe(
        'calibration data: wanda and sparsegpt statistics, the sensitivity split, and data-aware channel ranking and reconstruction',
      ),
    scope: P.scope,
    allocation: P.allocation,
    minElements: P.minElements,
    samples: P.samples,
    roundTo: PC.roundTo,
    macs: PC.macs,
    compensate: PC.compensate,
    slim: slimFlag,
    ...dataShape,
    ...finetuneShape,
  })
  .describe(
    'sparsify weights (unstructured or N:M zeros, by magnitude, Wanda or SparseGPT) or remove whole channels (compensating the next layers)',
  );

export type PruneOptions = z.input<typeof pruneOptions>;

export function buildPrune(o: z.output<typeof pruneOptions>, ctx: BuildContext): TransformCommand {
  const channel = o.pattern === 'channel';
  const sparsity =
    o.sparsity ??
    (channel ? (o.macs !== undefined ? 0 : undefined) : o.pattern === 'unstructured' ? undefined : 0.5);
  if (sparsity === undefined)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      '--sparsity is required (for example --sparsity 0.5)',
      'pass --sparsity S, or --pattern channel --macs R',
    );
  if (channel && (o.method === 'wanda' || o.method === 'sparsegpt'))
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `--pattern channel ranks channels by l1 norm or calibration output error; --method ${o.method} does not apply`,
      'use --method l1, or --calib for data-aware ranking',
    );
  if (!channel && o.method === 'l1')
    throw new EdgefitError('BAD_ARGUMENT', '--method l1 ranks channels', 'use it with --pattern channel');
  if (channel && (o.scope === 'global' || o.allocation === 'sensitivity'))
    throw new EdgefitError(
      'BAD_ARGUMENT',
      '--scope and --allocation split a weight sparsity over layers; channel pruning takes a model-wide target as --macs',
      'use --macs R with --pattern channel',
    );
  if (!channel && o.pattern !== 'unstructured' && o.scope === 'global')
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `--scope global splits an unstructured target; --pattern ${o.pattern} fixes every layer's sparsity`,
      'use --pattern unstructured with --scope global',
    );
  if (!channel && o.allocation === 'sensitivity' && o.scope !== 'global')
    throw new EdgefitError(
      'BAD_ARGUMENT',
      '--allocation sensitivity splits a global target over layers',
      'add --scope global',
    );
  if (!channel && o.macs !== undefined)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      '--macs is a channel-pruning target',
      'use it with --pattern channel',
    );
  if ((o.method === 'wanda' || o.method === 'sparsegpt') && ctx.model && !ctx.calibration)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `--method ${o.method} needs calibration data`,
      'pass --calib FILE',
    );
  const technique = channel
    ? step('prune-channels', {
        sparsity: Math.min(sparsity, 0.95),
        roundTo: o.roundTo,
        ...(o.macs !== undefined && { macs: o.macs }),
        compensate: o.compensate,
        importance: o.method === 'l1' ? 'l1' : 'auto',
        samples: o.samples,
      })
    : step('prune-weights', {
        sparsity,
        pattern: o.pattern,
        method: o.method,
        scope: o.scope,
        allocation: o.allocation,
        minElements: o.minElements,
        samples: o.samples,
      });
  return {
    command: 'prune',
    plan: { steps: [...slimSteps(o.slim), technique, ...tidySteps()], calibration: ctx.calibration },
  };
}

const C = clusterWeights.options.shape;

export const clusterOptions = z
  .object({
    ...transformShape,
    clusters: C.clusters.unwrap().describe('centroids per codebook (2 to 256)'),
    granularity: C.granularity,
    groupSize: C.groupSize,
    init: C.init,
    weighting: C.weighting,
    compensate: C.compensate,
    percdamp: C.percdamp,
    refit: C.refit,
    keepZeros: C.keepZeros,
    calib: z.string().optional().describe('calibration data for --weighting hessian and --compensate'),
    samples: C.samples,
    storage: C.storage,
    pack: C.pack,
    minElements: C.minElements,
    slim: slimFlag,
    ...dataShape,
    ...finetuneShape,
  })
  .describe(
    'weight clustering: K shared values per weight tensor, channel or group, stored as a codebook plus packed indices',
  );

export type ClusterOptions = z.input<typeof clusterOptions>;

export function buildCluster(o: z.output<typeof clusterOptions>, ctx: BuildContext): TransformCommand {
  const flag = o.compensate ? '--compensate' : '--weighting hessian';
  if ((o.compensate || o.weighting === 'hessian') && ctx.model && !ctx.calibration)
    throw new EdgefitError('BAD_ARGUMENT', `${flag} needs calibration data`, 'pass --calib FILE');
  const technique = step('cluster-weights', {
    clusters: o.clusters,
    granularity: o.granularity,
    groupSize: o.groupSize,
    init: o.init,
    weighting: o.weighting,
    compensate: o.compensate,
    percdamp: o.percdamp,
    refit: o.refit,
    keepZeros: o.keepZeros,
    samples: o.samples,
    storage: o.storage,
    pack: o.pack,
    minElements: o.minElements,
  });
  return {
    command: 'cluster',
    plan: { steps: [...slimSteps(o.slim), technique, ...tidySteps()], calibration: ctx.calibration },
  };
}

const D = decomposeSvd.options.shape;

export const decomposeOptions = z
  .object({
    ...transformShape,
    rankRatio: D.rankRatio
      .unwrap()
      .optional()
      .describe(
        'kept rank as a fraction of the largest, in (0, 1] (or --energy, --target-macs, --target-params)',
      ),
    energy: D.energy,
    targetMacs: D.targetMacs,
    targetParams: D.targetParams,
    method: D.method
      .unwrap()
      .optional()
      .describe('svd (plain) or whitened (activation-aware, needs --calib); default whitened with --calib'),
    conv: D.conv,
    hooi: D.hooi,
    samples: D.samples,
    damp: D.damp,
    solver: D.solver,
    calib: z
      .string()
      .optional()
      .describe('calibration data: --method whitened, and per-layer sensitivity for a budget'),
    minElements: D.minElements,
    slim: slimFlag,
    ...dataShape,
    ...finetuneShape,
  })
  .describe(
    'low-rank factorization: MatMul/Gemm weights W[K,N] -> U[K,r] · V[r,N] (truncated or whitened SVD), Conv by Tucker-2 or spatial SVD',
  );

export type DecomposeOptions = z.input<typeof decomposeOptions>;

export function buildDecompose(o: z.output<typeof decomposeOptions>, ctx: BuildContext): TransformCommand {
  const method = o.method ?? (ctx.calibration ? 'whitened' : 'svd');
  if (method === 'whitened' && ctx.model && !ctx.calibration)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      '--method whitened needs calibration data',
      'pass --calib FILE, or use --method svd',
    );
  if ([o.rankRatio, o.energy, o.targetMacs, o.targetParams].every((v) => v === undefined))
    throw new EdgefitError(
      'BAD_ARGUMENT',
      'decompose needs the ranks: --rank-ratio, --energy, --target-macs or --target-params',
      'for example --rank-ratio 0.5, or --target-macs 0.6',
    );
  const options = {
    ...(o.rankRatio !== undefined ? { rankRatio: o.rankRatio } : {}),
    method,
    conv: o.conv,
    hooi: o.hooi,
    samples: o.samples,
    damp: o.damp,
    solver: o.solver,
    minElements: o.minElements,
    seed: o.seed,
    ...(o.energy !== undefined ? { energy: o.energy } : {}),
    ...(o.targetMacs !== undefined ? { targetMacs: o.targetMacs } : {}),
    ...(o.targetParams !== undefined ? { targetParams: o.targetParams } : {}),
  };
  return {
    command: 'decompose',
    plan: {
      steps: [...slimSteps(o.slim), step('decompose-svd', options), ...tidySteps()],
      calibration: ctx.calibration,
    },
  };
}
