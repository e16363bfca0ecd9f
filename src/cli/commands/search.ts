// edgefit search MODEL --data D --max-drop P -o OUT [--objective size|latency|macs|energy]
import { type SearchReport, search, searchOptions, textTable } from '../../node.js';
import { modelCommand } from '../define.js';
import { formatBytes } from '../format.js';

function objectiveText(r: SearchReport, m: SearchReport['baseline']): string {
  if (r.objective === 'size') return formatBytes(m.brotliBytes);
  if (r.objective === 'latency') return `${(m.latencyMs ?? 0).toFixed(3)} ms`;
  if (r.objective === 'macs') return String(m.macs);
  return `${m.energyUj} µJ`;
}

function renderSearch(r: SearchReport): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const ratio = (m: SearchReport['baseline']) => (r.baseline.brotliBytes / m.brotliBytes).toFixed(1);
  const rows = r.front.map((c) => [
    c.id === r.chosen.id ? `* ${c.id}` : c.id,
    objectiveText(r, c.metrics),
    `${ratio(c.metrics)}x`,
    pct(c.metrics.accuracy),
    c.metrics.dropPt.toFixed(2),
    c.label.length > 70 ? `${c.label.slice(0, 67)}...` : c.label,
  ]);
  const head = `${r.model} -> ${r.output ?? '(not written)'}\n  baseline ${objectiveText(r, r.baseline)}, ${r.metric} ${pct(r.baseline.accuracy)}`;
  const chosen = `  chosen ${r.chosen.id}: ${objectiveText(r, r.chosen.metrics)} (${ratio(r.chosen.metrics)}x brotli), ${r.metric} ${pct(r.chosen.metrics.accuracy)} (-${r.chosen.metrics.dropPt.toFixed(2)} pt${r.chosen.met ? '' : ', over budget'})\n  ${r.chosen.label}`;
  const evals = `  ${r.evaluations.total} candidates measured (${r.evaluations.cached} from cache) in ${r.evaluations.seconds} s; front ${r.front.length} points`;
  const table = textTable(['', r.objective, 'brotli x', r.metric, 'drop pt', 'recipe'], rows);
  return `${head}\n${chosen}\n${evals}\n\n${table}\n`;
}

export const searchCommand = modelCommand('search', searchOptions, search, renderSearch);
