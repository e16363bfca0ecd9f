// The pass contract. A pass is a small self-describing unit: a stable kebab-case id, a one-line
// summary, an options schema (zod: defaults, validation, JSON Schema for forms and help), the values
// a search should try, and apply(model, options, context) -> what changed. Passes edit the IR in
// place; the manager verifies, times and (for lossless passes) guards every step.
// Passes import ir/, onnx/, kernels/, analysis/ and errors.ts; what runs models (collecting
// activations, big matrix products through ONNX Runtime) reaches them through the context.

import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import type { Graph, Model, Node } from '../ir/graph.js';
import type { MatMul } from '../kernels/matmul.js';
import type { Rng } from '../kernels/random.js';
import type { Collect } from '../runtime/collect.js';
import type { Runtime } from '../runtime/types.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** Progress of long steps (calibration, GPTQ, searches); the CLI draws it on a terminal. */
export interface ProgressTask {
  /** `note`: a short running figure drawn beside the bar (fine-tuning's loss) */
  update(done: number, note?: string): void;
  done(): void;
}

export interface ProgressSink {
  start(label: string, total: number): ProgressTask;
}

export interface PassContext {
  log: Logger;
  rng: Rng;
  /** ONNX Runtime, for passes that evaluate subgraphs or need data */
  runtime?: Runtime | undefined;
  /** calibration data for data-aware passes */
  calibration?: Dataset | undefined;
  /**
   * Runs a model over the calibration data with the named values exposed, handing them over batch by
   * batch (runtime/collect.ts); present when both `runtime` and `calibration` are.
   */
  collect?: Collect | undefined;
  /** A new engine for big float32 products (ONNX Runtime Gemm sessions): release() it when done. */
  matmul?: (() => MatMul) | undefined;
  /** where long steps report progress (calibration collection reports through `collect` already) */
  progress?: ProgressSink | undefined;
  /** whether the recipe step's node selector lets this pass touch `node` */
  selects(node: Node): boolean;
}

export type PassStats = Record<string, number>;

export interface PassResult {
  changed: boolean;
  stats: PassStats;
}

export interface Pass<S extends z.ZodObject = z.ZodObject> {
  id: string;
  summary: string;
  /** lossless passes must not change outputs (the guard rolls them back if they do) */
  lossless: boolean;
  options: S;
  /**
   * How the pass meets weights an earlier step encoded (passes/encoding.ts); lossy passes only:
   * 'expose' (default): codebooks are plain weights while it runs, re-encoded after; 'keep': it
   * leaves codebook weights alone and the manager says so; 'native': it handles them itself.
   * Already quantized weights are never handed to a lossy pass (the manager says so).
   */
  encodings?: 'expose' | 'keep' | 'native';
  /** values a search should try, per option */
  searchSpace?: { [K in keyof z.infer<S>]?: z.infer<S>[K][] };
  apply(model: Model, options: z.infer<S>, context: PassContext): PassResult | Promise<PassResult>;
}

export function definePass<S extends z.ZodObject>(pass: Pass<S>): Pass<S> {
  return pass;
}

/** For passes without options. */
export const noOptions = z.object({}).strict();

export function result(changes: PassStats): PassResult {
  return { changed: Object.values(changes).some((v) => v > 0), stats: changes };
}

/**
 * A lossless pass without options that rewrites nodes one at a time: `rewrite` sees every node the
 * step selects, in every graph (each graph's node list as it was when the graph was reached), and
 * returns the stat the change counts under, or undefined for no change; `total` adds their sum.
 */
export function defineNodeRewrite(p: {
  id: string;
  summary: string;
  rewrite(node: Node, graph: Graph): string | undefined;
  total?: string;
}): Pass {
  return definePass({
    id: p.id,
    summary: p.summary,
    lossless: true,
    options: noOptions,
    apply(model, _options, ctx) {
      const counts: Record<string, number> = {};
      for (const graph of model.graph.allGraphs())
        for (const node of [...graph.nodes]) {
          if (!ctx.selects(node)) continue;
          const k = p.rewrite(node, graph);
          if (k) counts[k] = (counts[k] ?? 0) + 1;
        }
      const sum = Object.values(counts).reduce((a, b) => a + b, 0);
      return result(p.total ? { [p.total]: sum, ...counts } : counts);
    },
  });
}
