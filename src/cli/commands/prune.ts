// edgefit prune MODEL -o OUT --sparsity S [--pattern unstructured|2:4] [--method magnitude|wanda]
import type { Command } from 'commander';
import { EdgefitError } from '../../errors.js';
import { SLIM_PASSES } from '../../passes/registry.js';
import { step } from '../../pipeline/recipe.js';
import { addDataFlags, calibrationData, positiveInt } from '../data-flags.js';
import { runCommand } from '../shell.js';
import { addTransformFlags, printTransform, runTransform, type TransformFlags } from '../transform.js';

const PATTERNS = ['unstructured', '2:4', '4:8', '1:4'];

export function registerPrune(program: Command): void {
  addDataFlags(
    addTransformFlags(
      program
        .command('prune')
        .description('sparsify weights: unstructured or N:M (2:4) zeros, by magnitude or Wanda scores')
        .argument('<model>', 'ONNX model')
        .requiredOption('--sparsity <s>', 'fraction of weights set to zero (unstructured), in [0, 0.99]')
        .option(
          '--pattern <p>',
          `${PATTERNS.join(' | ')} | channel (channel removes whole channels: shapes shrink, inference gets faster)`,
          'unstructured',
        )
        .option('--method <m>', 'magnitude | wanda (wanda needs --calib)', 'magnitude')
        .option('--calib <data>', 'calibration data for --method wanda')
        .option('--min-elements <n>', 'leave smaller weights alone', '1024')
        .option('--samples <n>', 'calibration samples for --method wanda', '128')
        .option(
          '--round-to <n>',
          'channel: round kept channel counts up to a multiple of N (16 makes ONNX Runtime CPU convolutions much faster)',
          '1',
        )
        .option('--no-slim', 'skip the lossless clean-up first'),
    ),
  ).action(
    (
      input: string,
      f: TransformFlags & {
        sparsity: string;
        pattern: string;
        method: string;
        calib?: string;
        minElements: string;
        samples: string;
        roundTo: string;
        slim?: boolean;
      },
    ) =>
      runCommand(async () => {
        const sparsity = Number(f.sparsity);
        if (!(sparsity >= 0 && sparsity <= 0.99))
          throw new EdgefitError(
            'BAD_ARGUMENT',
            `--sparsity must be in [0, 0.99], not "${f.sparsity}"`,
            'for example --sparsity 0.5',
          );
        const channel = f.pattern === 'channel';
        if (!channel && !PATTERNS.includes(f.pattern))
          throw new EdgefitError(
            'BAD_ARGUMENT',
            `--pattern must be one of ${PATTERNS.join(', ')}, channel, not "${f.pattern}"`,
          );
        // channel pruning ranks channels by filter L1 norm (--method l1, the default for it)
        if (channel && f.method !== 'magnitude' && f.method !== 'l1')
          throw new EdgefitError(
            'BAD_ARGUMENT',
            `--pattern channel ranks channels by l1 norm; --method ${f.method} does not apply`,
            'use --method l1',
          );
        if (!channel && f.method !== 'magnitude' && f.method !== 'wanda')
          throw new EdgefitError(
            f.method === 'sparsegpt' || f.method === 'l1' ? 'UNSUPPORTED' : 'BAD_ARGUMENT',
            `--method ${f.method} is not available`,
            'use magnitude or wanda',
          );
        if (f.method === 'wanda' && !f.calib && !f.printRecipe)
          throw new EdgefitError(
            'BAD_ARGUMENT',
            '--method wanda needs calibration data',
            'pass --calib FILE',
          );
        const steps = [
          ...(f.slim === false ? [] : SLIM_PASSES.map((id) => step(id))),
          channel
            ? step('prune-channels', {
                sparsity: Math.min(sparsity, 0.95),
                roundTo: positiveInt(f.roundTo, '--round-to'),
              })
            : step('prune-weights', {
                sparsity,
                pattern: f.pattern,
                method: f.method,
                minElements: Number(f.minElements),
                samples: positiveInt(f.samples, '--samples'),
              }),
          step('dead-code'),
          step('topological-sort'),
        ];
        const calibration = await calibrationData(input, f);
        const report = await runTransform(input, steps, f, { calibration });
        if (report) printTransform(report, f.json);
      }),
  );
}
