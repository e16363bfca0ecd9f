// edgefit slim MODEL -o OUT: lossless clean-up to a fixed point, node counts by op type before/after.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { EdgefitError } from '../../errors.js';
import { SLIM_PASSES } from '../../passes/registry.js';
import { parseRecipe, step } from '../../pipeline/recipe.js';
import { textTable } from '../../report/text-table.js';
import { addDataFlags, calibrationData } from '../data-flags.js';
import { runCommand } from '../shell.js';
import { addTransformFlags, printTransform, runTransform, type TransformFlags } from '../transform.js';

function opTable(before: Record<string, number>, after: Record<string, number>): string {
  const ops = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort(
    (a, b) => (before[b] ?? 0) - (before[a] ?? 0) || a.localeCompare(b),
  );
  return textTable(
    ['op', 'before', 'after'],
    ops.map((op) => [op, before[op] ?? 0, after[op] ?? 0]),
  );
}

export function registerSlim(program: Command): void {
  addTransformFlags(
    program
      .command('slim')
      .description('lossless graph clean-up: fold BatchNorm and constants, drop dead and identity nodes')
      .argument('<model>', 'ONNX model'),
  ).action((input: string, flags: TransformFlags) =>
    runCommand(async () => {
      const steps = [...SLIM_PASSES.map((id) => step(id)), step('topological-sort')];
      const report = await runTransform(input, steps, flags, { fixedPoint: true });
      if (!report) return;
      printTransform(report, flags.json, `\n${opTable(report.before.opTypes, report.after.opTypes)}\n`);
    }),
  );
}

export function registerOptimize(program: Command): void {
  addDataFlags(
    addTransformFlags(
      program
        .command('optimize')
        .description('run a recipe: a JSON or YAML list of { pass, options, nodes } steps')
        .argument('<model>', 'ONNX model')
        .requiredOption('--recipe <file>', 'the recipe (JSON or YAML)')
        .option('--calib <data>', 'calibration data for data-aware passes (static int8, GPTQ, SmoothQuant)'),
    ),
  ).action((input: string, flags: TransformFlags & { recipe: string; calib?: string }) =>
    runCommand(async () => {
      let text: string;
      try {
        text = readFileSync(flags.recipe, 'utf8');
      } catch {
        throw new EdgefitError('IO', `cannot read recipe ${flags.recipe}`, 'check the path');
      }
      const steps = parseRecipe(text, flags.recipe);
      const calibration = await calibrationData(input, flags);
      const report = await runTransform(input, steps, flags, { calibration });
      if (report) printTransform(report, flags.json);
    }),
  );
}
