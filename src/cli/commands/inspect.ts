// edgefit inspect MODEL: totals and a per-layer table, heaviest first; exit 3 when --budget does not fit.
import { type InspectJson, inspect, inspectOptions, textTable } from '../../node.js';
import { modelCommand } from '../define.js';
import { formatBytes, formatCount } from '../format.js';

function dims(shape: (number | string | null)[] | null): string {
  return shape ? `[${shape.map((d) => d ?? '?').join(',')}]` : '?';
}

function budgetLines(r: InspectJson): string[] {
  if (!r.budget) return [];
  const out = [''];
  const line = (k: 'flash' | 'ram', what: string) => {
    const b = r.budget![k];
    if (b)
      out.push(
        `budget ${k}: ${what} ${formatBytes(b.needed)} of ${formatBytes(b.limit)} -> ${b.fits ? 'fits' : 'DOES NOT FIT'}`,
      );
  };
  line('flash', 'weights');
  line('ram', 'peak activations');
  return out;
}

export function renderInspect(r: InspectJson, top: number): string {
  const out: string[] = [];
  const opsets = Object.entries(r.opsets)
    .map(([d, v]) => `${d} ${v}`)
    .join(', ');
  out.push(`${r.model}  (ir ${r.irVersion}, opsets ${opsets}${r.producer ? `, ${r.producer}` : ''})`);
  for (const v of r.inputs) out.push(`  input   ${v.name}: ${v.dtype} ${dims(v.shape)}`);
  for (const v of r.outputs) out.push(`  output  ${v.name}: ${v.dtype} ${dims(v.shape)}`);
  const byDtype =
    Object.entries(r.weightBytesByDtype)
      .map(([d, b]) => `${d.toLowerCase()} ${formatBytes(b)}`)
      .join(', ') || 'none';
  out.push(
    '',
    textTable(
      ['total', 'value'],
      [
        ['params', `${formatCount(r.params)} (${r.params})`],
        ['weights', `${formatBytes(r.weightBytes)} (${byDtype})`],
        ['MACs', `${formatCount(r.macs)} (${r.macs})`],
        ['peak activations', `${formatBytes(r.peakActivationBytes)}${r.peakAt ? ` at ${r.peakAt}` : ''}`],
        ['nodes', String(r.nodes)],
        ['energy (est.)', `${r.energyUj} µJ per inference (45 nm table)`],
      ],
    ),
  );
  if (r.unknownShapes)
    out.push(
      `note: ${r.unknownShapes} layers have unknown shapes; their MACs/activations are not counted (try --shape)`,
    );
  out.push(...budgetLines(r), '');
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
  out.push(
    '',
    textTable(
      ['op', 'count'],
      Object.entries(r.opTypes).sort((a, b) => b[1] - a[1]),
    ),
  );
  return `${out.join('\n')}\n`;
}

export const inspectCommand = modelCommand(
  'inspect',
  inspectOptions,
  inspect,
  (r, o) => renderInspect(r, o.top),
  (r) => (r.fits === false ? 3 : 0),
);
