// edgefit quantize MODEL -o OUT --mode fp16|weight-int8|weight-int4|dynamic|static
// Builds a recipe (lossless clean-up first: BatchNorm folding matters for int8 accuracy and speed),
// runs it, then asks ONNX Runtime which kernels really run in int8 and whether the result is faster.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { synthesizeInputs } from '../../data/synthetic.js';
import { EdgefitError } from '../../errors.js';
import { openDataset } from '../../node/data-files.js';
import { loadModel } from '../../node/model-io.js';
import { dynamicTargets } from '../../passes/quantize/quantize-dynamic-int8.js';
import { staticTargets } from '../../passes/quantize/quantize-static-int8.js';
import { findPass, SLIM_PASSES } from '../../passes/registry.js';
import { benchmark } from '../../pipeline/benchmark.js';
import { kernelReport } from '../../pipeline/kernels.js';
import { mixedPrecision } from '../../pipeline/mixed-precision.js';
import { type RecipeStep, step } from '../../pipeline/recipe.js';
import { nodeRuntime } from '../../runtime/node.js';
import { addDataFlags, dataOptions, positiveInt } from '../data-flags.js';
import { parseShapes, runCommand } from '../shell.js';
import {
  addTransformFlags,
  printTransform,
  runTransform,
  type TransformFlags,
  type TransformReport,
} from '../transform.js';

const MODES = ['fp16', 'weight-int8', 'weight-int4', 'dynamic', 'static'] as const;
type Mode = (typeof MODES)[number];

interface QuantizeFlags extends TransformFlags {
  mode: string;
  calib?: string;
  method?: string;
  percentile?: string;
  exclude?: string[];
  perTensor?: boolean;
  activationType?: string;
  reduceRange?: boolean;
  samples?: string;
  blockSize?: string;
  accuracyLevel?: string;
  format?: string;
  algorithm?: string;
  conv?: boolean;
  cle?: boolean;
  biasCorrection?: boolean;
  smoothQuant?: string | boolean;
  slim?: boolean;
  keepIoTypes?: boolean;
  maxDrop?: string;
  data?: string;
  [k: string]: unknown;
}

function needPass(id: string): void {
  if (!findPass(id)) throw new EdgefitError('UNSUPPORTED', `this build of edgefit has no ${id} pass yet`);
}

export function quantizeRecipe(f: QuantizeFlags): RecipeStep[] {
  if (!MODES.includes(f.mode as Mode))
    throw new EdgefitError('BAD_ARGUMENT', `--mode must be one of ${MODES.join(', ')}, not "${f.mode}"`);
  const mode = f.mode as Mode;
  const steps: RecipeStep[] = f.slim === false ? [] : SLIM_PASSES.map((id) => step(id));
  const exclude = f.exclude ?? [];
  const int = (v: string | undefined, flag: string) => (v === undefined ? undefined : positiveInt(v, flag));
  if (f.cle) {
    needPass('cross-layer-equalization');
    steps.push(step('cross-layer-equalization'));
  }
  if (f.smoothQuant) {
    needPass('smooth-quant');
    steps.push(step('smooth-quant', f.smoothQuant === true ? {} : { alpha: Number(f.smoothQuant) }));
  }
  switch (mode) {
    case 'static':
      if (!f.calib)
        throw new EdgefitError(
          'BAD_ARGUMENT',
          '--mode static needs calibration data',
          'pass --calib FILE (a few hundred representative samples, e.g. .npz)',
        );
      steps.push(
        step('quantize-static-int8', {
          method: f.method ?? 'minmax',
          ...(f.percentile ? { percentile: Number(f.percentile) } : {}),
          perTensor: f.perTensor === true,
          activationType: f.activationType ?? 'uint8',
          exclude,
          reduceRange: f.reduceRange === true,
          biasCorrection: f.biasCorrection === true,
          ...(f.samples ? { samples: int(f.samples, '--samples') } : {}),
        }),
      );
      break;
    case 'dynamic':
      steps.push(
        step('quantize-dynamic-int8', { perTensor: f.perTensor === true, exclude, conv: f.conv === true }),
      );
      break;
    case 'fp16':
      needPass('quantize-fp16');
      steps.push(step('quantize-fp16', { keepIoTypes: f.keepIoTypes !== false, exclude }));
      break;
    case 'weight-int8':
      needPass('quantize-weight-int8');
      steps.push(
        step('quantize-weight-int8', {
          perTensor: f.perTensor === true,
          ...(f.conv ? { conv: true } : {}),
          ...(f.algorithm ? { algorithm: f.algorithm } : {}),
        }),
      );
      break;
    case 'weight-int4':
      needPass('quantize-weight-int4');
      steps.push(
        step('quantize-weight-int4', {
          ...(f.blockSize ? { blockSize: int(f.blockSize, '--block-size') } : {}),
          ...(f.accuracyLevel !== undefined ? { accuracyLevel: Number(f.accuracyLevel) } : {}),
          ...(f.format ? { format: f.format } : {}),
          ...(f.algorithm ? { algorithm: f.algorithm } : {}),
          ...(f.conv ? { conv: true } : {}),
        }),
      );
      break;
  }
  steps.push(step('dead-code'), step('topological-sort'));
  return steps;
}

