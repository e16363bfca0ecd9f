// The readable summary every transform prints: sizes before → after, and what each pass changed.

import { stringify } from 'yaml';
import type { RecipeReport, TransformReport } from '../node.js';

export function isRecipe(r: TransformReport | RecipeReport): r is RecipeReport {
  return 'recipe' in r;
}

export function renderTransform(report: TransformReport | RecipeReport, extraText = ''): string {
  if (isRecipe(report)) return stringify(report.recipe);
  const { before: b, after: a } = report;
  const lines = [
    `${report.input} -> ${report.output}`,
    `  file    ${b.bytes} -> ${a.bytes} bytes (${((100 * a.bytes) / b.bytes).toFixed(1)}%)`,
    `  brotli  ${b.brotliBytes} -> ${a.brotliBytes} bytes`,
    `  params  ${b.params} -> ${a.params}`,
    `  nodes   ${b.nodes} -> ${a.nodes}`,
  ];
  for (const p of report.passes)
    if (p.changed || p.rolledBack)
      lines.push(
        `  ${p.name}: ${
          p.rolledBack
            ? 'rolled back'
            : Object.entries(p.stats)
                .filter(([, v]) => v)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')
        }`,
      );
  return `${lines.join('\n')}\n${extraText}`;
}
