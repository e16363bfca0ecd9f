// What every command shares: turning errors into one line and an exit code, and printing JSON.

import { isEdgefitError } from '../node.js';

/** Run a command body; user errors become `edgefit: error: ...` and exit code 2, bugs exit 1 with a stack. */
export async function runCommand(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (e) {
    process.exitCode = reportError(e);
  }
}

export function reportError(e: unknown): number {
  if (isEdgefitError(e)) {
    process.stderr.write(`edgefit: error: ${oneLine(e.message)}\n`);
    return 2;
  }
  if (
    e instanceof RangeError &&
    /Array buffer allocation|Invalid typed array length|Invalid array length/.test(e.message)
  ) {
    process.stderr.write(
      `edgefit: error: the input needs more memory than is available (${oneLine(e.message)})\n`,
    );
    return 2;
  }
  process.stderr.write(
    `edgefit: internal error (a bug; please report it with this trace)\n${e instanceof Error ? e.stack : String(e)}\n`,
  );
  return 1;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

export function printJson(value: unknown): void {
  process.stdout.write(
    `${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v === Infinity ? 'Infinity' : v), 2)}\n`,
  );
}
