// quantize: the recipe for each mode (lossless clean-up first: BatchNorm folding matters for int8
// accuracy and speed), --max-drop's mixed precision, and the truth about speed afterwards: which
// kernels ONNX Runtime really runs in integer arithmetic and whether the result is faster here.

import { z } from 'zod';
import { synthesizeInputs } from '../data/synthetic.js';
import { EdgefitError, errorLine } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { dynamicTargets } from '../passes/quantize/quantize-dynamic-int8.js';
import { quantizeFp16 } from '../passes/quantize/quantize-fp16.js';
import { quantizeStaticInt8, staticTargets } from '../passes/quantize/quantize-static-int8.js';
import { quantizeWeightInt4 } from '../passes/quantize/quantize-weight-int4.js';
import { smoothQuant } from '../passes/quantize/smooth-quant.js';
import { benchmark } from '../pipeline/benchmark.js';
import { kernelReport } from '../pipeline/kernels.js';
import { mixedPrecision } from '../pipeline/mixed-precision.js';
import { type RecipeStep, step } from '../pipeline/recipe.js';
import type { Host } from '../pipeline/transform.js';
import { roundLatency, roundSig } from '../report/schema.js';
import { dataShape, finetuneShape, slimFlag, transformShape } from './options.js';
import { resolveInputValues, resolveShapes } from './shapes.js';
import type { TransformCommand } from './transform.js';
import { type BuildContext, slimSteps, tidySteps } from './transforms.js';

export const QUANTIZE_MODES = ['fp16', 'weight-int8', 'weight-int4', 'dynamic', 'static'] as const;

const S = quantizeStaticInt8.options.shape;
const W4 = quantizeWeightInt4.options.shape;

export const quantizeOptions = z
  .object({
    ...transformShape,
    mode: z.enum(QUANTIZE_MODES).describe('what to quantize and how'),
    calib: z
      .string()
      .optional()
      .describe('calibration data (static mode, GPTQ, SmoothQuant): .npz, .npy, IDX, image folder'),
    method: S.method,
    percentile: S.percentile,
    samples: S.samples,
    activationType: S.activationType,
    perTensor: S.perTensor,
    reduceRange: S.reduceRange,
    exclude: S.exclude,
    biasCorrection: S.biasCorrection,
    cle: z.boolean().default(false).describe('cross-layer equalization before quantizing (depthwise nets)'),
    smoothQuant: z
      .boolean()
      .default(false)
      .describe('SmoothQuant: move activation outliers into MatMul weights (needs --calib)'),
    alpha: smoothQuant.options.shape.alpha.describe('SmoothQuant migration strength'),
    blockSize: W4.blockSize,
    accuracyLevel: W4.accuracyLevel,
    format: W4.format,
    algorithm: W4.algorithm,
    conv: z
      .boolean()
      .default(false)
      .describe('also quantize Conv weights (weight-only/dynamic: a smaller file, not faster on ORT CPU)'),
    keepIoTypes: quantizeFp16.options.shape.keepIoTypes,
    slim: slimFlag,
    maxDrop: z
      .number()
      .min(0)
      .max(100)
      .optional()
      .describe(
        'static/dynamic: keep the most sensitive layers float until top-1 (or agreement) drops at most this many points',
      ),
    data: z.string().optional().describe('evaluation data for --max-drop (default: the --calib data)'),
    ...dataShape,
    ...finetuneShape,
  })
  .describe(
    'quantize: fp16, weight-only int8/int4, dynamic or static int8 (laid out for ONNX Runtime int8 kernels)',
  );

export type QuantizeOptions = z.input<typeof quantizeOptions>;
type Q = z.output<typeof quantizeOptions>;

function needsCalib(o: Q): string | undefined {
  if (o.mode === 'static') return '--mode static';
  if (o.algorithm === 'gptq' && (o.mode === 'weight-int8' || o.mode === 'weight-int4'))
    return '--algorithm gptq';
  if (o.smoothQuant) return '--smooth-quant';
  if (o.maxDrop !== undefined) return '--max-drop';
  return undefined;
}

export function quantizeSteps(o: Q): RecipeStep[] {
  const steps = slimSteps(o.slim);
  if (o.cle) steps.push(step('cross-layer-equalization'));
  if (o.smoothQuant) steps.push(step('smooth-quant', { alpha: o.alpha, samples: o.samples }));
  const { exclude, perTensor } = o;
  switch (o.mode) {
    case 'static':
      steps.push(
        step('quantize-static-int8', {
          method: o.method,
          percentile: o.percentile,
          perTensor,
          activationType: o.activationType,
          exclude,
          reduceRange: o.reduceRange,
          biasCorrection: o.biasCorrection,
          samples: o.samples,
        }),
      );
      break;
    case 'dynamic':
      steps.push(step('quantize-dynamic-int8', { perTensor, exclude, conv: o.conv }));
      break;
    case 'fp16':
      steps.push(step('quantize-fp16', { keepIoTypes: o.keepIoTypes, exclude }));
      break;
    case 'weight-int8':
      steps.push(
        step('quantize-weight-int8', {
          perTensor,
          conv: o.conv,
          algorithm: o.algorithm,
          format: o.format,
          accuracyLevel: o.accuracyLevel,
          samples: o.samples,
        }),
      );
      break;
    case 'weight-int4':
      steps.push(
        step('quantize-weight-int4', {
          blockSize: o.blockSize,
          accuracyLevel: o.accuracyLevel,
          format: o.format,
          algorithm: o.algorithm,
          conv: o.conv,
          samples: o.samples,
        }),
      );
      break;
  }
  steps.push(...tidySteps());
  return steps;
}

