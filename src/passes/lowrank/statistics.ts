// Calibration statistics of the layers decompose-svd factorizes with data (one run of the float
// model over the calibration samples, every needed value exposed at once; only K×K sums and the
// means are kept, float64, each batch's XᵀX one ONNX Runtime Gemm):
//  1. linear: G = E[x xᵀ] over the rows of its input flattened to [M, K].
//  2. pointwise: G over the input pixels the 1×1 conv reads (its strides and pads: a padded pixel is 0).
//  3. spatial: G over the vertical patches the kh×1 conv reads: the vector x[c, h'·sh + i·dh − top, w]
//     for c < Cin, i < kh (index c·kh + i, the rows of the factorized matrix), at every output row h'
//     and every input column w.
//  4. tucker: G over every input pixel's channel vector [Cin, Cin]; the centred covariance and the
//     mean of the output channels [Cout] (the mean minus the conv's bias: before the bias).
// Layers inside subgraphs get no statistics (collection exposes main-graph values only).

import type { Model } from '../../ir/graph.js';
import type { ConvStatistics } from '../../kernels/lowrank.js';
import type { MatMul } from '../../kernels/matmul.js';
import { DataType } from '../../onnx/dtype.js';
import type { HostTensor } from '../../runtime/types.js';
import type { PassContext } from '../pass.js';
import { asFloat32, constantOf } from '../util.js';
import { convOut, type Layer, padsFor } from './layers.js';

/** What to accumulate from one value: the rows of a matrix, or patch vectors of an NCHW tensor. */
interface Spec {
  value: string;
  /** vector length */
  d: number;
  patch?: {
    kh: number;
    dh: number;
    sh: number;
    sw: number;
    pads: [number, number, number, number];
    autoPad: string;
    /** horizontal stride and pads apply (pointwise); else every input column, unpadded */
    horizontal: boolean;
  };
  mean: boolean;
}

interface Accumulator {
  spec: Spec;
  gram: Float64Array;
  sum: Float64Array;
  rows: number;
}

/** E[x xᵀ] and E[x] of a matrix layer's input vectors, or a Tucker-2 conv's statistics */
export type LayerStatistics = { gram: Float64Array; mean: Float64Array } | ConvStatistics;

const MAX_CHUNK = 1 << 22;

/** The patch rows of x [B, C, H, W] (header, rules 2–4), in chunks of whole samples. */
function* patchRows(t: HostTensor, spec: Spec): Generator<{ data: Float32Array; rows: number }> {
  const x = asFloat32(t);
  const [b, c, h, w] = t.dims as [number, number, number, number];
  const p = spec.patch!;
  const [pt, pb] = padsFor(p.autoPad, h, p.kh, p.sh, p.dh, [p.pads[0], p.pads[2]]);
  const [pl, pr] = p.horizontal ? padsFor(p.autoPad, w, 1, p.sw, 1, [p.pads[1], p.pads[3]]) : [0, 0];
  const sw = p.horizontal ? p.sw : 1;
  const ho = convOut(h, p.kh, p.sh, p.dh, [pt, pb]);
  const wo = convOut(w, 1, sw, 1, [pl, pr]);
  const perSample = ho * wo;
  const d = c * p.kh;
  const chunk = Math.max(1, Math.floor(MAX_CHUNK / (perSample * d)));
  for (let s0 = 0; s0 < b; s0 += chunk) {
    const s1 = Math.min(b, s0 + chunk);
    const out = new Float32Array((s1 - s0) * perSample * d);
    let row = 0;
    for (let s = s0; s < s1; s++)
      for (let y = 0; y < ho; y++)
        for (let z = 0; z < wo; z++, row++) {
          const col = z * sw - pl;
          if (col < 0 || col >= w) continue;
          for (let ci = 0; ci < c; ci++) {
            const plane = (s * c + ci) * h * w;
            for (let i = 0; i < p.kh; i++) {
              const r = y * p.sh + i * p.dh - pt;
              if (r >= 0 && r < h) out[row * d + ci * p.kh + i] = x[plane + r * w + col]!;
            }
          }
        }
    yield { data: out, rows: row };
  }
}

