// Gradients of broadcasting arithmetic: Add, Sub, Mul, Div, Pow, Sum, Where, and the unary math ops
// (Sqrt, Neg, Exp, Log, Reciprocal, Abs, Erf). Binary results are summed back to each input's shape
// (GradContext.unbroadcast). A Mul by a constant mask (pruning) needs nothing special: the gradient of
// the weight is the output gradient times the mask.

import type { Node, Value } from '../../ir/graph.js';
import type { GradContext, GradRule } from '../context.js';

/** The gradients of a binary op's inputs, `da`/`db` computed only when needed, summed to each shape. */
function binary(
  ctx: GradContext,
  n: Node,
  da: ((a: Value, b: Value, y: Value) => Value) | undefined,
  db: ((a: Value, b: Value, y: Value) => Value) | undefined,
): (Value | undefined)[] {
  const [a, b, y] = [n.inputs[0]!, n.inputs[1]!, n.outputs[0]!];
  const ys = ctx.shape(y);
  return [
    da && ctx.needs(a) ? ctx.unbroadcast(da(a, b, y), ctx.shape(a), ys) : undefined,
    db && ctx.needs(b) ? ctx.unbroadcast(db(a, b, y), ctx.shape(b), ys) : undefined,
  ];
}

const add: GradRule = (n, [dy], ctx) =>
  binary(
    ctx,
    n,
    () => dy!,
    () => dy!,
  );
const sub: GradRule = (n, [dy], ctx) =>
  binary(
    ctx,
    n,
    () => dy!,
    () => ctx.op('Neg', [dy]),
  );
const mul: GradRule = (n, [dy], ctx) =>
  binary(
    ctx,
    n,
    (_a, b) => ctx.mul(dy!, b),
    (a) => ctx.mul(dy!, a),
  );
// d(a/b)/db = -y/b
const div: GradRule = (n, [dy], ctx) =>
  binary(
    ctx,
    n,
    (_a, b) => ctx.op('Div', [dy, b]),
    (_a, b, y) => ctx.op('Neg', [ctx.op('Div', [ctx.mul(dy!, y), b])]),
  );

const pow: GradRule = (n, [dy], ctx) => {
  const exponent = ctx.floats(n.inputs[1]);
  return binary(
    ctx,
    n,
    (x, e) => {
      // dy · e · x^(e-1); constant exponents 2 and 1 without a Pow
      if (exponent?.length === 1 && exponent[0] === 2) return ctx.mul(dy!, ctx.mul(x, ctx.scalar(2)));
      if (exponent?.length === 1 && exponent[0] === 1) return dy!;
      const em1 = exponent?.length === 1 ? ctx.scalar(exponent[0]! - 1) : ctx.op('Sub', [e, ctx.scalar(1)]);
      return ctx.mul(dy!, ctx.mul(e, ctx.op('Pow', [x, em1])));
    },
    (x, _e, y) => ctx.mul(dy!, ctx.mul(y, ctx.op('Log', [x]))),
  );
};

const sum: GradRule = (n, [dy], ctx) => {
  const ys = ctx.shape(n.outputs[0]!);
  return n.inputs.map((v) => (v && ctx.needs(v) ? ctx.unbroadcast(dy!, ctx.shape(v), ys) : undefined));
};

const where: GradRule = (n, [dy], ctx) => {
  const [c, a, b, y] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2]!, n.outputs[0]!];
  const ys = ctx.shape(y);
  const zero = ctx.scalar(0);
  return [
    undefined,
    ctx.needs(a) ? ctx.unbroadcast(ctx.op('Where', [c, dy, zero]), ctx.shape(a), ys) : undefined,
    ctx.needs(b) ? ctx.unbroadcast(ctx.op('Where', [c, zero, dy]), ctx.shape(b), ys) : undefined,
  ];
};

/** A unary op whose derivative is `d(x, y)`: dx = dy * d. */
function unary(d: (ctx: GradContext, x: Value, y: Value) => Value): GradRule {
  return (n, [dy], ctx) => [ctx.mul(dy!, d(ctx, n.inputs[0]!, n.outputs[0]!))];
}

// d sqrt(x) = 0.5 / y
const sqrt: GradRule = (n, [dy], ctx) => [ctx.op('Div', [ctx.mul(dy!, ctx.scalar(0.5)), n.outputs[0]!])];
const neg: GradRule = (_n, [dy], ctx) => [ctx.op('Neg', [dy])];
const exp = unary((_c, _x, y) => y);
const log: GradRule = (n, [dy], ctx) => [ctx.op('Div', [dy, n.inputs[0]!])];
// d(1/x) = -y²
const reciprocal: GradRule = (n, [dy], ctx) => {
  const y = n.outputs[0]!;
  return [ctx.op('Neg', [ctx.mul(dy!, ctx.mul(y, y))])];
};
const abs = unary((c, x) => c.op('Sign', [x]));
// d erf(x) = 2/√π · exp(-x²)
const erf = unary((c, x) =>
  c.mul(c.op('Exp', [c.op('Neg', [c.mul(x, x)])]), c.scalar(2 / Math.sqrt(Math.PI))),
);

export const ELEMENTWISE_RULES: Record<string, GradRule> = {
  Add: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Pow: pow,
  Sum: sum,
  Where: where,
  Sqrt: sqrt,
  Neg: neg,
  Exp: exp,
  Log: log,
  Reciprocal: reciprocal,
  Abs: abs,
  Erf: erf,
};
