// Every command on every real-model corpus entry (test/corpus/real-models.json): prints one line per
// case (outcome, sizes, errors, warnings) and the counts issue 9 quotes: cases run / passed.
//   npx tsx bench/real-models.ts [ID...] [--command NAME]... [--json FILE]
import { writeFileSync } from 'node:fs';
import { modelPath, realModels } from '../test/corpus/real-models.js';
import { type CaseResult, COMMANDS, passed, runMatrix } from '../test/corpus/real-models-matrix.js';

const args = process.argv.slice(2);
const commandNames = args.flatMap((a, i) => (args[i - 1] === '--command' ? [a] : []));
const jsonFile = args.flatMap((a, i) => (args[i - 1] === '--json' ? [a] : []))[0];
const ids = args.filter(
  (a, i) => !a.startsWith('--') && !['--command', '--json'].includes(args[i - 1] ?? ''),
);
const entries = realModels().filter((m) => !ids.length || ids.includes(m.id));
const commands = COMMANDS.filter((c) => !commandNames.length || commandNames.includes(c.name));

const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
let downloaded = 0;
for (const e of entries) {
  modelPath(e);
  downloaded += e.bytes;
}
console.log(
  `${entries.length} models (${(downloaded / 2 ** 20).toFixed(1)} MB of .onnx) x ${commands.length} commands`,
);
const t0 = performance.now();
const line = (r: CaseResult) => {
  const size = r.weightBytes ? ` weights ${kb(r.weightBytes.before)} -> ${kb(r.weightBytes.after)}` : '';
  const err = r.maxRelError ? ` err ${r.maxRelError.map((x) => x.toExponential(1)).join('/')}` : '';
  const why = r.error ? ` | ${r.error}` : '';
  const problems = r.problems.length ? ` | PROBLEM: ${r.problems.join('; ')}` : '';
  const warn = r.warnings.length ? ` | warn: ${r.warnings.join(' / ')}` : '';
  console.log(
    `${passed(r) ? 'pass' : 'FAIL'} ${r.model.padEnd(24)} ${r.command.padEnd(21)} ${r.outcome.padEnd(8)} ${(r.ms / 1000).toFixed(1).padStart(5)}s${size}${err}${why}${problems}${warn}`.slice(
      0,
      1200,
    ),
  );
};
const results = await runMatrix(entries, commands, line);
const ok = results.filter(passed).length;
const by = (o: string) => results.filter((r) => r.outcome === o).length;
console.log(
  `\ncorpus cases run ${results.length}, passed ${ok}, failed ${results.length - ok} (changed ${by('changed')}, warned ${by('warned')}, declined ${by('declined')}) in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
