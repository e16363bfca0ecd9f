// The forms' source: each command's option schema from the core (zod, the same objects the CLI builds
// its flags from, whose pass fields are picked from the pass schemas) as JSON Schema, without the
// fields that name files or only make sense in a terminal (the page supplies data and downloads).

import { z } from 'zod';
import {
  clusterOptions,
  decomposeOptions,
  finetuneOptions,
  pruneOptions,
  quantizeOptions,
  searchOptions,
  slimOptions,
} from '../../src/index.js';
import type { CommandName, JsonSchema } from './protocol.js';

/** Options the page fills itself (data, calibration) or that have no meaning without a terminal. */
export const HIDDEN = new Set([
  'output',
  'force',
  'externalData',
  'printRecipe',
  'json',
  'calib',
  'data',
  'labels',
  'scale',
  'mean',
  'std',
  'size',
  'layout',
  'limit',
  'cache',
  'report',
  'workers',
  'val',
  'valLabels',
  'teacher',
  'threads',
]);

/**
 * --finetune on the transforms trains on data the page does not hand those forms (the finetune
 * command has its own); the page always runs onnxruntime-web
 */
const TRANSFORM_HIDDEN = new Set([
  'finetune',
  'train',
  'trainLabels',
  'epochs',
  'steps',
  'lr',
  'batchSize',
  'loss',
  'runtime',
]);

const hidden = (command: CommandName, key: string) =>
  HIDDEN.has(key) || (command !== 'finetune' && TRANSFORM_HIDDEN.has(key)) || key === 'runtime';

const SCHEMAS: Record<CommandName, z.ZodObject> = {
  quantize: quantizeOptions,
  prune: pruneOptions,
  cluster: clusterOptions,
  decompose: decomposeOptions,
  slim: slimOptions,
  search: searchOptions,
  finetune: finetuneOptions,
};

export function commandSchemas(): Record<CommandName, { schema: JsonSchema; summary: string }> {
  const out = {} as Record<CommandName, { schema: JsonSchema; summary: string }>;
  for (const [name, s] of Object.entries(SCHEMAS) as [CommandName, z.ZodObject][]) {
    const json = z.toJSONSchema(s, { io: 'input' }) as JsonSchema;
    const properties = Object.fromEntries(
      Object.entries(json.properties ?? {}).filter(([k]) => !hidden(name, k)),
    );
    out[name] = {
      schema: { ...json, properties, required: (json.required ?? []).filter((k) => !hidden(name, k)) },
      summary: s.description ?? name,
    };
  }
  return out;
}
