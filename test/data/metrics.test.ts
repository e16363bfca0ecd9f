// Metrics: small cases computed by hand, a known noise level for SQNR, and the streaming accumulators
// against the one-shot functions.

import { describe, expect, it } from 'vitest';
import {
  AccuracyAccumulator,
  agreement,
  argmax,
  cosine,
  FidelityAccumulator,
  maxAbsError,
  sqnr,
  topK,
} from '../../src/data/index.js';
import { EdgefitError } from '../../src/errors.js';

// [3,4]: label 1 is top; label 2 is second (behind 3); label 3 ties with classes 0 and 1, which rank
// ahead of it by index, so it is third.
const logits = new Float32Array([0.1, 2, 0.5, -1, 3, 1, 2, 0, 1, 1, 0, 1]);
const labels = [1, 2, 3];

/** Deterministic pseudo-random values in [-1, 1). */
function pseudoRandom(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = s / 1073741824 - 1;
  }
  return out;
}

function errorOf(fn: () => unknown): EdgefitError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EdgefitError);
    return e as EdgefitError;
  }
  throw new Error('expected an EdgefitError');
}

describe('argmax and topK', () => {
  it('argmax takes the first largest value and skips NaN', () => {
    const v = new Float32Array([1, 3, 2, 5, 5, 1, Number.NaN, Number.NaN, Number.NaN, Number.NaN, 0, -1]);
    expect(Array.from(argmax(v, 4, 3))).toEqual([1, 0, -1, 1]);
    expect(Array.from(argmax(logits, 3, 4))).toEqual([1, 0, 0]);
  });

  it('counts a label as top-k by its rank, ties broken by index', () => {
    expect(topK(logits, 3, 4, labels, 1)).toBe(1 / 3);
    expect(topK(logits, 3, 4, labels, 2)).toBe(2 / 3);
    expect(topK(logits, 3, 4, labels, 3)).toBe(1);
    expect(topK(logits, 3, 4, new BigInt64Array([1n, 0n, 0n]), 1)).toBe(1);
    expect(topK(new Float32Array([Number.NaN, 1, 0]), 1, 3, [0], 3)).toBe(0);
  });

  it('rejects labels that are not class ids, or one label too few', () => {
    expect(errorOf(() => topK(logits, 3, 4, [1, 4, 0], 1)).message).toBe(
      'label 4 of sample 1 is not a class id of a model with 4 classes (labels must be integers from 0 to 3)',
    );
    expect(errorOf(() => topK(logits, 3, 4, [1, 0.5, 0], 1)).code).toBe('BAD_DATA');
    expect(errorOf(() => topK(logits, 3, 4, [1, 2], 1)).message).toMatch(/there are 2 labels for 3 samples/);
  });

  it('treats a size mismatch in its own arguments as a bug', () => {
    expect(() => topK(logits, 3, 5, labels, 1)).toThrow(/expected 3 × 5 = 15/);
  });
});

