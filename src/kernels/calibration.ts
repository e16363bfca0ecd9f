// Activation range estimation from streaming statistics (never all activations in memory):
//   minmax      the observed [min, max]
//   percentile  the [ (100-p)%, p% ] quantiles of the values (histogram, 2048 bins)
//   entropy     the clipping threshold minimizing KL(P || Q) between the value histogram and its
//               quantized version (TensorRT's method, on |x| with 2048 bins into 128 levels)
//   mse         the clipping threshold minimizing the expected squared quantization error
// A histogram needs the range first, so range estimation is two streaming passes: minmax, then bins.

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy' | 'mse';

export class RangeStats {
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  count = 0;
  /** histogram of |x| over [0, absMax] (second pass) */
  hist: Float64Array | undefined;
  /** signed histogram over [min, max] (second pass, for percentiles) */
  signed: Float64Array | undefined;

  observe(x: Float32Array): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.min = lo;
    this.max = hi;
    this.count += x.length;
  }

  get absMax(): number {
    return Math.max(Math.abs(this.min), Math.abs(this.max));
  }

  /** second pass: accumulate histograms over the range found by the first */
  observeHistogram(x: Float32Array, bins = 2048): void {
    const amax = this.absMax;
    const span = this.max - this.min;
    if (!this.hist) this.hist = new Float64Array(bins);
    if (!this.signed) this.signed = new Float64Array(bins);
    const h = this.hist;
    const s = this.signed;
    const ka = amax > 0 ? bins / amax : 0;
    const ks = span > 0 ? bins / span : 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      // exact zeros (ReLU outputs, padding) carry no information about the clipping threshold and, as
      // a spike in the first bin, would pull the KL search towards tiny thresholds
      if (v !== 0) h[Math.min(bins - 1, Math.floor(Math.abs(v) * ka))]! += 1;
      s[Math.min(bins - 1, Math.max(0, Math.floor((v - this.min) * ks)))]! += 1;
    }
  }
}

/** The real range [lo, hi] to quantize to. `levels` is the number of quantization levels (256 for 8-bit). */
export function chooseRange(
  stats: RangeStats,
  method: CalibrationMethod,
  options: { percentile?: number; levels?: number } = {},
): [number, number] {
  const lo = Math.min(stats.min, 0);
  const hi = Math.max(stats.max, 0);
  if (method === 'minmax' || !stats.hist || !stats.signed || stats.count === 0) return [lo, hi];
  const nonNegative = stats.min >= 0;
  if (method === 'percentile') {
    const p = (options.percentile ?? 99.999) / 100;
    const s = stats.signed;
    const bins = s.length;
    const width = (stats.max - stats.min) / bins;
    let acc = 0;
    let qlo = stats.min;
    let qhi = stats.max;
    const total = stats.count;
    let foundLo = false;
    for (let i = 0; i < bins; i++) {
      acc += s[i]!;
      if (!foundLo && acc >= (1 - p) * total) {
        qlo = stats.min + i * width;
        foundLo = true;
      }
      if (acc >= p * total) {
        qhi = stats.min + (i + 1) * width;
        break;
      }
    }
    return [Math.min(qlo, 0), Math.max(qhi, 0)];
  }
  const t =
    method === 'entropy'
      ? klThreshold(stats.hist, stats.absMax)
      : mseThreshold(stats.hist, stats.absMax, nonNegative, options.levels ?? 256);
  return nonNegative ? [0, Math.min(t, hi)] : [Math.max(-t, lo), Math.min(t, hi)];
}

/** TensorRT-style KL threshold on an |x| histogram. */
function klThreshold(hist: Float64Array, absMax: number, quantBins = 128): number {
  const bins = hist.length;
  const width = absMax / bins;
  let best = bins;
  let bestKl = Number.POSITIVE_INFINITY;
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return absMax;
  for (let i = quantBins; i <= bins; i += 16) {
    // P: the first i bins with everything beyond folded into the last one
    const p = hist.slice(0, i);
    let outliers = 0;
    for (let j = i; j < bins; j++) outliers += hist[j]!;
    p[i - 1]! += outliers;
    // Q: P merged into quantBins levels, then expanded back over the non-empty bins
    const q = new Float64Array(i);
    const per = i / quantBins;
    for (let k = 0; k < quantBins; k++) {
      const start = Math.floor(k * per);
      const end = k === quantBins - 1 ? i : Math.floor((k + 1) * per);
      let sum = 0;
      let nonEmpty = 0;
      for (let j = start; j < end; j++) {
        sum += hist[j]!; // the unclipped bins, as TensorRT does
        if (hist[j]! > 0) nonEmpty++;
      }
      if (nonEmpty === 0) continue;
      for (let j = start; j < end; j++) if (hist[j]! > 0) q[j] = sum / nonEmpty;
    }
    let sp = 0;
    let sq = 0;
    for (let j = 0; j < i; j++) {
      sp += p[j]!;
      sq += q[j]!;
    }
    let kl = 0;
    for (let j = 0; j < i; j++) {
      const pj = p[j]! / sp;
      if (pj === 0) continue;
      const qj = q[j]! / sq;
      kl += qj > 0 ? pj * Math.log(pj / qj) : pj * 20; // an empty Q bin under mass: heavy penalty
    }
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return (best + 0.5) * width;
}

/** Clipping threshold minimizing expected squared error (rounding noise inside, clipping outside). */
function mseThreshold(hist: Float64Array, absMax: number, nonNegative: boolean, levels: number): number {
  const bins = hist.length;
  const width = absMax / bins;
  let best = absMax;
  let bestErr = Number.POSITIVE_INFINITY;
  for (let k = 1; k <= 100; k++) {
    const t = (absMax * k) / 100;
    const step = (nonNegative ? t : 2 * t) / (levels - 1);
    let err = 0;
    for (let j = 0; j < bins; j++) {
      const c = (j + 0.5) * width;
      const e = c > t ? (c - t) ** 2 : (step * step) / 12;
      err += hist[j]! * e;
    }
    if (err < bestErr) {
      bestErr = err;
      best = t;
    }
  }
  return best;
}
