// CLI flags generated from a command's option schema (src/commands/options.ts): one flag per key,
// its help text, default and allowed range from the schema. Values arrive as strings; each is parsed
// by its field's kind (strictly: "0x10", "1e9" for an integer, "" are errors), then the whole object
// is validated by the schema, so every bad value is one line naming the flag, the range and a fix.

import { type Command, Option } from 'commander';
import type { z } from 'zod';
import { allowedText, EdgefitError, exampleValue, type FieldInfo, fieldsOf } from '../node.js';

const SHORT: Record<string, string> = { output: '-o' };

function helpText(f: FieldInfo): string {
  const range = f.kind === 'number' ? ` (${allowedText(f)})` : '';
  const def =
    f.defaultValue !== undefined &&
    f.kind !== 'boolean' &&
    !(Array.isArray(f.defaultValue) && !f.defaultValue.length)
      ? ` [default: ${Array.isArray(f.defaultValue) ? f.defaultValue.join(',') : f.defaultValue}]`
      : '';
  const rep = f.kind === 'strings' && !/repeatable/.test(f.description) ? ' (repeatable)' : '';
  return `${f.description}${range}${rep}${def}`;
}

function placeholder(f: FieldInfo): string {
  if (f.kind === 'enum') return `<${f.values!.join('|')}>`;
  if (f.kind === 'number') return f.integer ? '<n>' : '<x>';
  if (f.kind === 'numbers') return '<x,...>';
  return `<${f.key === 'output' ? 'path' : 'value'}>`;
}

/** Add one commander option per schema key. */
export function addSchemaFlags(cmd: Command, schema: z.ZodObject, positional: string[] = []): Command {
  for (const f of fieldsOf(schema)) {
    if (positional.includes(f.key)) continue;
    const long = f.flag;
    const short = SHORT[f.key] ? `${SHORT[f.key]}, ` : '';
    if (f.kind === 'boolean') {
      const off = f.defaultValue === true;
      const text = off ? `turn off: ${f.description} (on by default)` : helpText(f);
      cmd.addOption(new Option(`${short}${off ? `--no-${long.slice(2)}` : long}`, text));
      continue;
    }
    const opt = new Option(`${short}${long} ${placeholder(f)}`, helpText(f));
    if (f.kind === 'strings') opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    cmd.addOption(opt);
  }
  return cmd;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function bad(f: FieldInfo, text: string): never {
  throw new EdgefitError(
    'BAD_ARGUMENT',
    `${f.flag} must be ${allowedText(f)}, not ${JSON.stringify(text)}`,
    `for example ${f.flag} ${exampleValue(f)}`,
  );
}

function parseNumber(f: FieldInfo, text: string): number {
  if (!NUMBER.test(text.trim())) bad(f, text);
  const n = Number(text);
  if (f.integer && !Number.isSafeInteger(n)) bad(f, text);
  return n;
}

/** Commander's string values → typed option values for the schema (unset flags are left out). */
export function typedFlags(schema: z.ZodObject, raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fieldsOf(schema)) {
    const v = raw[f.key];
    if (v === undefined) continue;
    if (f.kind === 'number') out[f.key] = parseNumber(f, String(v));
    else if (f.kind === 'numbers')
      out[f.key] = String(v)
        .split(',')
        .map((part) => parseNumber(f, part));
    else out[f.key] = v;
  }
  return out;
}