describe('fidelity', () => {
  it('agreement compares row argmaxes', () => {
    // reference argmax rows [1, 0, 0]; candidate rows [1, 1, 0]
    const candidate = new Float32Array([0, 1.5, 0.2, 0, 1, 3, 2, 0, 2, 2, 2, 2]);
    expect(agreement(logits, candidate, 3, 4)).toBe(2 / 3);
    expect(agreement(logits, logits, 3, 4)).toBe(1);
    const nan = new Float32Array(3).fill(Number.NaN);
    expect(agreement(nan, nan, 1, 3)).toBe(0);
  });

  it('cosine over the flattened tensor', () => {
    const a = new Float32Array([1, 2, 3]);
    expect(cosine(a, new Float32Array([4, 5, 6]))).toBeCloseTo(32 / Math.sqrt(14 * 77), 15); // 0.97463184619707…
    expect(cosine(a, new Float32Array([2, 4, 6]))).toBe(1);
    expect(cosine(a, new Float32Array([-1, -2, -3]))).toBe(-1);
    expect(cosine(new Float32Array([1, 0]), new Float32Array([0, 1]))).toBe(0);
    expect(cosine(new Float32Array(2), new Float32Array(2))).toBe(1);
    expect(cosine(new Float32Array(2), new Float32Array([0, 1]))).toBe(0);
  });

  it('sqnr of hand-computed cases', () => {
    // signal 1+4+9+16 = 30, noise 1 → 10 log10 30
    expect(sqnr(new Float32Array([1, 2, 3, 4]), new Float32Array([1, 2, 3, 5]))).toBeCloseTo(
      14.771212547196624,
      12,
    );
    const ref = new Float32Array([3, -4]);
    expect(sqnr(ref, ref.slice())).toBe(Number.POSITIVE_INFINITY);
    expect(sqnr(new Float32Array(2), new Float32Array([0, 1]))).toBe(Number.NEGATIVE_INFINITY);
    // float32 squares of 1e20 overflow float32 but not the float64 sums
    const big = Math.fround(1e20);
    const off = Math.fround(1.1e20);
    expect(sqnr(new Float32Array([big, big]), new Float32Array([big, off]))).toBeCloseTo(
      10 * Math.log10((2 * big * big) / ((big - off) * (big - off))),
      12,
    );
  });

  it('sqnr of a sine wave with noise of known power', () => {
    // ref = sin(2π·3k/N) has power 1/2; noise = 0.01·cos(2π·7k/N) has power 0.01²/2 over whole periods,
    // so SQNR = 10 log10(1 / 0.01²) = 40 dB.
    const n = 1000;
    const ref = new Float32Array(n);
    const noisy = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      ref[k] = Math.sin((2 * Math.PI * 3 * k) / n);
      noisy[k] = ref[k]! + 0.01 * Math.cos((2 * Math.PI * 7 * k) / n);
    }
    expect(Math.abs(sqnr(ref, noisy) - 40)).toBeLessThan(0.01);

    // an 8-bit uniform quantizer on a full-scale sine: the textbook 6.02·8 + 1.76 = 49.92 dB
    const steps = 2 / 256;
    const quantized = ref.map((v) => (Math.min(Math.floor(v / steps), 127) + 0.5) * steps);
    expect(Math.abs(sqnr(ref, quantized) - 49.92)).toBeLessThan(0.3);
  });

  it('maxAbsError, with NaN propagating', () => {
    expect(maxAbsError(new Float32Array([1, 2, 3]), new Float32Array([1.5, 2, 1]))).toBe(2);
    expect(maxAbsError(new Float32Array([1, 2]), new Float32Array([Number.NaN, 2]))).toBeNaN();
    expect(maxAbsError(new Float32Array(0), new Float32Array(0))).toBe(0);
  });

  it('rejects outputs of different sizes', () => {
    const e = errorOf(() => cosine(new Float32Array(3), new Float32Array(4)));
    expect(e.code).toBe('BAD_DATA');
    expect(e.message).toMatch(/reference output has 3 values but the candidate's has 4/);
  });
});

describe('accumulators', () => {
  const n = 50;
  const c = 10;
  const reference = pseudoRandom(n * c, 1);
  const noise = pseudoRandom(n * c, 2);
  const candidate = reference.map((v, i) => v + 0.2 * noise[i]!);
  const classes = Array.from({ length: n }, (_, i) => (i * 7) % c);

  it('FidelityAccumulator over batches equals the one-shot metrics', () => {
    const acc = new FidelityAccumulator();
    acc.add(reference.subarray(0, 20 * c), candidate.subarray(0, 20 * c), 20, c);
    acc.add(reference.subarray(20 * c), candidate.subarray(20 * c), 30, c);
    const r = acc.result();
    expect(r.samples).toBe(50);
    expect(r.agreement).toBe(agreement(reference, candidate, n, c));
    expect(r.agreement).toBeGreaterThan(0.5);
    expect(r.agreement).toBeLessThan(1);
    expect(r.cosine).toBe(cosine(reference, candidate));
    expect(r.sqnr).toBe(sqnr(reference, candidate));
    expect(r.maxAbsError).toBe(maxAbsError(reference, candidate));
  });

  it('FidelityAccumulator of identical outputs', () => {
    const acc = new FidelityAccumulator();
    acc.add(reference, reference, n, c);
    expect(acc.result()).toEqual({ agreement: 1, cosine: 1, sqnr: Infinity, maxAbsError: 0, samples: 50 });
    expect(new FidelityAccumulator().result().agreement).toBeNaN();
  });

  it('AccuracyAccumulator over batches equals topK', () => {
    const acc = new AccuracyAccumulator();
    acc.add(reference.subarray(0, 25 * c), 25, c, classes.slice(0, 25));
    acc.add(reference.subarray(25 * c), 25, c, new BigInt64Array(classes.slice(25).map(BigInt)));
    const r = acc.result();
    expect(r.samples).toBe(50);
    expect(r.top1).toBe(topK(reference, n, c, classes, 1));
    expect(r.top5).toBe(topK(reference, n, c, classes, 5));
    expect(r.top1).toBeLessThan(r.top5);
  });

  it('AccuracyAccumulator of the hand case', () => {
    const acc = new AccuracyAccumulator();
    acc.add(logits, 3, 4, labels);
    expect(acc.result()).toEqual({ top1: 1 / 3, top5: 1, samples: 3 });
    expect(new AccuracyAccumulator().result().top1).toBeNaN();
  });
});
