// The transform commands as recipes: each turns its validated options into the steps it runs
// (what --print-recipe shows) and the plan around them. Shells (edgefit/node, the core's byte
// functions, the CLI, the web app) share these builders, so the same options give the same bytes.

import type { Dataset } from '../data/dataset.js';
import type { Model } from '../ir/graph.js';
import { SLIM_PASSES } from '../passes/registry.js';
import { parseRecipe, type RecipeStep, recipeToJson, step } from '../pipeline/recipe.js';
import type { Host } from '../pipeline/transform.js';
import { type RecipeReport, SCHEMA_VERSION } from '../report/schema.js';
import type { TransformCommand } from './transform.js';

/** What a builder may use besides the options: the loaded model and opened data (absent for --print-recipe). */
export interface BuildContext {
  model?: Model;
  calibration?: Dataset | undefined;
  evalData?: Dataset | undefined;
  /** the text of --recipe (optimize) */
  recipeText?: string;
  recipeSource?: string;
  /** the runtime and hooks, for builders that measure (quantize's kernel report, --max-drop) */
  host?: Host;
}

export type Builder<O> = (options: O, ctx: BuildContext) => TransformCommand;

/** The lossless clean-up every technique runs first unless --no-slim. */
export function slimSteps(enabled = true): RecipeStep[] {
  return enabled ? SLIM_PASSES.map((id) => step(id)) : [];
}

/** dead-code and a topological sort end every technique recipe. */
export const tidySteps = (): RecipeStep[] => [step('dead-code'), step('topological-sort')];

export const buildSlim: Builder<unknown> = () => ({
  command: 'slim',
  plan: { steps: [...slimSteps(), step('topological-sort')], fixedPoint: true },
});

export const buildOptimize: Builder<unknown> = (_o, ctx) => ({
  command: 'optimize',
  plan: {
    steps: parseRecipe(ctx.recipeText ?? '[]', ctx.recipeSource ?? 'recipe'),
    calibration: ctx.calibration,
  },
});

export function recipeReport(command: string, steps: RecipeStep[]): RecipeReport {
  return { schemaVersion: SCHEMA_VERSION, command, recipe: recipeToJson(steps) };
}