/** --max-drop: the quantization step searched layer by layer (pipeline/mixed-precision.ts). */
function maxDropProducer(o: Q, steps: RecipeStep[], ctx: BuildContext, host: Host) {
  const qi = steps.findIndex((s) => s.pass.id.startsWith('quantize-'));
  const quantize = steps[qi]!;
  const report: Record<string, unknown> = {};
  const produce = async (m: Model, warn: (message: string) => void) => {
    const r = await mixedPrecision(m, {
      runtime: host.runtime,
      calibration: ctx.calibration!,
      evalData: ctx.evalData ?? ctx.calibration!,
      maxDrop: o.maxDrop!,
      prefix: steps.slice(0, qi),
      quantize,
      suffix: steps.slice(qi + 1),
      layers: (prepared) =>
        o.mode === 'static' ? staticTargets(prepared, quantize.options as never) : dynamicTargets(prepared),
      ...(host.log ? { log: host.log } : {}),
      progress: host.progress,
    });
    const pt = (x: number) => roundSig(x, 4);
    const layer = (l: { name: string; op: string; drop: number; sqnr: number }) => ({
      name: l.name,
      op: l.op,
      dropPt: pt(l.drop),
      sqnr: Math.round(l.sqnr * 100) / 100,
    });
    Object.assign(report, {
      metric: r.metric,
      float: r.floatMetric / 100,
      fullInt8: r.fullInt8Metric / 100,
      result: r.quantizedMetric / 100,
      dropPt: pt(r.floatMetric - r.quantizedMetric),
      maxDropPt: o.maxDrop,
      met: r.met,
      floatLayers: r.floatLayers.map(layer),
      sensitivity: r.sensitivity.map(layer),
    });
    if (!r.met) warn(`even with every layer in float the budget of ${o.maxDrop} pt is not met`);
    return r.model;
  };
  return { produce, report };
}

/** Which kernels ORT runs for the result, and batch-1 latency before and after. */
async function speedTruth(
  o: Q,
  io: Parameters<NonNullable<TransformCommand['extras']>>[0],
  host: Host,
): Promise<Record<string, unknown>> {
  const shapes = resolveShapes(io.original, o.shape);
  const feeds = {
    ...synthesizeInputs(io.original, { shapes, batch: 1 }),
    ...resolveInputValues(io.original, o.input),
  };
  const profile = host.tempDir?.();
  try {
    const k = profile
      ? await kernelReport(host.runtime, io.output, feeds, `${profile.path}/trace`)
      : undefined;
    const before = await benchmark(host.runtime, io.input, feeds, { runs: 50, warmup: 5 });
    const after = await benchmark(host.runtime, io.output, feeds, { runs: 50, warmup: 5 });
    io.before.latencyMs = roundLatency(before.latencyMs);
    io.after.latencyMs = roundLatency(after.latencyMs);
    const speedup = roundSig(before.latencyMs.median / after.latencyMs.median);
    if (o.mode !== 'fp16' && speedup < 1.0)
      io.warn(
        `the quantized model is not faster here (${after.latencyMs.median.toFixed(3)} ms vs ${before.latencyMs.median.toFixed(3)} ms, batch 1, 1 thread)${k && k.integerNodes.length === 0 ? '; ONNX Runtime runs no integer kernel for it' : ''}`,
      );
    return { ...(k ?? {}), speedup };
  } catch (e) {
    io.warn(
      `speed not measured: the model does not run on synthetic inputs (${errorLine(e)}); set inputs with --shape or --input NAME=VALUE`,
    );
    return {};
  } finally {
    profile?.dispose();
  }
}

export function buildQuantize(o: Q, ctx: BuildContext): TransformCommand {
  const host = ctx.host;
  const steps = quantizeSteps(o);
  const cmd: TransformCommand = { command: 'quantize', plan: { steps, calibration: ctx.calibration } };
  if (!ctx.model || !host) return cmd; // --print-recipe
  const needs = needsCalib(o);
  if (needs && !ctx.calibration)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `${needs} needs calibration data`,
      'pass --calib FILE (a few hundred representative samples, e.g. .npz)',
    );
  let mixed: Record<string, unknown> | undefined;
  if (o.maxDrop !== undefined) {
    if (o.mode !== 'static' && o.mode !== 'dynamic')
      throw new EdgefitError(
        'BAD_ARGUMENT',
        '--max-drop works with --mode static or dynamic',
        'choose one of them',
      );
    const p = maxDropProducer(o, steps, ctx, host);
    cmd.plan.produce = p.produce;
    mixed = p.report;
  }
  cmd.extras = async (io) => ({
    mode: o.mode,
    ...(await speedTruth(o, io, host)),
    ...(mixed ? { mixedPrecision: mixed } : {}),
  });
  return cmd;
}
