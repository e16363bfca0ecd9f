// Rules for matrix products (MatMul, Gemm, Einsum with its equation parser einsumDims) and the
// recurrent ops (LSTM, GRU, RNN).

import type { Dim } from '../../../ir/graph.js';
import { DataType } from '../../../onnx/dtype.js';
import type { Rule, RuleContext, RuleRow } from '../context.js';
import { broadcastDim, broadcastShapes } from '../dims.js';

export function matmulShape(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b || a.length === 0 || b.length === 0) return undefined;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)])!;
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

export function transposeLast(s: Dim[] | undefined, yes: boolean): Dim[] | undefined {
  if (!s || !yes || s.length < 2) return s;
  return [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
}

export function gemmRule(bIndex: number, elemType: (c: RuleContext) => number): Rule {
  return (c) => {
    const a = c.shape(0);
    const b = c.shape(bIndex);
    const m = a?.length === 2 ? a[c.int('transA', 0) ? 1 : 0]! : null;
    const n = b?.length === 2 ? b[c.int('transB', 0) ? 0 : 1]! : null;
    c.set(0, elemType(c), [m, n]);
  };
}

/** Sizes of an einsum equation's letters and its output shape (`...` broadcast like numpy). */
export function einsumDims(
  equation: string,
  shapes: (Dim[] | undefined)[],
): { letters: Map<string, Dim>; ellipsis: Dim[]; output: Dim[] } | undefined {
  const [lhs, rhs] = equation.replace(/\s/g, '').split('->');
  if (lhs === undefined) return undefined;
  const terms = lhs.split(',');
  if (terms.length !== shapes.length) return undefined;
  const letters = new Map<string, Dim>();
  const counts = new Map<string, number>();
  let ellipsis: Dim[] = [];
  for (let t = 0; t < terms.length; t++) {
    const term = terms[t]!;
    const shape = shapes[t];
    if (!shape) return undefined;
    const named = term.replace('...', '').length;
    const hasEllipsis = term.includes('...');
    const ellipsisRank = hasEllipsis ? shape.length - named : 0;
    if (ellipsisRank < 0 || (!hasEllipsis && named !== shape.length)) return undefined;
    let k = 0;
    for (let j = 0; j < term.length; ) {
      if (term.startsWith('...', j)) {
        ellipsis = broadcastShapes([ellipsis, shape.slice(k, k + ellipsisRank)])!;
        k += ellipsisRank;
        j += 3;
        continue;
      }
      const ch = term[j]!;
      const d = shape[k]!;
      letters.set(ch, letters.has(ch) ? broadcastDim(letters.get(ch)!, d) : d);
      counts.set(ch, (counts.get(ch) ?? 0) + 1);
      k++;
      j++;
    }
  }
  const out =
    rhs ??
    `...${[...counts]
      .filter(([, n]) => n === 1)
      .map(([ch]) => ch)
      .sort()
      .join('')}`;
  const output: Dim[] = [];
  for (let j = 0; j < out.length; ) {
    if (out.startsWith('...', j)) {
      output.push(...ellipsis);
      j += 3;
      continue;
    }
    output.push(letters.get(out[j]!) ?? null);
    j++;
  }
  return { letters, ellipsis, output };
}

export const matmulRules: RuleRow[] = [
  [['MatMul'], (c) => c.set(0, c.elem(0), matmulShape(c.shape(0), c.shape(1)))],
  [['MatMulInteger'], (c) => c.set(0, DataType.INT32, matmulShape(c.shape(0), c.shape(1)))],
  [['QLinearMatMul'], (c) => c.set(0, c.elem(7) || c.elem(0), matmulShape(c.shape(0), c.shape(3)))],

  [['Gemm'], gemmRule(1, (c) => c.elem(0))],

  [
    ['Einsum'],
    (c) => {
      const e = einsumDims(
        c.str('equation', ''),
        c.node.inputs.map((_, i) => c.shape(i)),
      );
      c.set(0, c.elem(0), e?.output);
    },
  ],

  [
    ['LSTM', 'GRU', 'RNN'],
    (c) => {
      const x = c.shape(0);
      const layout = c.int('layout', 0);
      const directions = c.str('direction', 'forward') === 'bidirectional' ? 2 : 1;
      const hidden: Dim = c.hasAttr('hidden_size') ? c.int('hidden_size', 0) : (c.shape(2)?.[2] ?? null);
      const seq = x?.[layout === 0 ? 0 : 1] ?? null;
      const batch = x?.[layout === 0 ? 1 : 0] ?? null;
      const t = c.elem(0);
      c.set(0, t, layout === 0 ? [seq, directions, batch, hidden] : [batch, seq, directions, hidden]);
      const state = layout === 0 ? [directions, batch, hidden] : [batch, directions, hidden];
      c.set(1, t, state);
      c.set(2, t, state);
    },
  ],
];
