// edgefit decompose MODEL -o OUT --rank-ratio R: low-rank SVD of MatMul/Gemm weights.
import type { Command } from 'commander';
import { EdgefitError } from '../../errors.js';
import { SLIM_PASSES } from '../../passes/registry.js';
import { step } from '../../pipeline/recipe.js';
import { runCommand } from '../shell.js';
import { addTransformFlags, printTransform, runTransform, type TransformFlags } from '../transform.js';

export function registerDecompose(program: Command): void {
  addTransformFlags(
    program
      .command('decompose')
      .description('low-rank factorization: MatMul/Gemm weights W[K,N] -> U[K,r] · V[r,N] (truncated SVD)')
      .argument('<model>', 'ONNX model')
      .requiredOption('--rank-ratio <r>', 'kept rank as a fraction of min(K, N), in (0, 1]')
      .option('--min-elements <n>', 'leave smaller weights alone', '4096')
      .option('--no-slim', 'skip the lossless clean-up first'),
  ).action((input: string, f: TransformFlags & { rankRatio: string; minElements: string; slim?: boolean }) =>
    runCommand(async () => {
      const ratio = Number(f.rankRatio);
      if (!(ratio > 0 && ratio <= 1))
        throw new EdgefitError(
          'BAD_ARGUMENT',
          `--rank-ratio must be in (0, 1], not "${f.rankRatio}"`,
          'for example --rank-ratio 0.5',
        );
      const steps = [
        ...(f.slim === false ? [] : SLIM_PASSES.map((id) => step(id))),
        step('decompose-svd', {
          rankRatio: ratio,
          minElements: Number(f.minElements),
          seed: Number(f.seed ?? 0),
        }),
        step('dead-code'),
        step('topological-sort'),
      ];
      const report = await runTransform(input, steps, f);
      if (report) printTransform(report, f.json);
    }),
  );
}
