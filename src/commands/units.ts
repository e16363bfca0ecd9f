// Sizes and device budgets as users write them: "512KB", "2MB", "flash=2MB,ram=512KB" (binary
// units; K/M/G and KiB/MiB/GiB accepted).

import { EdgefitError } from '../errors.js';

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1024,
  KIB: 1024,
  MB: 1024 ** 2,
  MIB: 1024 ** 2,
  GB: 1024 ** 3,
  GIB: 1024 ** 3,
};

/** "2MB" -> 2097152 */
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
