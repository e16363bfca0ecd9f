// Issue 9's hostile cases through the real CLI (child processes; the cases are
// test/helpers/hostile-cases.ts, which test/hostile/cli.test.ts asserts): per case the exit code, the
// stderr line count, whether every file that was there before is unchanged (sha256), the files left
// behind, peak RSS (VmHWM of the child) and the time.
//   npx tsx bench/hostile.ts [--cli PATH/dist/cli/main.js] [--json]
// --cli runs another build, e.g. one of the commit before the fixes, to show what each case did then.
import { rmSync } from 'node:fs';
import { type CaseResult, HOSTILE_CASES, hostileRoot, runCase } from '../test/helpers/hostile-cases.js';

const args = process.argv.slice(2);
const at = args.indexOf('--cli');
const cli = at >= 0 ? args[at + 1] : undefined;
const json = args.includes('--json');

const root = hostileRoot();
const results: CaseResult[] = [];
try {
  for (const c of HOSTILE_CASES) {
    const r = await runCase(c, root, { timeoutMs: 180_000, ...(cli ? { cli } : {}) });
    results.push(r);
    if (!json) process.stderr.write(`${r.problems.length ? 'FAIL' : r.skipped ? 'skip' : 'ok  '} ${c.id}\n`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

if (json) {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} else {
  const rows = results.map((r) => [
    r.problems.length ? 'FAIL' : r.skipped ? 'skip' : 'ok',
    r.skipped ? '-' : String(r.code),
    String(r.expected),
    r.skipped ? '-' : String(r.stderrLines),
    r.skipped ? '-' : r.inputUnchanged ? 'yes' : 'NO',
    r.skipped ? '-' : r.leftBehind.length ? r.leftBehind.join(' ') : 'none',
    r.peakRssMb === undefined ? '-' : r.peakRssMb.toFixed(0),
    r.skipped ? '-' : (r.ms / 1000).toFixed(1),
    r.id,
  ]);
  const head = [
    '',
    'exit',
    'want',
    'stderr lines',
    'input unchanged',
    'left behind',
    'peak RSS MB',
    's',
    'case',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  const failed = results.filter((r) => r.problems.length);
  console.log(
    `\n${results.length} cases: ${results.length - failed.length - results.filter((r) => r.skipped).length} as required, ${failed.length} not, ${results.filter((r) => r.skipped).length} skipped`,
  );
  const short = (p: string) => (p.length > 300 ? `${p.slice(0, 300)}…` : p).replace(/\n/g, ' | ');
  for (const r of failed) console.log(`- ${r.id}: ${r.problems.map(short).join('; ')}`);
}