export function registerQuantize(program: Command): void {
  addDataFlags(
    addTransformFlags(
      program
        .command('quantize')
        .description(
          'quantize: fp16, weight-only int8/int4, dynamic or static int8 (laid out for ONNX Runtime int8 kernels)',
        )
        .argument('<model>', 'ONNX model')
        .requiredOption('--mode <mode>', `one of ${MODES.join(', ')}`)
        .option(
          '--calib <data>',
          'calibration data (static mode and data-aware methods): .npz, .npy, IDX, image folder',
        )
        .option(
          '--method <m>',
          'static: activation range method minmax | percentile | entropy | mse',
          'minmax',
        )
        .option('--percentile <p>', 'static: percentile for --method percentile', '99.999')
        .option('--samples <n>', 'calibration samples to use', '256')
        .option('--activation-type <t>', 'static: uint8 | int8 | int16', 'uint8')
        .option('--per-tensor', 'one scale per weight tensor instead of per output channel')
        .option('--reduce-range', 'static: 7-bit weights for x86 CPUs without VNNI')
        .option('--exclude <names...>', 'node names (globs) or op types to keep in float')
        .option('--bias-correction', 'static: correct biases for the mean shift quantized weights cause')
        .option('--cle', 'cross-layer equalization before quantizing (depthwise nets)')
        .option(
          '--smooth-quant [alpha]',
          'SmoothQuant: move activation outliers into MatMul weights (alpha default 0.5)',
        )
        .option('--block-size <n>', 'weight-int4: block size (power of 2, >= 16)', '32')
        .option('--accuracy-level <n>', 'weight-int4: MatMulNBits accuracy_level (4 = int8 compute, fastest)')
        .option('--format <f>', 'weight-int4: matmulnbits | qdq')
        .option('--algorithm <a>', 'weight-int4/int8: rtn | gptq (gptq needs --calib)')
        .option(
          '--conv',
          'also quantize Conv weights (weight-only/dynamic: size only, not faster on ORT CPU)',
        )
        .option('--no-keep-io-types', 'fp16: make the graph inputs and outputs float16 too')
        .option('--no-slim', 'skip the lossless clean-up before quantizing')
        .option(
          '--max-drop <pt>',
          'static/dynamic: keep the most sensitive layers float until top-1 (or agreement) drops at most this many points',
        )
        .option('--data <data>', 'evaluation data for --max-drop (default: the --calib data)'),
    ),
  ).action((input: string, f: QuantizeFlags) =>
    runCommand(async () => {
      const steps = quantizeRecipe(f);
      const model = f.printRecipe ? undefined : loadModel(input);
      const dataOpts = dataOptions(f as Record<string, string | undefined>);
      const calibration = model && f.calib ? await openDataset(model, f.calib, dataOpts) : undefined;
      let mixed: Record<string, unknown> | undefined;
      let report: TransformReport | undefined;
      if (f.maxDrop !== undefined && !f.printRecipe) {
        const maxDrop = Number(f.maxDrop);
        if (!Number.isFinite(maxDrop) || maxDrop < 0)
          throw new EdgefitError(
            'BAD_ARGUMENT',
            `--max-drop must be a number of percentage points >= 0, not "${f.maxDrop}"`,
          );
        if (f.mode !== 'static' && f.mode !== 'dynamic')
          throw new EdgefitError(
            'BAD_ARGUMENT',
            '--max-drop works with --mode static or dynamic',
            'choose one of them',
          );
        if (!calibration)
          throw new EdgefitError(
            'BAD_ARGUMENT',
            '--max-drop needs data to measure on',
            'pass --calib FILE (and optionally --data FILE)',
          );
        const evalData = f.data ? await openDataset(model!, f.data, dataOpts) : calibration;
        const qi = steps.findIndex((s) => s.pass.id.startsWith('quantize-'));
        const quantize = steps[qi]!;
        report = await runTransform(input, [], f, {
          produce: async (m) => {
            const r = await mixedPrecision(m, {
              runtime: nodeRuntime,
              calibration,
              evalData,
              maxDrop,
              prefix: steps.slice(0, qi),
              quantize,
              suffix: steps.slice(qi + 1),
              layers: (prepared) =>
                f.mode === 'static'
                  ? staticTargets(prepared, quantize.options as never)
                  : dynamicTargets(prepared),
            });
            mixed = {
              metric: r.metric,
              floatMetric: r.floatMetric,
              fullInt8Metric: r.fullInt8Metric,
              quantizedMetric: r.quantizedMetric,
              drop: r.floatMetric - r.quantizedMetric,
              maxDrop,
              met: r.met,
              floatLayers: r.floatLayers,
              sensitivity: r.sensitivity,
            };
            if (!r.met)
              process.stderr.write(
                `edgefit: warning: even with every layer in float the budget of ${maxDrop} pt is not met\n`,
              );
            return r.model;
          },
        });
      } else report = await runTransform(input, steps, f, { fixedPoint: false, calibration });
      if (!report) return;
      // the truth about speed: which kernels ORT runs, and whether the result is faster here
      const feeds = synthesizeInputs(model!, { shapes: parseShapes(f.shape), batch: 1 });
      const dir = mkdtempSync(join(tmpdir(), 'edgefit-kernels-'));
      let extra: Record<string, unknown> = {};
      try {
        const out = new Uint8Array(readFileSync(report.output));
        const k = await kernelReport(nodeRuntime, out, feeds, join(dir, 'trace'));
        const before = await benchmark(nodeRuntime, input, feeds, { runs: 50, warmup: 5 });
        const after = await benchmark(nodeRuntime, report.output, feeds, { runs: 50, warmup: 5 });
        const speedup = before.latencyMs.median / after.latencyMs.median;
        extra = {
          ...k,
          latencyMs: { before: before.latencyMs.median, after: after.latencyMs.median },
          speedup,
        };
        if (f.mode !== 'fp16' && speedup < 1.0)
          process.stderr.write(
            `edgefit: warning: the quantized model is not faster here (${after.latencyMs.median.toFixed(3)} ms vs ${before.latencyMs.median.toFixed(3)} ms, batch 1, 1 thread)${k && k.int8Nodes.length === 0 ? '; ONNX Runtime runs no int8 kernel for it' : ''}\n`,
          );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const full: TransformReport = Object.assign(
        { ...report, mode: f.mode },
        extra,
        mixed ? { mixedPrecision: mixed } : {},
      );
      const k = extra as {
        kernels?: Record<string, number>;
        int8Nodes?: string[];
        floatNodes?: string[];
        speedup?: number;
      };
      printTransform(
        full,
        f.json,
        k.kernels
          ? `  kernels ${Object.entries(k.kernels)
              .map(([n, c]) => `${n} ${c}`)
              .join(
                ', ',
              )}\n  int8 nodes ${k.int8Nodes?.length}, float compute nodes ${k.floatNodes?.length}, speed-up ${k.speedup?.toFixed(2)}x (batch 1, 1 thread)\n`
          : '',
      );
      if (mixed && !f.json) {
        const m = mixed as {
          metric: string;
          floatMetric: number;
          fullInt8Metric: number;
          quantizedMetric: number;
          floatLayers: { name: string; op: string; drop: number }[];
        };
        process.stdout.write(
          `  ${m.metric}: float ${m.floatMetric.toFixed(2)}, full int8 ${m.fullInt8Metric.toFixed(2)}, result ${m.quantizedMetric.toFixed(2)}\n` +
            m.floatLayers
              .map((l) => `  kept float: ${l.name} (${l.op}), costs ${l.drop.toFixed(2)} pt alone\n`)
              .join(''),
        );
      }
    }),
  );
}
