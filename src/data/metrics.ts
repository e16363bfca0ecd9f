// Evaluation metrics over typed arrays: task accuracy against labels, and fidelity of a candidate
// model's output against the reference model's output. Sums run in float64 (JS numbers).
//
// Definitions:
// 1. argmax picks the first largest value of a row; NaN never wins; a row of NaN gives -1.
// 2. The rank of the label in a row is the number of classes ahead of it: larger score, or equal score
//    at a smaller index (so top-1 agrees with argmax). Top-k hits when rank < k; a NaN label score misses.
// 3. agreement = fraction of rows whose argmax is equal (and not -1) in reference and candidate.
// 4. cosine = Σ r·x / (‖r‖ ‖x‖) over the flattened tensor; 1 when both are all zero, 0 when only one is.
// 5. sqnr = 10 log10(Σ r² / Σ (r − x)²) dB; Infinity when identical, −Infinity when r is all zero and x not.
// 6. maxAbsError = max |r − x|; NaN anywhere makes it NaN.
// Accuracies and agreement are fractions in [0, 1]; with no samples they are NaN.

import { EdgefitError } from '../errors.js';

export type Scores = Float32Array | Float64Array;

/** Labels as integer class ids: number arrays, or BigInt arrays as read from int64 `.npy` data. */
export type Labels = ArrayLike<number> | ArrayLike<bigint>;

function checkLength(name: string, values: ArrayLike<unknown>, n: number, c: number): void {
  if (values.length !== n * c) {
    throw new Error(`${name} has ${values.length} values, expected ${n} × ${c} = ${n * c}`);
  }
}

function checkSameSize(reference: Scores, candidate: Scores): void {
  if (reference.length !== candidate.length) {
    throw new EdgefitError(
      'BAD_DATA',
      `the reference output has ${reference.length} values but the candidate's has ${candidate.length}`,
      'compare models with the same outputs',
    );
  }
}

/** The label of sample i as a class index in [0, c). */
function labelAt(labels: Labels, i: number, c: number): number {
  const raw = labels[i];
  const label = typeof raw === 'bigint' ? Number(raw) : raw!;
  if (!Number.isInteger(label) || label < 0 || label >= c) {
    throw new EdgefitError(
      'BAD_DATA',
      `label ${String(raw)} of sample ${i} is not a class id of a model with ${c} classes`,
      `labels must be integers from 0 to ${c - 1}`,
    );
  }
  return label;
}

function checkLabels(labels: Labels, n: number): void {
  if (labels.length !== n) {
    throw new EdgefitError(
      'BAD_DATA',
      `there are ${labels.length} labels for ${n} samples`,
      'give one label per sample (the first axis of the data)',
    );
  }
}

/** values is [N,C]; returns [N] the index of the first largest value of each row, -1 for an all-NaN row. */
export function argmax(values: Scores, n: number, c: number): Int32Array {
  checkLength('values', values, n, c);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rowArgmax(values, i * c, c);
  return out;
}

function rowArgmax(values: Scores, start: number, c: number): number {
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < c; j++) {
    const v = values[start + j]!;
    if (v > bestValue || (best < 0 && v === bestValue)) {
      best = j;
      bestValue = v;
    }
  }
  return best;
}

/** Number of classes ranked ahead of `label` in the row at `start` (Infinity when its score is NaN). */
function rankOf(scores: Scores, start: number, c: number, label: number): number {
  const target = scores[start + label]!;
  if (Number.isNaN(target)) return Number.POSITIVE_INFINITY;
  let ahead = 0;
  for (let j = 0; j < c; j++) {
    const v = scores[start + j]!;
    if (v > target || (v === target && j < label)) ahead++;
  }
  return ahead;
}

/** logits is [N,C], labels [N]; returns the fraction of samples whose label is among the k top scores. */
export function topK(logits: Scores, n: number, c: number, labels: Labels, k: number): number {
  checkLength('logits', logits, n, c);
  checkLabels(labels, n);
  let hits = 0;
  for (let i = 0; i < n; i++) if (rankOf(logits, i * c, c, labelAt(labels, i, c)) < k) hits++;
  return hits / n;
}

/** reference and candidate are [N,C]; returns the fraction of rows with the same argmax. */
export function agreement(reference: Scores, candidate: Scores, n: number, c: number): number {
  checkSameSize(reference, candidate);
  checkLength('reference', reference, n, c);
  let same = 0;
  for (let i = 0; i < n; i++) {
    const a = rowArgmax(reference, i * c, c);
    if (a >= 0 && a === rowArgmax(candidate, i * c, c)) same++;
  }
  return same / n;
}

