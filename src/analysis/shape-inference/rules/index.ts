// The rule tables, one per domain, collected from the rows the rule files export (a later row for
// the same op type would win), and the lookup the engine uses for a node.

import type { Node } from '../../../ir/graph.js';
import type { Rule, RuleRow } from '../context.js';
import { controlFlowRules } from './control-flow.js';
import { convPoolRules } from './conv-pool.js';
import { elementwiseRules } from './elementwise.js';
import { indexingRules } from './indexing.js';
import { matmulRules } from './matmul.js';
import { microsoftRules } from './microsoft.js';
import { reduceRules } from './reduce.js';
import { resizePadRules } from './resize-pad.js';
import { shapeOpRules } from './shape-ops.js';
import { signalRules } from './signal.js';
import { trainingRules } from './training.js';

function table(...groups: RuleRow[][]): Map<string, Rule> {
  const rules = new Map<string, Rule>();
  for (const rows of groups)
    for (const [opTypes, rule] of rows) for (const op of opTypes) rules.set(op, rule);
  return rules;
}

/** the default domain ('' or ai.onnx) */
export const RULES = table(
  elementwiseRules,
  convPoolRules,
  matmulRules,
  shapeOpRules,
  indexingRules,
  resizePadRules,
  reduceRules,
  signalRules,
  controlFlowRules,
);
export const MS_RULES = table(microsoftRules);
export const TRAINING_RULES = table(trainingRules);

export function ruleFor(node: Node): Rule | undefined {
  if (node.domain === '' || node.domain === 'ai.onnx') return RULES.get(node.opType);
  if (node.domain === 'com.microsoft') return MS_RULES.get(node.opType);
  if (node.domain === 'ai.onnx.preview.training') return TRAINING_RULES.get(node.opType);
  return undefined;
}
