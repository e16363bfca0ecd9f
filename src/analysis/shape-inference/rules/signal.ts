// Rules for signal processing (window functions, MelWeightMatrix, DFT, STFT) and text ops
// (TfIdfVectorizer, RegexFullMatch, StringNormalizer).

import type { Dim } from '../../../ir/graph.js';
import { DataType } from '../../../onnx/dtype.js';
import type { RuleRow } from '../context.js';
import { axisOf, dimOf, isNum, unknownDims } from '../dims.js';

export const signalRules: RuleRow[] = [
  [
    ['HannWindow', 'HammingWindow', 'BlackmanWindow'],
    (c) => {
      const n = c.numbers(0)?.[0];
      c.set(0, c.int('output_datatype', DataType.FLOAT), [n !== undefined ? dimOf(n) : null]);
    },
  ],

  [
    ['MelWeightMatrix'],
    (c) => {
      const bins = c.numbers(0)?.[0];
      const length = c.numbers(1)?.[0];
      c.set(0, c.int('output_datatype', DataType.FLOAT), [
        length !== undefined ? dimOf(Math.floor(length / 2) + 1) : null,
        bins !== undefined ? dimOf(bins) : null,
      ]);
    },
  ],

  [
    ['DFT'],
    (c) => {
      const x = c.shape(0);
      if (!x) return c.set(0, c.elem(0), undefined);
      const axisValue = c.opset >= 20 ? (c.has(2) ? c.numbers(2)?.[0] : -2) : c.int('axis', 1);
      const axis = axisValue !== undefined ? axisOf(axisValue, x.length) : undefined;
      const out = [...x.slice(0, -1), 2];
      if (axis === undefined) return c.set(0, c.elem(0), unknownDims(x.length));
      const length: Dim = c.has(1) ? (c.numbers(1)?.[0] ?? null) : x[axis]!;
      out[axis] = c.int('onesided', 0) === 1 ? (isNum(length) ? Math.floor(length / 2) + 1 : null) : length;
      c.set(0, c.elem(0), out);
    },
  ],

  [
    ['STFT'],
    (c) => {
      const x = c.shape(0);
      const step = c.numbers(1)?.[0];
      const frame = c.has(3) ? c.numbers(3)?.[0] : c.shape(2)?.[0];
      const length = x?.[1];
      const frames =
        isNum(length) && isNum(frame) && step ? dimOf(Math.floor((length - frame) / step) + 1) : null;
      const bins = isNum(frame) ? (c.int('onesided', 1) === 1 ? Math.floor(frame / 2) + 1 : frame) : null;
      c.set(0, c.elem(0), [x?.[0] ?? null, frames, bins, 2]);
    },
  ],

  [
    ['TfIdfVectorizer'],
    (c) => {
      const x = c.shape(0);
      const width = Math.max(-1, ...(c.ints('ngram_indexes') ?? [])) + 1;
      c.set(0, DataType.FLOAT, x ? (x.length === 1 ? [width] : [x[0]!, width]) : undefined);
    },
  ],

  [['RegexFullMatch'], (c) => c.set(0, DataType.BOOL, c.shape(0))],

  [
    ['StringNormalizer'],
    (c) => {
      // without stop words nothing is removed (an emptied input still yields one empty string)
      const x = c.shape(0);
      const stopwords = c.node.attributes.get('stopwords')?.proto.strings.length ?? 0;
      c.set(0, DataType.STRING, stopwords === 0 ? x : x && [...x.slice(0, -1), null]);
    },
  ],
];
