// The options of every command, as zod objects keyed by flag name in camelCase. These are the
// library's option types (z.input) and the CLI's flags (src/cli/flags.ts builds them from here).
// Pass-specific options are picked from the pass schemas themselves, so a recipe and a flag share one
// name, one default and one range.

import { z } from 'zod';

const DATA_FILE = 'data: .npz, .npy, IDX file or image folder';

export const seedOption = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1)
  .default(0)
  .describe('seed for every random choice: the same input, options and seed give the same bytes');

export const shapeOption = z
  .array(z.string())
  .default([])
  .describe(
    'fix dynamic input dims: NAME=D1,D2,... for an input, or SYMBOL=N for a symbolic dim by name (e.g. batch=8); repeatable',
  );

export const inputOption = z
  .array(z.string())
  .default([])
  .describe(
    'set a scalar or constant model input: NAME=VALUE (e.g. sr=16000) for the guard and synthetic data; repeatable',
  );

export const jsonOption = z.boolean().default(false).describe('print one JSON object');

/** Preprocessing and selection flags of every command that reads data (docs/CLI.md "Data"). */
export const dataShape = {
  labels: z.string().optional().describe('labels for .npy or IDX data (.npy or IDX file)'),
  scale: z
    .number()
    .gt(0)
    .optional()
    .describe('multiply pixels by this before mean/std (IDX, images; images default 1/255)'),
  mean: z
    .array(z.number())
    .optional()
    .describe('per-channel mean subtracted after scaling, e.g. 0.2860 or 0.485,0.456,0.406'),
  std: z.array(z.number().gt(0)).optional().describe('per-channel std to divide by, e.g. 0.3530'),
  size: z
    .number()
    .int()
    .min(1)
    .max(65536)
    .optional()
    .describe('image side length for image folders (default: the model input size)'),
  layout: z.enum(['nchw', 'nhwc']).default('nchw').describe('tensor layout for images'),
  limit: z.number().int().min(1).optional().describe('use only the first N samples'),
};

export const runtimeOption = z
  .enum(['node', 'web'])
  .default('node')
  .describe('onnxruntime-node or onnxruntime-web (wasm)');
export const threadsOption = z.number().int().min(1).max(256).default(1).describe('intra-op threads');

export const inspectOptions = z
  .object({
    shape: shapeOption,
    budget: z
      .string()
      .optional()
      .describe('device budget to check, e.g. flash=2MB,ram=512KB (exit 3 when it does not fit)'),
    top: z.number().int().min(1).max(1_000_000).default(25).describe('layers shown in the table'),
    json: jsonOption,
  })
  .describe(
    'what the model costs: params, weight bytes by dtype, MACs, activation memory, energy, per layer',
  );

/** What eval and compare share: data, synthetic samples when there is none, runtime. */
const measureShape = {
  threads: threadsOption,
  samples: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(64)
    .describe('synthetic samples when no --data is given'),
  seed: seedOption,
  shape: shapeOption,
  input: inputOption,
  runtime: runtimeOption,
  ...dataShape,
  json: jsonOption,
};

export const evalOptions = z
  .object({
    data: z.string().optional().describe(`${DATA_FILE} (default: synthetic inputs, needs --reference)`),
    reference: z.string().optional().describe('reference model: report agreement, cosine, SQNR per output'),
    batchSize: z.number().int().min(1).max(65536).default(64).describe('samples per run'),
    ...measureShape,
  })
  .describe('accuracy on labelled data; fidelity against a reference model');

export const benchOptions = z
  .object({
    threads: threadsOption,
    batch: z.number().int().min(1).max(65536).default(1).describe('batch size for the dynamic batch dim'),
    runs: z.number().int().min(1).max(1_000_000).default(100).describe('timed runs'),
    warmup: z.number().int().min(0).max(100_000).default(10).describe('untimed warm-up runs'),
    profile: z
      .boolean()
      .default(false)
      .describe('per-node time and the kernel ONNX Runtime really ran (from its profiler)'),
    shape: shapeOption,
    input: inputOption,
    runtime: runtimeOption,
    json: jsonOption,
  })
  .describe('latency (median/p90/min), throughput and sizes (file, gzip, brotli)');

