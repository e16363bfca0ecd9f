// Evaluations on both cores: a pool of worker threads (node/search-worker.ts), each with its own
// ONNX Runtime session and a copy of the data, behind the search's Evaluator interface. The cache
// stays in the main thread, keyed exactly like LocalEvaluator's, so pool and local runs share it.
// Latency searches keep one evaluator: two measurements at once would slow each other.

import { Worker } from 'node:worker_threads';
import { EdgefitError } from '../errors.js';
import type { RecipeStep } from '../pipeline/recipe.js';
import { recipeToJson } from '../pipeline/recipe.js';
import {
  contentHash,
  type EvalCache,
  type Evaluator,
  evaluationKey,
  type Measured,
} from '../search/evaluator.js';
import type { WorkerSetup } from './search-worker.js';

type Reply = { id: number; metrics?: Measured['metrics']; error?: string; ready?: boolean };

export class PoolEvaluator implements Evaluator {
  private readonly workers: Worker[] = [];
  private readonly ready: Promise<void>[] = [];
  private readonly pending = new Map<number, (r: Reply) => void>();
  private next = 0;
  private readonly modelHash: string;

  constructor(
    readonly id: string,
    setup: WorkerSetup,
    private readonly cache: EvalCache,
    size = 2,
  ) {
    this.modelHash = contentHash([setup.modelBytes]);
    // the built package runs its .js; sources (tests, benches) load the .ts through tsx's loader
    const ts = import.meta.url.endsWith('.ts');
    const url = new URL(`./search-worker${ts ? '.ts' : '.js'}`, import.meta.url);
    const boot = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url.href)}); })`;
    for (let i = 0; i < size; i++) {
      const w = ts
        ? new Worker(boot, { eval: true, workerData: setup })
        : new Worker(url, { workerData: setup });
      this.ready.push(
        new Promise((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
      );
      w.on('message', (r: Reply) => {
        if (r.ready) return;
        this.pending.get(r.id)?.(r);
        this.pending.delete(r.id);
      });
      this.workers.push(w);
    }
  }

  private run(worker: Worker, recipe: RecipeStep[]): Promise<Measured['metrics']> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) =>
        r.metrics ? resolve(r.metrics) : reject(new EdgefitError('BAD_DATA', r.error ?? 'evaluation failed')),
      );
      worker.postMessage({ id, recipe: JSON.stringify(recipeToJson(recipe)) });
    });
  }

  async evaluate(recipes: RecipeStep[][]): Promise<Measured[]> {
    await Promise.all(this.ready);
    const out: Measured[] = new Array(recipes.length);
    const todo: number[] = [];
    for (let i = 0; i < recipes.length; i++) {
      const hit = await this.cache.get(evaluationKey(this.modelHash, recipes[i]!, this.id));
      if (hit) out[i] = { metrics: JSON.parse(hit) as Measured['metrics'], cached: true };
      else todo.push(i);
    }
    // each worker takes the next recipe when it is free
    let cursor = 0;
    await Promise.all(
      this.workers.map(async (w) => {
        while (cursor < todo.length) {
          const i = todo[cursor++]!;
          const metrics = await this.run(w, recipes[i]!);
          await this.cache.set(evaluationKey(this.modelHash, recipes[i]!, this.id), JSON.stringify(metrics));
          out[i] = { metrics, cached: false };
        }
      }),
    );
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
