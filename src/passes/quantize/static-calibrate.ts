// quantize-static-int8's calibration (rules 3 and 6 of quantize-static-int8.ts): activation ranges from
// streaming statistics (minmax, then histograms for percentile/entropy/mse), and the per-channel
// input means that bias correction needs, both over the calibration data (PassContext.collect).

import type { Graph } from '../../ir/graph.js';
import { type CalibrationMethod, chooseRange, RangeStats } from '../../kernels/calibration.js';
import type { Collect } from '../../runtime/collect.js';
import { asFloat32 } from '../util.js';

export interface Calibrated {
  ranges: Map<string, [number, number]>;
  means: Map<string, Float64Array>;
}

/** per-channel mean of x: axis 1 for rank >= 3 (NCHW), the last axis for rank <= 2 */
function accumulateMean(
  acc: { sum: Float64Array; count: number } | undefined,
  x: Float32Array,
  dims: number[],
) {
  const rank = dims.length;
  const c = rank >= 3 ? dims[1]! : dims[rank - 1]!;
  const out = acc ?? { sum: new Float64Array(c), count: 0 };
  if (rank >= 3) {
    const inner = dims.slice(2).reduce((a, b) => a * b, 1);
    for (let n = 0; n < dims[0]!; n++)
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        const base = (n * c + ch) * inner;
        for (let i = 0; i < inner; i++) s += x[base + i]!;
        out.sum[ch]! += s / inner;
      }
    out.count += dims[0]!;
  } else {
    const rows = x.length / c;
    for (let r = 0; r < rows; r++) for (let ch = 0; ch < c; ch++) out.sum[ch]! += x[r * c + ch]!;
    out.count += rows;
  }
  return out;
}

export async function calibrate(
  graph: Graph,
  names: string[],
  meanNames: string[],
  collect: Collect,
  options: { method: CalibrationMethod; percentile: number; samples: number },
): Promise<Calibrated> {
  const stats = new Map(names.map((n) => [n, new RangeStats()]));
  const sums = new Map<string, { sum: Float64Array; count: number }>();
  const all = [...new Set([...names, ...meanNames])];
  await collect(
    graph.model,
    all,
    (values) => {
      for (const [name, t] of Object.entries(values)) {
        const x = asFloat32(t);
        stats.get(name)?.observe(x);
        if (meanNames.includes(name)) sums.set(name, accumulateMean(sums.get(name), x, t.dims));
      }
    },
    { limit: options.samples },
  );
  if (options.method !== 'minmax')
    await collect(
      graph.model,
      names,
      (values) => {
        for (const [name, t] of Object.entries(values)) stats.get(name)?.observeHistogram(asFloat32(t));
      },
      { limit: options.samples },
    );
  const ranges = new Map<string, [number, number]>();
  for (const [name, s] of stats)
    ranges.set(name, chooseRange(s, options.method, { percentile: options.percentile }));
  const means = new Map<string, Float64Array>();
  for (const [name, a] of sums)
    means.set(
      name,
      a.sum.map((v) => v / Math.max(1, a.count)),
    );
  return { ranges, means };
}