export const compareOptions = z.object({
  data: z
    .string()
    .optional()
    .describe(`${DATA_FILE} for accuracy (default: synthetic inputs, fidelity only)`),
  batch: z.number().int().min(1).max(65536).default(1).describe('batch size for latency'),
  runs: z.number().int().min(1).max(1_000_000).default(50).describe('timed runs'),
  ...measureShape,
});

/** What every transform command shares (slim, optimize, quantize, prune, cluster, decompose). */
export const transformShape = {
  output: z.string().min(1).describe('where to write the result (never the input)'),
  force: z.boolean().default(false).describe('overwrite an existing output file'),
  externalData: z
    .boolean()
    .default(false)
    .describe('write weights to external data beside the output (PATH.data)'),
  printRecipe: z.boolean().default(false).describe('print the recipe this command would run (YAML) and exit'),
  guard: z
    .boolean()
    .default(true)
    .describe(
      'run the numerical guard (original and result on samples; lossless passes that change outputs are rolled back)',
    ),
  shape: shapeOption,
  input: inputOption,
  seed: seedOption,
  runtime: runtimeOption.describe(
    'the runtime that calibrates, guards and measures: node, or web (wasm: the numbers, and so the file, the browser app gives)',
  ),
  json: jsonOption,
};

export const slimOptions = z
  .object({ ...transformShape })
  .describe('lossless graph clean-up: fold BatchNorm and constants, drop dead and identity nodes');

export const optimizeOptions = z
  .object({
    ...transformShape,
    recipe: z.string().min(1).describe('the recipe (JSON or YAML list of { pass, options, nodes } steps)'),
    calib: z
      .string()
      .optional()
      .describe('calibration data for data-aware passes (static int8, GPTQ, SmoothQuant)'),
    ...dataShape,
  })
  .describe('run a recipe: a JSON or YAML list of { pass, options, nodes } steps');

/**
 * Fine-tuning flags: `finetune`'s own, and with `--finetune` those of prune, cluster, quantize and
 * decompose (the result is fine-tuned before it is written; commands/finetune.ts).
 */
export const finetuneShape = {
  finetune: z
    .boolean()
    .default(false)
    .describe('fine-tune the result before writing it (needs --train; masks, codebooks and int8 grids kept)'),
  train: z.string().optional().describe(`training data for --finetune (${DATA_FILE}; labels for ce)`),
  trainLabels: z.string().optional().describe('labels for .npy or IDX training data'),
  epochs: z.number().int().min(1).max(100_000).optional().describe('passes over the data (default 1)'),
  steps: z.number().int().min(1).max(100_000_000).optional().describe('or exactly this many steps'),
  lr: z.number().gt(0).max(10).default(0.001).describe('peak learning rate'),
  batchSize: z.number().int().min(1).max(65536).default(64).describe('samples per training step'),
  loss: z
    .enum(['ce', 'kd', 'ce+kd'])
    .default('ce')
    .describe('ce: cross-entropy with labels; kd: distillation from the teacher (no labels); ce+kd: both'),
  teacher: z
    .string()
    .optional()
    .describe('teacher model for --loss kd and ce+kd (default: the input model as it was)'),
  val: z.string().optional().describe('validation data: top-1 before, after each epoch and at the end'),
  valLabels: z.string().optional().describe('labels for .npy or IDX validation data'),
};

export const slimFlag = z.boolean().default(true).describe('run the lossless clean-up (slim) first');

export type InspectOptions = z.input<typeof inspectOptions>;
export type EvalOptions = z.input<typeof evalOptions>;
export type BenchOptions = z.input<typeof benchOptions>;
export type CompareOptions = z.input<typeof compareOptions>;
export type SlimOptions = z.input<typeof slimOptions>;
export type OptimizeOptions = z.input<typeof optimizeOptions>;
