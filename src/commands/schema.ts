// Option schemas and their validation: one zod object per command whose keys are the CLI flags in
// camelCase (`--max-drop` → `maxDrop`). The same schema types the library functions (z.input), checks
// their options, generates the CLI's flags and help, and describes the web form (JSON Schema).
//
// Rules:
//  1. A field's kind decides its flag: boolean → `--flag` (`--no-flag` when it defaults to true),
//     number → `--flag <n>`, enum → `--flag <a|b>`, string → `--flag <value>`, list of strings →
//     repeatable `--flag <value>`, list of numbers → one comma-separated value.
//  2. Every failed check is one EdgefitError naming the flag, what is allowed and a fix; a field's
//     allowed range is read from its own checks (min/max, integer, enum values).

import type { z } from 'zod';
import { EdgefitError } from '../errors.js';

export type FieldKind = 'boolean' | 'number' | 'enum' | 'string' | 'strings' | 'numbers' | 'other';

export interface FieldInfo {
  key: string;
  flag: string;
  kind: FieldKind;
  description: string;
  defaultValue: unknown;
  required: boolean;
  integer: boolean;
  min?: { value: number; inclusive: boolean };
  max?: { value: number; inclusive: boolean };
  values?: readonly string[];
}

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

interface ZodDefLike {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  defaultValue?: unknown;
  checks?: { _zod: { def: { check: string; value?: number; inclusive?: boolean; format?: string } } }[];
  entries?: Record<string, string>;
}

const defOf = (t: z.ZodType) => (t as unknown as { def: ZodDefLike }).def;

/** Peel default/optional wrappers: the base type, its default, whether it may be left out. */
function unwrap(field: z.ZodType): {
  base: z.ZodType;
  description: string;
  defaultValue: unknown;
  required: boolean;
} {
  let t = field;
  let description = field.description ?? '';
  let defaultValue: unknown;
  let required = true;
  for (;;) {
    const d = defOf(t);
    if (d.type === 'default') {
      defaultValue = typeof d.defaultValue === 'function' ? undefined : d.defaultValue;
      required = false;
    } else if (d.type === 'optional') required = false;
    else if (d.type !== 'nullable') break;
    t = d.innerType!;
    description ||= t.description ?? '';
  }
  return { base: t, description, defaultValue, required };
}

export function fieldInfo(key: string, field: z.ZodType): FieldInfo {
  const { base, description, defaultValue, required } = unwrap(field);
  const d = defOf(base);
  const info: FieldInfo = {
    key,
    flag: `--${kebab(key)}`,
    kind: 'other',
    description,
    defaultValue,
    required,
    integer: false,
  };
  if (d.type === 'boolean') info.kind = 'boolean';
  else if (d.type === 'string') info.kind = 'string';
  else if (d.type === 'enum') {
    info.kind = 'enum';
    info.values = Object.values(d.entries ?? {});
  } else if (d.type === 'number') {
    info.kind = 'number';
    for (const c of d.checks ?? []) {
      const cd = c._zod.def;
      if (cd.check === 'number_format' && /int/.test(cd.format ?? '')) info.integer = true;
      if (cd.check === 'greater_than') info.min = { value: cd.value!, inclusive: cd.inclusive !== false };
      if (cd.check === 'less_than') info.max = { value: cd.value!, inclusive: cd.inclusive !== false };
    }
    if (info.max && info.max.value >= Number.MAX_SAFE_INTEGER) delete info.max;
  } else if (d.type === 'array') {
    const el = unwrap(d.element!).base;
    info.kind = defOf(el).type === 'number' ? 'numbers' : 'strings';
  }
  return info;
}

export function fieldsOf(schema: z.ZodObject): FieldInfo[] {
  return Object.entries(schema.shape).map(([k, f]) => fieldInfo(k, f as z.ZodType));
}

/** "an integer from 2 to 256", "a number > 0 and <= 1", "one of a, b" */
export function allowedText(f: FieldInfo): string {
  if (f.kind === 'enum') return `one of ${f.values!.join(', ')}`;
  if (f.kind === 'boolean') return 'true or false';
  if (f.kind === 'strings') return 'a list of strings';
  if (f.kind === 'numbers') return 'a comma-separated list of numbers';
  if (f.kind !== 'number') return 'a string';
  const what = f.integer ? 'an integer' : 'a number';
  const { min, max } = f;
  if (min?.inclusive && max?.inclusive) return `${what} from ${min.value} to ${max.value}`;
  const parts = [
    min ? `${min.inclusive ? '>=' : '>'} ${min.value}` : '',
    max ? `${max.inclusive ? '<=' : '<'} ${max.value}` : '',
  ].filter(Boolean);
  return parts.length ? `${what} ${parts.join(' and ')}` : what;
}

/** A valid example value for a field, for the fix part of an error. */
export function exampleValue(f: FieldInfo): string {
  if (f.defaultValue !== undefined && !Array.isArray(f.defaultValue)) return String(f.defaultValue);
  if (f.kind === 'enum') return f.values![0]!;
  if (f.kind === 'number') {
    const lo = f.min ? f.min.value + (f.min.inclusive ? 0 : f.integer ? 1 : 0.5) : 1;
    return String(f.max ? Math.min(lo, f.max.value) : lo);
  }
  return 'VALUE';
}

function issueText(issue: z.core.$ZodIssue, f: FieldInfo | undefined, value: unknown): string {
  const got = value === undefined ? '' : `, not ${JSON.stringify(value)}`;
  if (!f) return issue.message;
  if (issue.code === 'custom') return `${issue.message}${got}`;
  if (issue.code === 'invalid_type' && value === undefined) return 'is required';
  return `must be ${allowedText(f)}${got}`;
}

/**
 * Validate options against a command's schema. Unknown keys and failed checks become one
 * BAD_ARGUMENT line naming the flag, what is allowed and an example.
 */
export function parseOptions<S extends z.ZodObject>(schema: S, input: unknown, command: string): z.output<S> {
  const r = schema.strict().safeParse(input ?? {});
  if (r.success) return r.data as z.output<S>;
  // a bad value the user gave says more than a flag they have not given yet
  const given = (i: z.core.$ZodIssue) =>
    i.code === 'unrecognized_keys' ||
    (input as Record<string, unknown> | undefined)?.[String(i.path[0])] !== undefined;
  const issue = r.error.issues.find(given) ?? r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `${command}: unknown option ${key} (--${kebab(key)})`,
      `known options: ${Object.keys(schema.shape).join(', ')}`,
    );
  }
  const key = String(issue.path[0] ?? '');
  const field = schema.shape[key] as z.ZodType | undefined;
  const f = field ? fieldInfo(key, field) : undefined;
  const value = (input as Record<string, unknown> | undefined)?.[key];
  throw new EdgefitError(
    'BAD_ARGUMENT',
    `${f?.flag ?? key} ${issueText(issue, f, value)}`,
    f ? `for example ${f.flag}${f.kind === 'boolean' ? '' : ` ${exampleValue(f)}`}` : 'see --help',
  );
}
