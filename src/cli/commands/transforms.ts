// The transform commands: slim (lossless clean-up to a fixed point), optimize (a recipe), quantize,
// prune, cluster, decompose. Each is its library function plus the readable summary.
import {
  cluster,
  clusterOptions,
  decompose,
  decomposeOptions,
  optimize,
  optimizeOptions,
  prune,
  pruneOptions,
  quantize,
  quantizeOptions,
  type RecipeReport,
  slim,
  slimOptions,
  type TransformReport,
  textTable,
} from '../../node.js';
import { type CommandSpec, modelCommand } from '../define.js';
import { isRecipe, renderTransform } from '../render-transform.js';

type Result = TransformReport | RecipeReport;

function opTable(before: Record<string, number>, after: Record<string, number>): string {
  const ops = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort(
    (a, b) => (before[b] ?? 0) - (before[a] ?? 0) || a.localeCompare(b),
  );
  return textTable(
    ['op', 'before', 'after'],
    ops.map((op) => [op, before[op] ?? 0, after[op] ?? 0]),
  );
}

function speedText(r: TransformReport): string {
  const kernels = r.kernels as Record<string, number> | undefined;
  if (!kernels) return '';
  const list = Object.entries(kernels)
    .map(([n, c]) => `${n} ${c}`)
    .join(', ');
  const integer = (r.integerNodes as string[] | undefined)?.length ?? 0;
  const float = (r.floatNodes as string[] | undefined)?.length ?? 0;
  return `  kernels ${list}\n  integer nodes ${integer}, float compute nodes ${float}, speed-up ${(r.speedup as number).toFixed(2)}x (batch 1, 1 thread)\n`;
}

interface Mixed {
  metric: string;
  float: number;
  fullInt8: number;
  result: number;
  floatLayers: { name: string; op: string; dropPt: number }[];
}

function mixedText(r: TransformReport): string {
  const m = r.mixedPrecision as Mixed | undefined;
  if (!m) return '';
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const kept = m.floatLayers.map(
    (l) => `  kept float: ${l.name} (${l.op}), costs ${l.dropPt.toFixed(2)} pt alone\n`,
  );
  return `  ${m.metric}: float ${pct(m.float)}, full int8 ${pct(m.fullInt8)}, result ${pct(m.result)}\n${kept.join('')}`;
}

const plain = (r: Result) => renderTransform(r);

const renderSlim = (r: Result) =>
  renderTransform(r, isRecipe(r) ? '' : `\n${opTable(r.before.opTypes, r.after.opTypes)}\n`);
const renderQuantize = (r: Result) =>
  isRecipe(r) ? renderTransform(r) : renderTransform(r, speedText(r) + mixedText(r));

export const TRANSFORM_COMMANDS: CommandSpec<never, unknown>[] = [
  modelCommand('slim', slimOptions, slim, renderSlim),
  modelCommand('optimize', optimizeOptions, optimize, plain),
  modelCommand('quantize', quantizeOptions, quantize, renderQuantize),
  modelCommand('prune', pruneOptions, prune, plain),
  modelCommand('cluster', clusterOptions, cluster, plain),
  modelCommand('decompose', decomposeOptions, decompose, plain),
];
