// edgefit compare REF CAND [--data D]: size, latency and accuracy (or fidelity) side by side.
import { type CompareJson, compare, compareOptions, textTable } from '../../node.js';
import { spec } from '../define.js';
import { fmtDb, fmtMs, fmtPct, formatBytes } from '../format.js';

function renderCompare(r: CompareJson): string {
  const { reference: a, candidate: b, ratios } = r;
  const rows: (string | number)[][] = [
    ['file', formatBytes(a.bytes), formatBytes(b.bytes), `${ratios.bytes.toFixed(3)}x`],
    ['brotli', formatBytes(a.brotliBytes), formatBytes(b.brotliBytes), `${ratios.brotliBytes.toFixed(3)}x`],
    ['latency median', fmtMs(a.latencyMs.median), fmtMs(b.latencyMs.median), `${ratios.latency.toFixed(3)}x`],
  ];
  if (a.top1 !== undefined)
    rows.push(['top-1', fmtPct(a.top1), fmtPct(b.top1), `${(ratios.top1DropPt ?? 0).toFixed(2)} pt drop`]);
  rows.push(['agreement', '', fmtPct(b.agreement), ''], ['SQNR', '', fmtDb(b.sqnr), '']);
  return `on ${r.data} (${r.samples} samples)\n${textTable(['', 'reference', 'candidate', 'ratio'], rows)}\n`;
}

export const compareCommand = spec(
  'compare',
  'two models side by side: size, latency, accuracy or fidelity, and their ratios',
  [
    ['<reference>', 'the original model'],
    ['<candidate>', 'the transformed model'],
  ],
  compareOptions,
  ([ref, cand], o, hooks) => compare(ref!, cand!, o, hooks),
  renderCompare,
);
