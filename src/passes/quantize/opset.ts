// Raising a model's ai.onnx opset when a rewrite needs newer ops (DynamicQuantizeLinear: 11;
// per-axis DequantizeLinear: 13; int4 and blocked DequantizeLinear: 21).
//  1. `raiseOpset` only changes the version, and only when no op of the model changed meaning in
//     between (the BREAKING table below).
//  2. `upgradeOpset` also rewrites the ops whose change it knows (UPGRADES): an attribute that became
//     an input (Clip 11 min/max, Slice 10, Pad 11, TopK 10, Squeeze/Unsqueeze/Split/ReduceSum 13),
//     Softmax-family 13 (the old 2-D coercion: the same op when the axis is the last one, else
//     Flatten -> op -> Reshape to the input's shape), BatchNormalization 9 (`spatial` gone), Dropout 12
//     (ratio as an input). Other ops that changed (Upsample, Resize 10 -> 11, Scan, Scatter) block it.
// Every rewrite happens only once the whole model is known to convert; otherwise nothing changes and
// the caller falls back and says why.

import { attrFloat, attrInt, attrInts, GraphBuilder } from '../../ir/builder.js';
import type { Model, Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { DataType } from '../../onnx/dtype.js';

// ai.onnx versions at which ops changed meaning (an attribute became an input, new axis semantics...);
// added types, or added attributes whose default keeps the old behaviour, are not listed.
const BREAKING: [number, string[]][] = [
  [7, ['Gemm']],
  [9, ['Upsample', 'Scan', 'BatchNormalization']],
  [10, ['Upsample', 'Slice', 'TopK']],
  [11, ['Pad', 'Resize', 'Clip', 'Scatter']],
  [12, ['Dropout']],
  [13, ['Softmax', 'LogSoftmax', 'Hardmax', 'Split', 'Squeeze', 'Unsqueeze', 'ReduceSum']],
  [18, ['ReduceMax', 'ReduceMin', 'ReduceMean', 'ReduceProd', 'ReduceL1', 'ReduceL2']],
  [18, ['ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']],
  [20, ['GridSample', 'DFT']],
  [21, ['GroupNormalization']],
];

/** The changes of one op at one version: `ok` says whether this node can be rewritten, `apply` does it. */
interface Upgrade {
  ok(n: Node): boolean;
  apply(n: Node, b: GraphBuilder): void;
}

const i64 = (b: GraphBuilder, base: string, values: number[]) =>
  b.weight(base, Tensor.fromInt64('', [values.length], values));

/** Attribute `name` (ints) becomes input `index` (absent attribute: input left empty). */
function intsToInput(n: Node, b: GraphBuilder, name: string, index: number): void {
  const v = attrInts(n, name);
  n.attributes.delete(name);
  while (n.inputs.length < index) n.addInput(undefined);
  if (v) n.setInput(index, i64(b, `${n.name || n.opType}_${name}`, v));
}

const isFloat32 = (n: Node) => n.inputs[0]?.type?.elemType === DataType.FLOAT;

const SOFTMAX: Upgrade = {
  ok: () => true,
  apply(n, b) {
    const rank = n.inputs[0]?.type?.shape?.length;
    const axis = attrInt(n, 'axis', 1);
    const last = rank !== undefined && (axis === -1 || axis === rank - 1);
    if (last) {
      n.attributes.delete('axis');
      return;
    }
    // the old semantics: flatten to [prod(d < axis), prod(d >= axis)], the op over the second dim
    const g = n.graph;
    const at = g.nodes.indexOf(n);
    const x = n.inputs[0]!;
    const flat = b.op('Flatten', [x], { axis }, { at });
    const shape = b.op('Shape', [x], {}, { at: at + 1 });
    n.setInput(0, flat);
    n.attributes.delete('axis');
    const y = n.outputs[0]!;
    const inner = b.value(`${y.name}_2d`);
    n.outputs[0] = inner;
    inner.producer = n;
    inner.producerIndex = 0;
    const r = b.node('Reshape', [inner, shape], {}, { at: g.nodes.indexOf(n) + 1 });
    r.outputs[0] = y;
    y.producer = r;
    y.producerIndex = 0;
  },
};

const UPGRADES: Record<string, [number, Upgrade][]> = {
  Clip: [
    [
      11,
      {
        ok: isFloat32,
        apply(n, b) {
          const lo = n.attributes.has('min') ? attrFloat(n, 'min', 0) : undefined;
          const hi = n.attributes.has('max') ? attrFloat(n, 'max', 0) : undefined;
          n.attributes.delete('min');
          n.attributes.delete('max');
          const f = (base: string, x: number) => b.weight(base, Tensor.fromFloat32('', [], [x]));
          n.setInput(1, lo === undefined ? undefined : f(`${n.name || 'clip'}_min`, lo));
          n.setInput(2, hi === undefined ? undefined : f(`${n.name || 'clip'}_max`, hi));
        },
      },
    ],
  ],
  Slice: [
    [
      10,
      {
        ok: (n) => !!attrInts(n, 'starts') && !!attrInts(n, 'ends'),
        apply(n, b) {
          intsToInput(n, b, 'starts', 1);
          intsToInput(n, b, 'ends', 2);
          intsToInput(n, b, 'axes', 3);
        },
      },
    ],
  ],
  Pad: [
    [
      11,
      {
        ok: (n) => isFloat32(n) && !!attrInts(n, 'pads'),
        apply(n, b) {
          const value = attrFloat(n, 'value', 0);
          n.attributes.delete('value');
          intsToInput(n, b, 'pads', 1);
          if (value !== 0)
            n.setInput(2, b.weight(`${n.name || 'pad'}_value`, Tensor.fromFloat32('', [], [value])));
        },
      },
    ],
  ],
  TopK: [
    [
      10,
      {
        ok: (n) => attrInt(n, 'k') !== undefined,
        apply(n, b) {
          const k = attrInt(n, 'k')!;
          n.attributes.delete('k');
          n.setInput(1, i64(b, `${n.name || 'topk'}_k`, [k]));
        },
      },
    ],
  ],
  BatchNormalization: [
    [9, { ok: (n) => attrInt(n, 'spatial', 1) === 1, apply: (n) => n.attributes.delete('spatial') }],
    [14, { ok: (n) => n.outputs.slice(1).every((o) => !o.uses.length && !o.isGraphOutput), apply: () => {} }],
  ],
  Dropout: [
    [
      12,
      {
        ok: (n) => n.outputs.slice(1).every((o) => !o.uses.length && !o.isGraphOutput),
        apply(n, b) {
          const ratio = n.attributes.has('ratio') ? attrFloat(n, 'ratio', 0.5) : undefined;
          n.attributes.delete('ratio');
          if (ratio !== undefined)
            n.setInput(1, b.weight(`${n.name || 'dropout'}_ratio`, Tensor.fromFloat32('', [], [ratio])));
        },
      },
    ],
  ],
  Softmax: [[13, SOFTMAX]],
  LogSoftmax: [[13, SOFTMAX]],
  Hardmax: [[13, SOFTMAX]],
  Squeeze: [[13, { ok: () => true, apply: (n, b) => intsToInput(n, b, 'axes', 1) }]],
  Unsqueeze: [[13, { ok: (n) => !!attrInts(n, 'axes'), apply: (n, b) => intsToInput(n, b, 'axes', 1) }]],
  Split: [[13, { ok: () => true, apply: (n, b) => intsToInput(n, b, 'split', 1) }]],
  ReduceSum: [[13, { ok: () => true, apply: (n, b) => intsToInput(n, b, 'axes', 1) }]],
};

function changesOf(n: Node): number[] {
  const changes = BREAKING.filter(([, ops]) => ops.includes(n.opType)).map(([v]) => v);
  // BatchNormalization 14 dropped the training-only outputs
  if (n.opType === 'BatchNormalization' && n.outputs.length > 1) changes.push(14);
  return changes;
}

function checkVersion(model: Model): string | undefined {
  const from = model.opset('') ?? 1;
  if (from < 7) return `opset ${from} is too old to convert`;
  if (model.functions.length) return 'the model has local functions';
  return undefined;
}

const defaultDomain = (n: Node) => n.domain === '' || n.domain === 'ai.onnx';

/** Why the default-domain opset cannot be raised to `to` as it is (no rewrites), or undefined when it can. */
export function opsetBlocker(model: Model, to: number): string | undefined {
  const from = model.opset('') ?? 1;
  const bad = checkVersion(model);
  if (bad) return bad;
  for (const n of model.graph.allNodes()) {
    if (!defaultDomain(n)) continue;
    const at = changesOf(n).find((v) => v > from && v <= to);
    if (at !== undefined) return `${n.opType} changed meaning in opset ${at}`;
  }
  return undefined;
}

/** Raise the default opset to at least `to` (and the IR version with it); false when unsafe. */
export function raiseOpset(model: Model, to: number): boolean {
  if ((model.opset('') ?? 1) >= to) return true;
  if (opsetBlocker(model, to)) return false;
  setVersion(model, to);
  return true;
}

function setVersion(model: Model, to: number): void {
  model.opsetImports.set('', to);
  model.irVersion = Math.max(model.irVersion, to >= 21 ? 10 : 7);
}

/** The rewrites raising the model to `to` needs, or why it cannot be raised. */
function plan(model: Model, to: number): { steps: [Node, Upgrade][] } | { blocker: string } {
  const from = model.opset('') ?? 1;
  const bad = checkVersion(model);
  if (bad) return { blocker: bad };
  const steps: [Node, Upgrade][] = [];
  for (const n of model.graph.allNodes()) {
    if (!defaultDomain(n)) continue;
    for (const at of changesOf(n).filter((v) => v > from && v <= to)) {
      const u = UPGRADES[n.opType]?.find(([v]) => v === at)?.[1];
      if (!u)
        return { blocker: `${n.opType} changed meaning in opset ${at} and edgefit does not convert it` };
      if (!u.ok(n)) return { blocker: `${n.opType} ${n.name} cannot be converted to opset ${at}` };
      steps.push([n, u]);
    }
  }
  return { steps };
}

/** Why `upgradeOpset(model, to)` would fail, or undefined when it would succeed. */
export function upgradeBlocker(model: Model, to: number): string | undefined {
  if ((model.opset('') ?? 1) >= to) return undefined;
  const p = plan(model, to);
  return 'blocker' in p ? p.blocker : undefined;
}

/**
 * Raise the default opset to at least `to`, rewriting the ops whose meaning changed on the way
 * (rule 2). Returns the number of nodes rewritten, or undefined (and changes nothing) when some op
 * cannot be converted: `upgradeBlocker` says which.
 */
export function upgradeOpset(model: Model, to: number): number | undefined {
  if ((model.opset('') ?? 1) >= to) return 0;
  const p = plan(model, to);
  if ('blocker' in p) return undefined;
  for (const [n, u] of p.steps) u.apply(n, new GraphBuilder(n.graph));
  setVersion(model, to);
  return p.steps.length;
}
