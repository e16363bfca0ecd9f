// Mixed precision under an accuracy budget (`quantize --max-drop P`):
//  1. measure the float model and the fully quantized one on the evaluation data; if the drop is
//     within P, done
//  2. per-layer sensitivity: quantize one layer at a time (every other layer float) and measure the
//     drop it alone causes (ties broken by the SQNR of the outputs against the float model)
//  3. keep the most sensitive layers in float, one at a time, re-measuring the whole model each time,
//     until the drop is within P (or every layer is float)
// The metric is top-1 accuracy when the data has labels, else top-1 agreement with the float model;
// the drop is in percentage points.

import type { Dataset } from '../data/dataset.js';
import { cloneModel } from '../ir/clone.js';
import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/serialize.js';
import type { Logger, Pass, ProgressSink } from '../passes/pass.js';
import type { Runtime } from '../runtime/types.js';
import { evaluate } from './evaluate.js';
import { runPasses } from './pass-manager.js';
import type { RecipeStep } from './recipe.js';

export interface LayerCost {
  name: string;
  op: string;
  /** percentage points lost when only this layer is quantized */
  drop: number;
  /** SQNR (dB) of the outputs when only this layer is quantized */
  sqnr: number;
}

export interface MixedPrecisionResult {
  model: Model;
  floatMetric: number;
  quantizedMetric: number;
  /** metric of the full int8 model, before any layer went back to float */
  fullInt8Metric: number;
  metric: 'top1' | 'agreement';
  /** the layers kept in float, most sensitive first, with what each costs alone */
  floatLayers: LayerCost[];
  sensitivity: LayerCost[];
  met: boolean;
}

export interface MixedPrecisionOptions {
  runtime: Runtime;
  calibration: Dataset;
  evalData: Dataset;
  /** budget in percentage points */
  maxDrop: number;
  /** the quantization step (its options get `exclude`) and the steps before it */
  prefix: RecipeStep[];
  quantize: RecipeStep;
  /** steps after the quantization (dead-code, sort) */
  suffix?: RecipeStep[];
  /** the layers the quantization step would quantize, found on the prepared model */
  layers: (prepared: Model) => { name: string; op: string }[];
  log?: Logger;
  /** one tick per layer measured alone, then per layer put back to float */
  progress?: ProgressSink | undefined;
}

async function measure(bytes: Uint8Array, reference: Uint8Array, o: MixedPrecisionOptions) {
  const r = await evaluate(o.runtime, bytes, o.evalData, { reference, batchSize: 64 });
  return { top1: r.top1, agreement: r.agreement ?? 1, sqnr: r.sqnr ?? Number.POSITIVE_INFINITY };
}

export async function mixedPrecision(input: Model, o: MixedPrecisionOptions): Promise<MixedPrecisionResult> {
  const useTop1 = o.evalData.labels !== undefined;
  const { model: prepared } = await runPasses(cloneModel(input), o.prefix, { runtime: o.runtime });
  const layers = o.layers(prepared);
  const floatBytes = encodeModel(prepared);
  const quantizeWith = async (exclude: string[]) => {
    const step: RecipeStep = {
      pass: o.quantize.pass as Pass,
      options: {
        ...o.quantize.options,
        exclude: [...((o.quantize.options.exclude as string[]) ?? []), ...exclude],
      },
      nodes: o.quantize.nodes,
    };
    const { model } = await runPasses(cloneModel(prepared), [step, ...(o.suffix ?? [])], {
      runtime: o.runtime,
      calibration: o.calibration,
    });
    return model;
  };
  const metricOf = (m: { top1?: number | undefined; agreement: number }) =>
    100 * (useTop1 ? (m.top1 ?? 0) : m.agreement);
  const floatEval = await measure(floatBytes, floatBytes, o);
  const floatMetric = metricOf(floatEval);
  let model = await quantizeWith([]);
  let q = await measure(encodeModel(model), floatBytes, o);
  const fullInt8Metric = metricOf(q);
  const result = (floatLayers: LayerCost[], sensitivity: LayerCost[]): MixedPrecisionResult => ({
    model,
    floatMetric,
    quantizedMetric: metricOf(q),
    fullInt8Metric,
    metric: useTop1 ? 'top1' : 'agreement',
    floatLayers,
    sensitivity,
    met: floatMetric - metricOf(q) <= o.maxDrop + 1e-9,
  });
  // metrics are percentages of a sample count: compare with a little slack for float rounding
  const within = (m: number) => floatMetric - m <= o.maxDrop + 1e-9;
  if (within(fullInt8Metric)) return result([], []);

  // rule 2: one layer quantized at a time
  const names = layers.map((l) => l.name);
  const sensitivity: LayerCost[] = [];
  const task = o.progress?.start('--max-drop: layer sensitivity', layers.length);
  for (const layer of layers) {
    const only = await quantizeWith(names.filter((n) => n !== layer.name));
    const m = await measure(encodeModel(only), floatBytes, o);
    sensitivity.push({ name: layer.name, op: layer.op, drop: floatMetric - metricOf(m), sqnr: m.sqnr });
    task?.update(sensitivity.length);
    o.log?.info(
      `sensitivity ${layer.name}: ${(floatMetric - metricOf(m)).toFixed(2)} pt, ${m.sqnr.toFixed(1)} dB`,
    );
  }
  task?.done();
  sensitivity.sort((a, b) => b.drop - a.drop || a.sqnr - b.sqnr);

  // rule 3: most sensitive layers back to float until the budget holds
  const floatLayers: LayerCost[] = [];
  for (const layer of sensitivity) {
    floatLayers.push(layer);
    model = await quantizeWith(floatLayers.map((l) => l.name));
    q = await measure(encodeModel(model), floatBytes, o);
    o.log?.info(
      `float: ${floatLayers.map((l) => l.name).join(', ')} -> drop ${(floatMetric - metricOf(q)).toFixed(2)} pt`,
    );
    if (within(metricOf(q))) break;
  }
  return result(floatLayers, sensitivity);
}
