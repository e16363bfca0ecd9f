// edgefit eval MODEL --data D [--reference REF]
import { type EvalJson, evalOptions, evaluate, textTable } from '../../node.js';
import { modelCommand } from '../define.js';
import { fmtDb, fmtPct } from '../format.js';

function renderEval(r: EvalJson): string {
  const rows: (string | number)[][] = [['samples', r.samples]];
  if (r.top1 !== undefined) rows.push(['top-1', fmtPct(r.top1)], ['top-5', fmtPct(r.top5)]);
  for (const [name, f] of Object.entries(r.fidelity ?? {}))
    rows.push(
      [`${name}: agreement`, fmtPct(f.agreement)],
      [`${name}: cosine`, f.cosine.toFixed(6)],
      [`${name}: SQNR`, fmtDb(f.sqnr)],
      [`${name}: max abs error`, f.maxAbsError.toExponential(3)],
    );
  return `${r.model} on ${r.data}\n${textTable(['metric', 'value'], rows)}\n`;
}

export const evalCommand = modelCommand('eval', evalOptions, evaluate, renderEval);
