// edgefit inspect MODEL: totals and a per-layer table, heaviest first.
import type { Command } from 'commander';
import { assertValid } from '../../ir/verify.js';
import { loadModel } from '../../node/model-io.js';
import { type InspectReport, inspectWithRuntime } from '../../pipeline/inspect.js';
import { textTable } from '../../report/text-table.js';
import { nodeRuntime } from '../../runtime/node.js';
import { positiveInt } from '../data-flags.js';
import { formatBytes, formatCount, parseBudget, parseShapes, printJson, runCommand } from '../shell.js';

function dims(shape: (number | string | null)[] | null): string {
  return shape ? `[${shape.map((d) => d ?? '?').join(',')}]` : '?';
}

export function renderInspect(path: string, r: InspectReport, top: number): string {
  const out: string[] = [];
  out.push(
    `${path}  (ir ${r.irVersion}, opsets ${Object.entries(r.opsets)
      .map(([d, v]) => `${d} ${v}`)
      .join(', ')}${r.producer ? `, ${r.producer}` : ''})`,
  );
  for (const v of r.inputs) out.push(`  input   ${v.name}: ${v.dtype} ${dims(v.shape)}`);
  for (const v of r.outputs) out.push(`  output  ${v.name}: ${v.dtype} ${dims(v.shape)}`);
  out.push('');
  out.push(
    textTable(
      ['total', 'value'],
      [
        ['params', `${formatCount(r.params)} (${r.params})`],
        [
          'weights',
          `${formatBytes(r.weightBytes)} (${
            Object.entries(r.weightBytesByDtype)
              .map(([d, b]) => `${d.toLowerCase()} ${formatBytes(b)}`)
              .join(', ') || 'none'
          })`,
        ],
        ['MACs', `${formatCount(r.macs)} (${r.macs})`],
        ['peak activations', `${formatBytes(r.peakActivationBytes)}${r.peakAt ? ` at ${r.peakAt}` : ''}`],
        ['nodes', String(r.nodes)],
      ],
    ),
  );
  if (r.unknownShapes)
    out.push(
      `note: ${r.unknownShapes} layers have unknown shapes; their MACs/activations are not counted (try --shape)`,
    );
  if (r.budget) {
    const line = (k: 'flash' | 'ram', what: string) => {
      const b = r.budget![k];
      if (b)
        out.push(
          `budget ${k}: ${what} ${formatBytes(b.needed)} of ${formatBytes(b.limit)} -> ${b.fits ? 'fits' : 'DOES NOT FIT'}`,
        );
    };
    out.push('');
    line('flash', 'weights');
    line('ram', 'peak activations');
  }
  out.push('');
  const rows = r.layers
    .slice(0, top)
    .map((l) => [
      l.name,
      l.op,
      l.params,
      formatBytes(l.weightBytes),
      formatCount(l.macs),
      formatBytes(l.activationBytes),
      dims(l.outputShapes[0] ?? null),
    ]);
  out.push(textTable(['layer', 'op', 'params', 'weights', 'MACs', 'activations', 'output'], rows));
  if (r.layers.length > top)
    out.push(`... ${r.layers.length - top} more layers (--top N, or --json for all)`);
  out.push('');
  out.push(
    textTable(
      ['op', 'count'],
      Object.entries(r.opTypes).sort((a, b) => b[1] - a[1]),
    ),
  );
  return `${out.join('\n')}\n`;
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('what the model costs: params, weight bytes by dtype, MACs, activation memory, per layer')
    .argument('<model>', 'ONNX model')
    .option('--shape <name=dims...>', 'fix dynamic input dims (repeatable); other symbolic dims count as 1')
    .option('--budget <spec>', 'device budget to check, e.g. flash=2MB,ram=512KB')
    .option('--top <n>', 'layers shown in the table', '25')
    .option('--json', 'print one JSON object')
    .action((path: string, o: { shape?: string[]; budget?: string; top?: string; json?: boolean }) =>
      runCommand(async () => {
        const shapes = parseShapes(o.shape);
        const budget = o.budget ? parseBudget(o.budget) : undefined;
        const model = loadModel(path);
        assertValid(model);
        const report = await inspectWithRuntime(model, nodeRuntime, { shapes, budget });
        if (o.json) printJson({ model: path, ...report });
        else process.stdout.write(renderInspect(path, report, positiveInt(o.top, '--top') ?? 25));
      }),
    );
}
