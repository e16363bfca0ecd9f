// Forms from JSON Schema (a command's options as z.toJSONSchema writes them, see schemas.ts): one
// field per property — a select for an enum, a checkbox for a boolean, a number input with the
// schema's range for numbers, comma-separated text for arrays — labelled with the CLI flag and the
// option's description. read() turns the fields back into an options object: empty optional fields
// are left out, so the core applies the same defaults as the CLI.

import { h } from './dom.js';
import type { JsonSchema } from './protocol.js';

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function kindOf(s: JsonSchema): 'enum' | 'boolean' | 'number' | 'integer' | 'array' | 'string' {
  if (s.enum) return 'enum';
  const t = Array.isArray(s.type) ? s.type[0] : s.type;
  if (t === 'boolean' || t === 'number' || t === 'integer' || t === 'array') return t;
  return 'string';
}

function rangeText(s: JsonSchema): string {
  const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? `>${s.exclusiveMinimum}` : undefined);
  const hi = s.maximum ?? (s.exclusiveMaximum !== undefined ? `<${s.exclusiveMaximum}` : undefined);
  if (lo === undefined && hi === undefined) return '';
  return ` [${lo ?? '…'}, ${hi ?? '…'}]`;
}

function input(key: string, s: JsonSchema, required: boolean): HTMLElement {
  const id = `opt-${key}`;
  const kind = kindOf(s);
  if (kind === 'enum') {
    const sel = h('select', { id, name: key });
    if (s.default === undefined) sel.append(h('option', { value: '' }, required ? 'choose…' : '(default)'));
    for (const v of s.enum!)
      sel.append(h('option', { value: String(v), selected: v === s.default }, String(v)));
    return sel;
  }
  if (kind === 'boolean') return h('input', { id, name: key, type: 'checkbox', checked: s.default === true });
  if (kind === 'number' || kind === 'integer')
    return h('input', {
      id,
      name: key,
      type: 'number',
      step: kind === 'integer' ? 1 : 'any',
      min: s.minimum ?? s.exclusiveMinimum,
      max: s.maximum ?? s.exclusiveMaximum,
      value: typeof s.default === 'number' ? s.default : undefined,
      placeholder: required ? 'required' : 'default',
    });
  const value = Array.isArray(s.default)
    ? s.default.join(',')
    : typeof s.default === 'string'
      ? s.default
      : '';
  return h('input', {
    id,
    name: key,
    type: 'text',
    value,
    placeholder: kind === 'array' ? 'comma-separated' : required ? 'required' : 'default',
  });
}

/** Fill `form` with one field per option of `schema`. */
export function buildForm(form: HTMLElement, schema: JsonSchema): void {
  form.replaceChildren();
  const required = new Set(schema.required ?? []);
  for (const [key, s] of Object.entries(schema.properties ?? {})) {
    const field = input(key, s, required.has(key));
    field.dataset.kind = kindOf(s);
    if (s.items) field.dataset.items = kindOf(s.items);
    form.append(
      h(
        'label',
        { class: 'field', title: s.description ?? '' },
        h('span', { class: 'flag' }, `--${kebab(key)}${required.has(key) ? ' *' : ''}`),
        field,
        h('small', {}, `${s.description ?? ''}${rangeText(s)}`),
      ),
    );
  }
}

/** The options object of a form built by buildForm. */
export function readForm(form: HTMLElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const el of Array.from(form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[name]'))) {
    const kind = el.dataset.kind;
    if (kind === 'boolean') {
      out[el.name] = (el as HTMLInputElement).checked;
      continue;
    }
    const v = el.value.trim();
    if (v === '') continue;
    if (kind === 'number' || kind === 'integer') out[el.name] = Number(v);
    else if (kind === 'array') {
      const parts = v
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      out[el.name] =
        el.dataset.items === 'number' || el.dataset.items === 'integer' ? parts.map(Number) : parts;
    } else out[el.name] = v;
  }
  return out;
}
