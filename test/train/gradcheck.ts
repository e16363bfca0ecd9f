// Central finite differences against the emitted backward graph: the forward graph runs in
// onnxruntime-node with each input element nudged by ±h; f = Σ y·R (R a fixed random tensor, summed in
// double on the host), so df/dx is the gradient the backward graph computes for the seed dy = R.
// The error is max |fd - analytic| / max |analytic| over each input (relative to the gradient's scale).
import { afterAll, expect, it } from 'vitest';
import type { Model, Value } from '../../src/ir/graph.js';
import { encodeModel } from '../../src/ir/serialize.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { buildBackward } from '../../src/train/autodiff.js';
import { GraphBuilder, newModel, randn } from '../helpers/models.js';

export interface InputSpec {
  dims: number[];
  /** values (default: standard normal from the seed) */
  data?: Float32Array | BigInt64Array | Int8Array | Uint8Array;
  dtype?: number;
  /** compare this input's gradient (default true for float inputs) */
  grad?: boolean;
}

export interface GradCase {
  opset?: number;
  inputs: Record<string, InputSpec>;
  build(b: GraphBuilder, x: Record<string, Value>): Value;
  /** FD step (default 1e-2) */
  h?: number;
  seed?: number;
  /** false: only the analytic gradients (for straight-through estimators, which FD cannot see) */
  fd?: boolean;
  /** build the backward for blocked convolutions of this block size */
  block?: number;
}

export interface GradResult {
  /** worst relative error over the inputs checked */
  error: number;
  perInput: Record<string, number>;
  analytic: Record<string, Float32Array>;
  /** the output gradient used (f = Σ y·R) */
  R: Float32Array;
}

function forwardModel(c: GradCase): { model: Model; y: Value; inputs: Record<string, Value> } {
  const model = newModel({ '': c.opset ?? 17 });
  const b = new GraphBuilder(model.graph);
  const inputs: Record<string, Value> = {};
  for (const [name, s] of Object.entries(c.inputs))
    inputs[name] = b.input(name, { elemType: s.dtype ?? 1, shape: s.dims });
  const y = c.build(b, inputs);
  b.output(y);
  return { model, y, inputs };
}

function feedsOf(c: GradCase): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  let k = 0;
  for (const [name, s] of Object.entries(c.inputs)) {
    const n = s.dims.reduce((a, b) => a * b, 1);
    feeds[name] = { dtype: s.dtype ?? 1, dims: s.dims, data: s.data ?? randn(n, (c.seed ?? 1) * 100 + k++) };
  }
  return feeds;
}

export async function gradCheck(c: GradCase): Promise<GradResult> {
  const { model, y } = forwardModel(c);
  const feeds = feedsOf(c);
  const fwd = await nodeRuntime.createSession(encodeModel(model));
  try {
    const y0 = (await fwd.run(feeds))[y.name]!;
    const R = randn((y0.data as Float32Array).length, 999);
    const f = async (fd: Record<string, HostTensor>) => {
      const out = (await fwd.run(fd))[y.name]!.data as Float32Array;
      let s = 0;
      for (let i = 0; i < out.length; i++) s += out[i]! * R[i]!;
      return s;
    };
    const wanted = Object.entries(c.inputs)
      .filter(([, s]) => s.grad ?? (s.dtype ?? 1) === 1)
      .map(([n]) => n);

    // the backward graph, on a second build of the forward graph (node marks such as meta.ste kept)
    const gm = forwardModel(c).model;
    const gb = new GraphBuilder(gm.graph);
    const gy = gm.graph.outputs[0]!;
    const dy = gb.input('dy', { elemType: 1, shape: y0.dims });
    const wrt = wanted.map((n) => gm.graph.inputs.find((v) => v.name === n)!);
    const { grads } = buildBackward(gm, { seeds: new Map([[gy, dy]]), wrt, block: c.block });
    gm.graph.outputs.length = 0;
    for (const v of wrt) {
      const g = grads.get(v);
      if (!g) throw new Error(`no gradient for ${v.name}`);
      gb.output(gb.op('Identity', [g], {}, { name: `grad_${v.name}` }));
    }
    const gs = await nodeRuntime.createSession(encodeModel(gm));
    let analyticOut: Record<string, HostTensor>;
    try {
      analyticOut = await gs.run({ ...feeds, dy: { dtype: 1, dims: y0.dims, data: R } });
    } finally {
      await gs.release();
    }
    const h = c.h ?? 1e-2;
    const perInput: Record<string, number> = {};
    const analytic: Record<string, Float32Array> = {};
    for (const [k, name] of wanted.entries()) {
      const g = analyticOut[gm.graph.outputs[k]!.name]!.data as Float32Array;
      analytic[name] = g;
      if (c.fd === false) continue;
      const base = feeds[name]!.data as Float32Array;
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < base.length; i++) {
        const plus = Float32Array.from(base);
        const minus = Float32Array.from(base);
        plus[i] = base[i]! + h;
        minus[i] = base[i]! - h;
        const fp = await f({ ...feeds, [name]: { ...feeds[name]!, data: plus } });
        const fm = await f({ ...feeds, [name]: { ...feeds[name]!, data: minus } });
        const fd = (fp - fm) / (plus[i]! - minus[i]!);
        worst = Math.max(worst, Math.abs(fd - g[i]!));
        scale = Math.max(scale, Math.abs(g[i]!));
      }
      perInput[name] = scale > 0 ? worst / scale : worst;
    }
    return { error: Math.max(0, ...Object.values(perInput)), perInput, analytic, R };
  } finally {
    await fwd.release();
  }
}

/** Values spread away from 0 (kinks of Relu, Clip, ...): sign(x)·(|x| + margin). */
export function awayFromZero(n: number, seed: number, margin = 0.1): Float32Array {
  return randn(n, seed).map((v) => Math.sign(v || 1) * (Math.abs(v) + margin));
}

/** Distinct values with gaps of `gap` in shuffled order (MaxPool ties and kinks avoided). */
export function distinct(n: number, seed: number, gap = 0.05): Float32Array {
  const order = randn(n, seed);
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => order[a]! - order[b]!);
  const out = new Float32Array(n);
  idx.forEach((j, rank) => {
    out[j] = (rank - n / 2) * gap;
  });
  return out;
}

/** `check(name, case)` registers a test asserting the error is below 1e-3; the errors are printed after all. */
export function ruleChecks(tolerance = 1e-3): (name: string, c: GradCase) => void {
  const results: [string, number][] = [];
  afterAll(() => {
    const lines = results.map(([n, e]) => `  ${e.toExponential(2)}  ${n}`);
    console.log(`worst relative error vs finite differences:\n${lines.join('\n')}`);
  });
  return (name, c) =>
    it(name, async () => {
      const r = await gradCheck(c);
      results.push([name, r.error]);
      expect(r.error).toBeLessThan(tolerance);
    });
}