function specsOf(l: Layer): { input: Spec; output?: Spec } {
  const x = l.node.inputs[0]!.name;
  if (l.kind === 'linear') return { input: { value: x, d: l.k, mean: true } };
  const c = l.conv!;
  const patch = {
    kh: 1,
    dh: 1,
    sh: 1,
    sw: 1,
    pads: [0, 0, 0, 0] as [number, number, number, number],
    autoPad: 'NOTSET',
    horizontal: false,
  };
  if (l.kind === 'pointwise')
    return {
      input: {
        value: x,
        d: c.cin,
        mean: true,
        patch: {
          ...patch,
          sh: c.strides[0],
          sw: c.strides[1],
          pads: c.pads,
          autoPad: c.autoPad,
          horizontal: true,
        },
      },
    };
  if (l.kind === 'spatial')
    return {
      input: {
        value: x,
        d: c.cin * c.kh,
        mean: true,
        patch: { ...patch, kh: c.kh, dh: c.dilations[0], sh: c.strides[0], pads: c.pads, autoPad: c.autoPad },
      },
    };
  return {
    input: { value: x, d: c.cin, mean: false, patch },
    output: { value: l.node.outputs[0]!.name, d: c.cout, mean: true, patch },
  };
}

const keyOf = (s: Spec) => JSON.stringify(s);

/** Run the model over the calibration data once and return each main-graph layer's statistics. */
export async function collectStatistics(
  model: Model,
  layers: Layer[],
  ctx: PassContext,
  mm: MatMul,
  samples: number,
): Promise<Map<Layer, LayerStatistics>> {
  const acc = new Map<string, Accumulator>();
  const want = new Map<Layer, { input: string; output?: string }>();
  const add = (spec: Spec) => {
    const key = keyOf(spec);
    if (!acc.has(key))
      acc.set(key, { spec, gram: new Float64Array(spec.d * spec.d), sum: new Float64Array(spec.d), rows: 0 });
    return key;
  };
  for (const l of layers) {
    if (l.index === undefined) continue;
    const s = specsOf(l);
    want.set(l, { input: add(s.input), ...(s.output ? { output: add(s.output) } : {}) });
  }
  const names = [...new Set([...acc.values()].map((a) => a.spec.value))];
  const inputs = new Set(model.graph.inputs.map((v) => v.name));
  if (names.every((n) => inputs.has(n)) && model.graph.outputs[0]) names.push(model.graph.outputs[0].name);
  const absorb = async (a: Accumulator, data: Float32Array, rows: number) => {
    const g = await mm.gram(data, rows, a.spec.d);
    for (let i = 0; i < g.length; i++) a.gram[i]! += g[i]!;
    if (a.spec.mean)
      for (let r = 0; r < rows; r++) for (let j = 0; j < a.spec.d; j++) a.sum[j]! += data[r * a.spec.d + j]!;
    a.rows += rows;
  };
  if (acc.size)
    await ctx.collect!(
      model,
      names,
      async (values) => {
        for (const a of acc.values()) {
          const t = values[a.spec.value];
          if (!t || t.dtype !== DataType.FLOAT) continue;
          if (!a.spec.patch) {
            const x = asFloat32(t);
            const rows = x.length / a.spec.d;
            if (Number.isInteger(rows) && rows > 0) await absorb(a, x, rows);
          } else if (t.dims.length === 4)
            for (const p of patchRows(t, a.spec)) await absorb(a, p.data, p.rows);
        }
      },
      { limit: samples },
    );
  const out = new Map<Layer, LayerStatistics>();
  const normalised = (a: Accumulator) => Float64Array.from(a.gram, (v) => v / a.rows);
  for (const [l, w] of want) {
    const input = acc.get(w.input)!;
    if (!input.rows) continue;
    if (!w.output) {
      out.set(l, { gram: normalised(input), mean: Float64Array.from(input.sum, (v) => v / input.rows) });
      continue;
    }
    const o = acc.get(w.output)!;
    if (!o.rows) continue;
    const d = o.spec.d;
    const mean = Float64Array.from(o.sum, (v) => v / o.rows);
    const cov = normalised(o);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cov[i * d + j]! -= mean[i]! * mean[j]!;
    const bias = constantOf(l.node.inputs[2])?.toFloat32();
    const outMean = Float64Array.from(mean, (m, i) => m - (bias ? bias[i % bias.length]! : 0));
    out.set(l, { inGram: normalised(input), outCov: cov, outMean });
  }
  return out;
}
