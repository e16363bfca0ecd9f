// The rule table: one gradient rule per op type, collected from the op-family files. Keys are the op
// type for ai.onnx and `domain:OpType` otherwise.

import type { Node } from '../../ir/graph.js';
import type { GradRule } from '../context.js';
import { ACTIVATION_RULES } from './activation.js';
import { CONV_RULES } from './conv.js';
import { ELEMENTWISE_RULES } from './elementwise.js';
import { INDEXING_RULES } from './indexing.js';
import { LINEAR_RULES } from './linear.js';
import { NORM_RULES } from './norm.js';
import { POOL_RULES } from './pool.js';
import { QUANT_RULES } from './quant.js';
import { REDUCE_RULES } from './reduce.js';
import { SHAPE_RULES } from './shape.js';

export const GRAD_RULES: Readonly<Record<string, GradRule>> = {
  ...ELEMENTWISE_RULES,
  ...ACTIVATION_RULES,
  ...LINEAR_RULES,
  ...CONV_RULES,
  ...POOL_RULES,
  ...NORM_RULES,
  ...SHAPE_RULES,
  ...INDEXING_RULES,
  ...REDUCE_RULES,
  ...QUANT_RULES,
};

export function ruleFor(node: Node): GradRule | undefined {
  const key = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}:${node.opType}`;
  return GRAD_RULES[key];
}
