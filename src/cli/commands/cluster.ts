// edgefit cluster MODEL -o OUT --clusters K: k-means weight clustering (codebook + indices).
import type { Command } from 'commander';
import { SLIM_PASSES } from '../../passes/registry.js';
import { step } from '../../pipeline/recipe.js';
import { positiveInt } from '../data-flags.js';
import { runCommand } from '../shell.js';
import { addTransformFlags, printTransform, runTransform, type TransformFlags } from '../transform.js';

export function registerCluster(program: Command): void {
  addTransformFlags(
    program
      .command('cluster')
      .description(
        'weight clustering: K shared values per weight tensor, stored as a codebook plus uint8 indices',
      )
      .argument('<model>', 'ONNX model')
      .requiredOption('--clusters <k>', 'centroids per weight tensor (2-256)')
      .option(
        '--storage <s>',
        'codebook (uint8 indices + codebook, expanded by ORT at load) | dense (centroid values in place)',
        'codebook',
      )
      .option('--min-elements <n>', 'leave smaller weight tensors alone', '1024')
      .option('--no-slim', 'skip the lossless clean-up first'),
  ).action(
    (
      input: string,
      f: TransformFlags & { clusters: string; storage: string; minElements: string; slim?: boolean },
    ) =>
      runCommand(async () => {
        const steps = [
          ...(f.slim === false ? [] : SLIM_PASSES.map((id) => step(id))),
          step('cluster-weights', {
            clusters: positiveInt(f.clusters, '--clusters'),
            storage: f.storage,
            minElements: Number(f.minElements),
          }),
          step('dead-code'),
          step('topological-sort'),
        ];
        const report = await runTransform(input, steps, f);
        if (report) printTransform(report, f.json);
      }),
  );
}