/** reference and candidate are [L] (any flattened tensor); cosine similarity of the two. */
export function cosine(reference: Scores, candidate: Scores): number {
  checkSameSize(reference, candidate);
  let dot = 0;
  let rr = 0;
  let xx = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const x = candidate[i]!;
    dot += r * x;
    rr += r * r;
    xx += x * x;
  }
  return cosineFromSums(dot, rr, xx);
}

function cosineFromSums(dot: number, rr: number, xx: number): number {
  if (rr === 0 && xx === 0) return 1;
  if (rr === 0 || xx === 0) return 0;
  const c = dot / (Math.sqrt(rr) * Math.sqrt(xx));
  return Math.min(1, Math.max(-1, c)); // rounding can step just past ±1
}

/** reference and candidate are [L]; signal-to-quantization-noise ratio in dB. */
export function sqnr(reference: Scores, candidate: Scores): number {
  checkSameSize(reference, candidate);
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const e = r - candidate[i]!;
    signal += r * r;
    noise += e * e;
  }
  return sqnrFromSums(signal, noise);
}

function sqnrFromSums(signal: number, noise: number): number {
  if (noise === 0) return Number.POSITIVE_INFINITY;
  return 10 * Math.log10(signal / noise);
}

/** reference and candidate are [L]; largest absolute difference. */
export function maxAbsError(reference: Scores, candidate: Scores): number {
  checkSameSize(reference, candidate);
  let max = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(reference[i]! - candidate[i]!);
    if (d > max) max = d;
    else if (Number.isNaN(d)) return d;
  }
  return max;
}

export interface FidelityResult {
  agreement: number; // fraction of rows with the same argmax
  cosine: number;
  sqnr: number; // dB
  maxAbsError: number;
  samples: number; // rows seen
}

/** Fidelity of one output across batches: feed each batch's reference and candidate values. */
export class FidelityAccumulator {
  private same = 0;
  private rows = 0;
  private dot = 0;
  private refSquares = 0;
  private candSquares = 0;
  private errorSquares = 0;
  private maxError = 0;

  /** reference and candidate are [rows, cols] (cols = the product of the other axes). */
  add(reference: Scores, candidate: Scores, rows: number, cols: number): void {
    checkSameSize(reference, candidate);
    checkLength('reference', reference, rows, cols);
    for (let i = 0; i < rows; i++) {
      const a = rowArgmax(reference, i * cols, cols);
      if (a >= 0 && a === rowArgmax(candidate, i * cols, cols)) this.same++;
    }
    this.rows += rows;
    for (let i = 0; i < reference.length; i++) {
      const r = reference[i]!;
      const x = candidate[i]!;
      const e = r - x;
      this.dot += r * x;
      this.refSquares += r * r;
      this.candSquares += x * x;
      this.errorSquares += e * e;
      const d = Math.abs(e);
      if (d > this.maxError || Number.isNaN(d)) this.maxError = d; // NaN, once in, stays
    }
  }

  result(): FidelityResult {
    return {
      agreement: this.same / this.rows,
      cosine: cosineFromSums(this.dot, this.refSquares, this.candSquares),
      sqnr: sqnrFromSums(this.refSquares, this.errorSquares),
      maxAbsError: this.maxError,
      samples: this.rows,
    };
  }
}

export interface AccuracyResult {
  top1: number; // fraction of samples whose label has the top score
  top5: number; // fraction of samples whose label is among the five top scores
  samples: number;
}

/** Top-1 and top-5 accuracy across batches. */
export class AccuracyAccumulator {
  private top1Hits = 0;
  private top5Hits = 0;
  private rows = 0;

  /** logits is [rows, cols], labels [rows]: this batch's labels. */
  add(logits: Scores, rows: number, cols: number, labels: Labels): void {
    checkLength('logits', logits, rows, cols);
    checkLabels(labels, rows);
    for (let i = 0; i < rows; i++) {
      const rank = rankOf(logits, i * cols, cols, labelAt(labels, i, cols));
      if (rank < 1) this.top1Hits++;
      if (rank < 5) this.top5Hits++;
    }
    this.rows += rows;
  }

  result(): AccuracyResult {
    return { top1: this.top1Hits / this.rows, top5: this.top5Hits / this.rows, samples: this.rows };
  }
}
