// Rules for training ops (ai.onnx.preview.training): updated tensors keep the shapes of their inputs.

import type { Rule, RuleRow } from '../context.js';

/** Inputs are R, T, then groups of n tensors (X, G, then per-optimizer state); outputs skip G. */
const optimizerRule: Rule = (c) => {
  const groups = c.node.opType === 'Adam' ? 3 : 2;
  const n = Math.floor(c.outputCount / groups);
  for (let j = 0; j < c.outputCount; j++) {
    const group = Math.floor(j / n);
    const t = c.type(2 + (group === 0 ? 0 : group + 1) * n + (j % n));
    if (t) c.types[j] = t;
  }
};

export const trainingRules: RuleRow[] = [[['Adagrad', 'Adam', 'Momentum'], optimizerRule]];
