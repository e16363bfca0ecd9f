// What a rule sees of one node (RuleContext: input types and constants, attributes, where it writes
// its outputs), the Rule type, and the rows rule files export: op types with the rule they share.

import { attrFloat, attrInt, attrInts, attrString } from '../../ir/builder.js';
import type { Dim, Node, TensorType } from '../../ir/graph.js';
import { allNumbers } from './constants.js';
import type { Engine } from './engine.js';
import type { ConstantValue } from './types.js';

/** What a rule sees of one node: its input types and constants, its attributes; where it writes. */
export class RuleContext {
  readonly types: (TensorType | undefined)[] = [];
  readonly consts: (ConstantValue | undefined)[] = [];

  constructor(
    readonly engine: Engine,
    readonly node: Node,
    readonly opset: number,
  ) {}

  get inputCount(): number {
    return this.node.inputs.length;
  }
  get outputCount(): number {
    return this.node.outputs.length;
  }
  has(i: number): boolean {
    return this.node.inputs[i] !== undefined;
  }
  type(i: number): TensorType | undefined {
    return this.engine.typeOf(this.node.inputs[i]);
  }
  shape(i: number): Dim[] | undefined {
    return this.type(i)?.shape;
  }
  elem(i: number): number {
    return this.type(i)?.elemType ?? 0;
  }
  constant(i: number): ConstantValue | undefined {
    return this.engine.constOf(this.node.inputs[i]);
  }
  /** a constant input whose elements are all known numbers */
  numbers(i: number): number[] | undefined {
    const c = this.constant(i);
    return c && allNumbers(c.values) ? c.values : undefined;
  }
  /** a 0-D or 1-D constant input read as dims (numbers, symbols or null) */
  dims(i: number): Dim[] | undefined {
    const c = this.constant(i);
    return c && c.dims.length <= 1 ? c.values : undefined;
  }
  int(name: string, fallback: number): number {
    return attrInt(this.node, name, fallback);
  }
  ints(name: string): number[] | undefined {
    return attrInts(this.node, name);
  }
  float(name: string, fallback: number): number {
    return attrFloat(this.node, name, fallback);
  }
  floats(name: string): number[] | undefined {
    return this.node.attributes.get(name)?.proto.floats;
  }
  str(name: string, fallback: string): string {
    return attrString(this.node, name, fallback);
  }
  hasAttr(name: string): boolean {
    return this.node.attributes.has(name);
  }
  set(i: number, elemType: number, shape: Dim[] | undefined): void {
    // a dim is a whole size or unknown: a corrupt graph (float shape constants) must not yield 0.69
    const dims = shape?.map((d) => (typeof d === 'number' && !(Number.isInteger(d) && d >= 0) ? null : d));
    this.types[i] = { elemType, shape: dims };
  }
  setConstant(i: number, c: ConstantValue | undefined): void {
    if (!c) return;
    this.consts[i] = c;
    this.types[i] = { elemType: c.dtype, shape: [...c.dims] };
  }
}

export type Rule = (c: RuleContext) => void;

/** Op types that share one rule; a rule file exports a list of these, rules/index.ts collects them. */
export type RuleRow = readonly [opTypes: string[], rule: Rule];

/** A list of op types written as one space-separated string. */
export function ops(names: string): string[] {
  return names.trim().split(/\s+/);
}
