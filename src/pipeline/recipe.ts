// Recipes: a list of { pass, options, nodes } steps, as JSON or YAML. `nodes` selects which nodes a
// step may touch: op types (e.g. "Conv") and name globs (e.g. "/encoder/*"), one or a list. Every
// error names the line and the field: "recipe.yaml line 8: passes.1.options.sparsity: expected number".

import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { EdgefitError } from '../errors.js';
import type { Pass } from '../passes/pass.js';
import { findPass, PASSES } from '../passes/registry.js';
import { nodeMatcher } from '../passes/util.js';

export interface RecipeStep {
  pass: Pass;
  options: Record<string, unknown>;
  /** node selector patterns; undefined = every node */
  nodes?: string[] | undefined;
}

export interface RecipeStepJson {
  pass: string;
  options?: Record<string, unknown>;
  nodes?: string[];
}

const stepSchema = z
  .object({
    pass: z.string(),
    options: z.record(z.string(), z.unknown()).optional(),
    nodes: z.union([z.string(), z.array(z.string())]).optional(),
  })
  .strict();

const recipeSchema = z.array(stepSchema);

/** A node matches when its op type equals a pattern or its name matches a pattern as a glob. */
export const nodeSelector = nodeMatcher;

interface Located {
  line(path: (string | number)[]): number | undefined;
}

/** A recipe needs few YAML aliases; a small cap stops alias bombs early (yaml's default is 100). */
const MAX_ALIASES = 32;

function locate(text: string, source: string): { data: unknown; where: Located } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line;
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new EdgefitError('BAD_ARGUMENT', `${source} line ${line}: ${what}`, 'fix the YAML/JSON syntax');
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    // yaml throws a ReferenceError when aliases expand past the count (a "billion laughs" bomb)
    if (e instanceof ReferenceError && /alias/i.test(e.message))
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `${source}: its YAML aliases expand too much (more than ${MAX_ALIASES} alias uses)`,
        'write the recipe out without anchors and aliases (*name)',
      );
    throw e;
  }
  return {
    data,
    where: {
      line(path) {
        let node: unknown = doc.contents;
        let found: unknown = node;
        for (const key of path) {
          if (isSeq(node)) node = node.items[Number(key)];
          else if (isMap(node))
            node =
              node.items.find((p) => (p.key as { value?: unknown })?.value === key)?.value ??
              node.items.find((p) => (p.key as { value?: unknown })?.value === key)?.key;
          else break;
          if (node) found = node;
        }
        const range = (found as { range?: [number, number, number] } | undefined)?.range;
        return range ? lineCounter.linePos(range[0]).line : undefined;
      },
    },
  };
}

function fail(source: string, line: number | undefined, field: string, message: string, fix: string): never {
  throw new EdgefitError(
    'BAD_ARGUMENT',
    `${source}${line ? ` line ${line}` : ''}: ${field}: ${message}`,
    fix,
  );
}

/** Parse and validate a recipe (JSON is YAML, so one parser serves both). */
export function parseRecipe(text: string, source = 'recipe'): RecipeStep[] {
  const { data, where } = locate(text, source);
  // a recipe is a list of steps, or { passes: [...] }
  const wrapped = data !== null && typeof data === 'object' && !Array.isArray(data) && 'passes' in data;
  const prefix: (string | number)[] = wrapped ? ['passes'] : [];
  const parsed = recipeSchema.safeParse(wrapped ? (data as { passes: unknown }).passes : data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = [...prefix, ...(issue.path as (string | number)[])];
    fail(
      source,
      where.line(path),
      path.join('.') || '(top level)',
      issue.message,
      'a recipe is a list of { pass, options, nodes } steps',
    );
  }
  const steps = parsed.data;
  return steps.map((s, i) => {
    const at = [...prefix, i];
    const pass = findPass(s.pass);
    if (!pass)
      fail(
        source,
        where.line([...at, 'pass']),
        [...at, 'pass'].join('.'),
        `unknown pass "${s.pass}"`,
        `known passes (edgefit passes lists them): ${PASSES.map((p) => p.id).join(', ')}`,
      );
    const opts = pass.options.safeParse(s.options ?? {});
    if (!opts.success) {
      const issue = opts.error.issues[0]!;
      const path = [...at, 'options', ...(issue.path as (string | number)[])];
      fail(
        source,
        where.line(path),
        path.join('.'),
        issue.message,
        `see the options of ${pass.id}: edgefit passes`,
      );
    }
    const nodes = s.nodes === undefined ? undefined : Array.isArray(s.nodes) ? s.nodes : [s.nodes];
    return { pass, options: opts.data as Record<string, unknown>, nodes };
  });
}

/** The recipe as plain JSON (what --print-recipe shows). */
export function recipeToJson(steps: RecipeStep[]): RecipeStepJson[] {
  return steps.map((s) => ({
    pass: s.pass.id,
    ...(Object.keys(s.options).length ? { options: s.options } : {}),
    ...(s.nodes ? { nodes: s.nodes } : {}),
  }));
}

/** Build steps from code (the CLI's single-technique commands do this). */
export function step(id: string, options: Record<string, unknown> = {}, nodes?: string[]): RecipeStep {
  const pass = findPass(id);
  if (!pass) throw new Error(`no pass ${id}`);
  return { pass, options: pass.options.parse(options) as Record<string, unknown>, nodes };
}
