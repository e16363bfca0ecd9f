// What every command shares: turning errors into one line and an exit code, printing JSON or text,
// and parsing the common flag formats (--shape, sizes like 2MB).

import { EdgefitError, isEdgefitError } from '../errors.js';

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

/** `--shape input=1,3,224,224` (repeatable) -> { input: [1,3,224,224] } */
export function parseShapes(specs: string[] | undefined): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const spec of specs ?? []) {
    const m = /^([^=]+)=(\d+(?:,\d+)*)$/.exec(spec.trim());
    if (!m)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--shape ${spec} is not NAME=D1,D2,...`,
        'for example --shape input=1,3,224,224',
      );
    out[m[1]!] = m[2]!.split(',').map(Number);
  }
  return out;
}

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1024,
  KIB: 1024,
  MB: 1024 ** 2,
  MIB: 1024 ** 2,
  GB: 1024 ** 3,
  GIB: 1024 ** 3,
};

/** "2MB" -> 2097152 (binary units; K/M/G and KiB/MiB/GiB accepted) */
export function parseSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?I?B?)$/i.exec(text.trim());
  const unit = m ? (m[2]!.toUpperCase() || 'B').replace(/^([KMG])$/, '$1B') : '';
  if (!m || UNITS[unit] === undefined)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `${flag}: "${text}" is not a size`,
      'write it like 512KB, 2MB or 1.5GB',
    );
  return Math.round(Number(m[1]) * UNITS[unit]!);
}

/** "flash=2MB,ram=512KB" */
export function parseBudget(text: string): { flash?: number; ram?: number } {
  const out: { flash?: number; ram?: number } = {};
  for (const part of text.split(',')) {
    const [k, v] = part.split('=');
    if ((k !== 'flash' && k !== 'ram') || !v)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--budget: "${part}" is not flash=SIZE or ram=SIZE`,
        'for example --budget flash=2MB,ram=512KB',
      );
    out[k] = parseSize(v, `--budget ${k}`);
  }
  return out;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatCount(n: number): string {
  if (n < 1e3) return String(n);
  if (n < 1e6) return `${(n / 1e3).toFixed(1)}K`;
  if (n < 1e9) return `${(n / 1e6).toFixed(2)}M`;
  return `${(n / 1e9).toFixed(2)}G`;
}
