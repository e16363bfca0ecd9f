// edgefit passes [--json]: every pass with its summary, whether it is lossless, its options (JSON
// Schema) and the values a search tries. Recipe errors point here.
import { z } from 'zod';
import { allowedText, fieldsOf, jsonOption, PASSES, SCHEMA_VERSION, textTable } from '../../node.js';
import { spec } from '../define.js';

export interface PassesJson {
  schemaVersion: number;
  passes: { id: string; summary: string; lossless: boolean; options: unknown; searchSpace: unknown }[];
}

const passesOptions = z.object({ json: jsonOption });

function listPasses(): PassesJson {
  return {
    schemaVersion: SCHEMA_VERSION,
    passes: PASSES.map((p) => ({
      id: p.id,
      summary: p.summary,
      lossless: p.lossless,
      options: z.toJSONSchema(p.options, { io: 'input' }),
      searchSpace: p.searchSpace ?? {},
    })),
  };
}

function renderPasses(): string {
  const blocks = PASSES.map((p) => {
    const opts = fieldsOf(p.options).map((f) => [
      `  ${f.key}`,
      f.kind === 'number' || f.kind === 'enum' ? allowedText(f) : f.kind,
      f.defaultValue === undefined ? '' : JSON.stringify(f.defaultValue),
      f.description,
    ]);
    const head = `${p.id}${p.lossless ? ' (lossless)' : ''}: ${p.summary}`;
    return opts.length ? `${head}\n${textTable(['option', 'allowed', 'default', ''], opts)}` : head;
  });
  return `${blocks.join('\n\n')}\n`;
}

export const passesCommand = spec(
  'passes',
  'every pass with its summary and options (what recipe steps may use)',
  [],
  passesOptions,
  async () => listPasses(),
  () => renderPasses(),
);
