// Static shape and dtype inference over the whole model, subgraphs included.
//
//   const shapes = inferShapes(model, { inputShapes: { images: [1, 3, 224, 224] } });
//   shapes.types.get(value)      // TensorType of any input, weight or node output
//   shapes.constants.get(value)  // small constant tensors (shape arithmetic), values known statically
//   shapes.missing               // node outputs whose rank or some dim stayed unknown
//
// Rules:
//  1. Graph inputs: a dim that is symbolic (a string) or unknown (null) becomes `inputShapes[name]`'s
//     dim when given, else `defaultDim` (default 1). A symbol bound once (by a given shape or by the
//     default) keeps that size everywhere, value_info included. `defaultDim: null` keeps symbols as they
//     are: they flow through ops that copy dims, and arithmetic on them gives null (unknown).
//  2. Nothing is written to the model unless `write: true`; then node outputs and subgraph inputs get
//     the inferred type where it is more specific, never replacing a known number (main-graph inputs
//     are never touched). With `write` and a numeric `defaultDim`, symbolic batch dims become numbers
//     in intermediate types: pass `defaultDim: null` to keep the model dynamic.
//  3. Nodes are visited in graph order, one rule per op type (a table, `RULES`); a node with no rule
//     keeps unknown outputs (its subgraphs are still visited). An inferred type is merged with the
//     declared one (value_info): the more specific dim wins, the inferred rank wins when they differ.
//  4. Constant propagation: small tensors (≤ CONSTANT_LIMIT elements) from initializers, Constant,
//     Shape/Size of known shapes, and arithmetic on them (Gather, Concat, Slice, Squeeze, Unsqueeze,
//     Cast, Reshape, Add/Sub/Mul/Div/…, Where, Range, ConstantOfShape, …) are evaluated, so chains like
//     Shape → Gather → Concat → Reshape resolve. Integer constants may hold symbols (from Shape of a
//     symbolic dim) so the same chains keep symbolic batch dims.
//  5. If: the taken branch's types when the condition is constant, else both branches unified (equal
//     dims kept, differing ones null). Loop: carried values seeded from the initial values; when the
//     body changes a carried shape, the body is inferred once more with the dims that differ unknown.
//     Scan outputs gain the sequence axis.
//  6. Never throws on odd models: a rule that fails leaves the node's outputs unknown and is recorded
//     in `errors`. Constants are only materialized below CONSTANT_LIMIT elements, so absurd dims never
//     allocate. The pass is one walk over the nodes with maps: linear in the model size.

import { EdgefitError } from '../errors.js';
import { attrFloat, attrInt, attrInts, attrString } from '../ir/builder.js';
import type { Dim, Graph, Model, Node, TensorType, Value } from '../ir/graph.js';
import { type Tensor, typedCtor } from '../ir/tensor.js';
import { DataType } from '../onnx/dtype.js';

export interface InferShapesOptions {
  /** concrete shapes of graph inputs by name (replace symbolic and unknown dims) */
  inputShapes?: Record<string, number[]>;
  /** size given to symbolic/unknown input dims not set by `inputShapes`; null keeps them symbolic (default 1) */
  defaultDim?: number | null;
  /** write the inferred types into `Value.type` where they are more specific (default false) */
  write?: boolean;
}

/** A small tensor known statically; integer tensors may hold symbols (string) or unknowns (null). */
export interface ConstantValue {
  dtype: number;
  dims: number[];
  values: Dim[];
}

export interface InferenceError {
  node: Node;
  error: unknown;
}

export interface ShapeInference {
  /** the type of every value inference reached: inputs (after substitution), weights, node outputs */
  types: Map<Value, TensorType>;
  /** values known statically (small tensors only) */
  constants: Map<Value, ConstantValue>;
  /** node outputs whose rank or some dim is unknown (symbolic dims count as known) */
  missing: Value[];
  /** rules that failed on odd nodes (the outputs stay unknown) */
  errors: InferenceError[];
}

/** Constants with more elements than this are not evaluated. */
export const CONSTANT_LIMIT = 4096;

/** Infer the type of every value in the model (see the file header for the rules). */
export function inferShapes(model: Model, options: InferShapesOptions = {}): ShapeInference {
  const defaultDim = options.defaultDim === undefined ? 1 : options.defaultDim;
  const engine = new Engine(model);
  engine.bindInputs(options.inputShapes ?? {}, defaultDim);
  engine.inferGraph(model.graph);

  const missing: Value[] = [];
  for (const g of model.graph.allGraphs())
    for (const n of g.nodes)
      for (const out of n.outputs) {
        if (out.name === '') continue;
        const t = engine.types.get(out);
        if (!t?.shape || t.elemType === 0 || t.shape.some((d) => d === null)) missing.push(out);
      }
  if (options.write) writeTypes(model, engine.types);

  const constants = new Map<Value, ConstantValue>();
  for (const [v, c] of engine.constants) if (c) constants.set(v, c);
  return { types: engine.types, constants, missing, errors: engine.errors };
}

// ---------------------------------------------------------------------------------------------------
// dims and shapes

const isNum = (d: Dim | undefined): d is number => typeof d === 'number';

export function isStaticShape(shape: readonly Dim[] | undefined): shape is number[] {
  return shape?.every(isNum) === true;
}

/** A computed size: a non-negative integer, else unknown. */
function dimOf(x: number): Dim {
  return Number.isFinite(x) && x >= 0 && Number.isInteger(x) ? x : null;
}

/** Product of dims: a number when all are numbers, the symbol when one symbol times ones. */
function dimProduct(dims: readonly Dim[]): Dim {
  let n = 1;
  let symbol: Dim = null;
  let symbols = 0;
  for (const d of dims) {
    if (isNum(d)) n *= d;
    else if (typeof d === 'string') {
      symbol = d;
      symbols++;
    } else return null;
  }
  if (symbols === 0) return n;
  return symbols === 1 && n === 1 ? symbol : null;
}

/** numpy broadcasting of two dims. */
function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (isNum(a)) return a;
  if (isNum(b)) return b;
  return a !== null && a === b ? a : null;
}

/** numpy broadcasting of shapes; undefined when a rank is unknown. */
function broadcastShapes(shapes: (readonly Dim[] | undefined)[]): Dim[] | undefined {
  let out: Dim[] = [];
  for (const s of shapes) {
    if (!s) return undefined;
    const r = Math.max(out.length, s.length);
    const next: Dim[] = new Array(r);
    for (let i = 0; i < r; i++) {
      const a = out[out.length - r + i];
      const b = s[s.length - r + i];
      next[i] = a === undefined ? b! : b === undefined ? a : broadcastDim(a, b);
    }
    out = next;
  }
  return out;
}

/** Two descriptions of the same dim: the more specific wins (number, then symbol). */
function mergeDim(a: Dim | undefined, b: Dim | undefined): Dim {
  if (isNum(a)) return a;
  if (isNum(b)) return b;
  return a ?? b ?? null;
}

/** Two possible values of a dim (If branches, loop iterations): kept only when they agree. */
function unifyDim(a: Dim, b: Dim): Dim {
  return a === b ? a : null;
}

function mergeTypes(
  inferred: TensorType | undefined,
  declared: TensorType | undefined,
): TensorType | undefined {
  if (!inferred) return declared;
  if (!declared) return inferred;
  const elemType = inferred.elemType || declared.elemType;
  const a = inferred.shape;
  const b = declared.shape;
  if (!a) return { elemType, shape: b };
  if (!b || a.length !== b.length) return { elemType, shape: a };
  return { elemType, shape: a.map((d, i) => mergeDim(d, b[i])) };
}

function unifyTypes(a: TensorType | undefined, b: TensorType | undefined): TensorType | undefined {
  if (!a || !b) return undefined;
  const elemType = a.elemType === b.elemType ? a.elemType : a.elemType || b.elemType;
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { elemType, shape: undefined };
  const bs = b.shape;
  return { elemType, shape: a.shape.map((d, i) => unifyDim(d, bs[i]!)) };
}

function sameType(a: TensorType | undefined, b: TensorType | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.elemType !== b.elemType || !a.shape !== !b.shape) return false;
  if (!a.shape || !b.shape) return true;
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape![i]);
}

/** Normalize a possibly negative axis against a rank; undefined when out of range. */
function axisOf(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
}

function unknownDims(rank: number): Dim[] {
  return new Array<Dim>(Number.isInteger(rank) && rank >= 0 && rank <= CONSTANT_LIMIT ? rank : 0).fill(null);
}

const INT_TYPES = new Set<number>([
  DataType.UINT8,
  DataType.INT8,
  DataType.UINT16,
  DataType.INT16,
  DataType.INT32,
  DataType.INT64,
  DataType.UINT32,
  DataType.UINT64,
  DataType.BOOL,
  DataType.UINT4,
  DataType.INT4,
]);

// ---------------------------------------------------------------------------------------------------
// constants

function allNumbers(values: readonly Dim[]): values is number[] {
  return values.every(isNum);
}

function tensorConstant(t: Tensor): ConstantValue | undefined {
  if (t.isString || t.size > CONSTANT_LIMIT || !t.dims.every((d) => Number.isInteger(d) && d >= 0))
    return undefined;
  try {
    const ctor = typedCtor(t.dtype);
    const half = t.dtype === DataType.FLOAT16 || t.dtype === DataType.BFLOAT16;
    const values =
      ctor && !half ? Array.from(t.typed() as ArrayLike<number | bigint>, Number) : Array.from(t.toFloat32());
    if (values.length !== t.size) return undefined;
    return { dtype: t.dtype, dims: [...t.dims], values };
  } catch {
    return undefined; // unreadable external data, odd dtype: not a constant
  }
}

/** Build a constant of `dims` whose element at each multi-index is `at(index)`; undefined if too big. */
function buildConstant(
  dtype: number,
  dims: number[],
  at: (index: number[]) => Dim,
): ConstantValue | undefined {
  if (!dims.every((d) => Number.isInteger(d) && d >= 0)) return undefined;
  const n = dims.reduce((a, b) => a * b, 1);
  if (!(n <= CONSTANT_LIMIT)) return undefined;
  const values: Dim[] = new Array(n);
  const index = new Array<number>(dims.length).fill(0);
  for (let k = 0; k < n; k++) {
    values[k] = at(index);
    for (let j = dims.length - 1; j >= 0; j--) {
      if (++index[j]! < dims[j]!) break;
      index[j] = 0;
    }
  }
  return { dtype, dims, values };
}

function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** Element of `c` at the out-index broadcast from the out shape (right-aligned, size-1 dims repeat). */
function broadcastRead(c: ConstantValue, strides: number[], index: number[]): Dim {
  const off = index.length - c.dims.length;
  let flat = 0;
  for (let i = 0; i < c.dims.length; i++) if (c.dims[i] !== 1) flat += index[off + i]! * strides[i]!;
  return c.values[flat] ?? null;
}

function elementwiseConstant(
  dtype: number,
  inputs: ConstantValue[],
  fn: (xs: Dim[]) => Dim,
): ConstantValue | undefined {
  const dims = broadcastShapes(inputs.map((c) => c.dims));
  if (!dims || !isStaticShape(dims)) return undefined;
  const strides = inputs.map((c) => stridesOf(c.dims));
  const isInt = INT_TYPES.has(dtype);
  return buildConstant(dtype, dims, (index) => {
    const r = fn(inputs.map((c, i) => broadcastRead(c, strides[i]!, index)));
    if (!isNum(r)) return r;
    if (dtype === DataType.BOOL) return r ? 1 : 0;
    return isInt ? Math.trunc(r) : r;
  });
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Unary ops evaluated on constants. */
const UNARY_CONSTANT: Record<string, (x: number) => number> = {
  Neg: (x) => -x,
  Abs: Math.abs,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Round: roundHalfEven,
  Sqrt: Math.sqrt,
  Reciprocal: (x) => 1 / x,
  Relu: (x) => Math.max(0, x),
  Sign: Math.sign,
  Not: (x) => (x ? 0 : 1),
  Exp: Math.exp,
  Log: Math.log,
};

/** Binary ops evaluated on constants; symbols survive the identities x+0, x-0, x*1, x/1. */
function binaryConstant(op: string, isInt: boolean, fmod: boolean): ((a: Dim, b: Dim) => Dim) | undefined {
  const numeric = (f: (a: number, b: number) => number) => (a: Dim, b: Dim) =>
    isNum(a) && isNum(b) ? f(a, b) : null;
  switch (op) {
    case 'Add':
      return (a, b) => (b === 0 ? a : a === 0 ? b : isNum(a) && isNum(b) ? a + b : null);
    case 'Sub':
      return (a, b) => (b === 0 ? a : isNum(a) && isNum(b) ? a - b : null);
    case 'Mul':
      return (a, b) => (b === 1 ? a : a === 1 ? b : isNum(a) && isNum(b) ? a * b : null);
    case 'Div':
      return (a, b) => (b === 1 ? a : isNum(a) && isNum(b) ? (isInt ? Math.trunc(a / b) : a / b) : null);
    case 'Mod':
      return numeric((a, b) => (fmod || !isInt ? a % b : a - b * Math.floor(a / b)));
    case 'Pow':
      return numeric((a, b) => a ** b);
    case 'Max':
      return numeric(Math.max);
    case 'Min':
      return numeric(Math.min);
    case 'Sum':
      return numeric((a, b) => a + b);
    case 'Equal':
      return (a, b) => (a !== null && a === b ? 1 : isNum(a) && isNum(b) ? 0 : null);
    case 'Less':
      return numeric((a, b) => (a < b ? 1 : 0));
    case 'LessOrEqual':
      return numeric((a, b) => (a <= b ? 1 : 0));
    case 'Greater':
      return numeric((a, b) => (a > b ? 1 : 0));
    case 'GreaterOrEqual':
      return numeric((a, b) => (a >= b ? 1 : 0));
    case 'And':
      return numeric((a, b) => (a && b ? 1 : 0));
    case 'Or':
      return numeric((a, b) => (a || b ? 1 : 0));
    case 'Xor':
      return numeric((a, b) => (!a !== !b ? 1 : 0));
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// the engine: types and constants by Value, one walk over the nodes

class Engine {
  readonly types = new Map<Value, TensorType>();
  /** null = looked at, not a constant */
  readonly constants = new Map<Value, ConstantValue | null>();
  readonly symbols = new Map<string, number>();
  readonly errors: InferenceError[] = [];

  constructor(readonly model: Model) {}

  /** Rule 1: concrete shapes for the main graph's inputs. */
  bindInputs(inputShapes: Record<string, number[]>, defaultDim: number | null): void {
    const inputs = this.model.graph.inputs.filter((v) => !v.initializer);
    const byName = new Map(inputs.map((v) => [v.name, v]));
    for (const [name, given] of Object.entries(inputShapes)) {
      const v = byName.get(name);
      if (!v)
        throw new EdgefitError(
          'BAD_ARGUMENT',
          `the model has no input called "${name}"`,
          `its inputs are: ${inputs.map((x) => x.name).join(', ') || '(none)'}`,
        );
      if (!given.every((d) => Number.isInteger(d) && d >= 0))
        throw new EdgefitError(
          'BAD_ARGUMENT',
          `input shape for "${name}" must hold non-negative integers`,
          `got [${given.join(', ')}]`,
        );
      const declared = v.type?.shape;
      if (declared && declared.length !== given.length)
        throw new EdgefitError(
          'BAD_ARGUMENT',
          `input "${name}" has rank ${declared.length} but the given shape [${given.join(', ')}] has rank ${given.length}`,
          `give ${declared.length} dims`,
        );
      declared?.forEach((d, i) => {
        if (isNum(d) && d !== given[i])
          throw new EdgefitError(
            'BAD_ARGUMENT',
            `input "${name}" has a fixed dim ${i} of ${d}, the given shape says ${given[i]}`,
            `the model declares [${declared.join(', ')}]`,
          );
        if (typeof d === 'string' && !this.symbols.has(d)) this.symbols.set(d, given[i]!);
      });
      this.types.set(v, { elemType: v.type?.elemType ?? 0, shape: [...given] });
    }
    for (const v of inputs) {
      if (this.types.has(v) || !v.type) continue;
      const shape = v.type.shape?.map((d): Dim => {
        if (isNum(d)) return d;
        if (typeof d === 'string') {
          const bound = this.symbols.get(d);
          if (bound !== undefined) return bound;
          if (defaultDim === null) return d;
          this.symbols.set(d, defaultDim);
          return defaultDim;
        }
        return defaultDim;
      });
      this.types.set(v, { elemType: v.type.elemType, shape });
    }
  }

  /** A declared type with bound symbols replaced by their sizes. */
  resolveDeclared(t: TensorType | undefined): TensorType | undefined {
    if (!t?.shape || this.symbols.size === 0) return t;
    return {
      elemType: t.elemType,
      shape: t.shape.map((d) => (typeof d === 'string' ? (this.symbols.get(d) ?? d) : d)),
    };
  }

  typeOf(v: Value | undefined): TensorType | undefined {
    if (!v) return undefined;
    return this.types.get(v) ?? this.resolveDeclared(v.type);
  }

  constOf(v: Value | undefined): ConstantValue | undefined {
    if (!v) return undefined;
    let c = this.constants.get(v);
    if (c === undefined) {
      c = (v.initializer && tensorConstant(v.initializer)) || null;
      this.constants.set(v, c);
    }
    return c ?? undefined;
  }

  opsetOf(node: Node): number {
    return this.model.opset(node.domain) ?? this.model.opset('') ?? 21;
  }

  inferGraph(graph: Graph): void {
    for (const v of graph.initializers) {
      const t = v.initializer!;
      this.types.set(v, { elemType: t.dtype, shape: [...t.dims] });
    }
    for (const v of graph.sparseInitializers) if (v.type) this.types.set(v, v.type);
    for (const node of graph.nodes) this.inferNode(node);
  }

  inferNode(node: Node): void {
    const ctx = new RuleContext(this, node, this.opsetOf(node));
    try {
      const rule = ruleFor(node);
      if (rule) rule(ctx);
      else for (const g of node.subgraphs()) this.inferGraph(g);
    } catch (error) {
      this.errors.push({ node, error });
    }
    node.outputs.forEach((out, i) => {
      if (out.name === '') return;
      const merged = mergeTypes(ctx.types[i], this.resolveDeclared(out.type));
      if (merged) this.types.set(out, merged);
      else this.types.delete(out);
      this.constants.set(out, ctx.consts[i] ?? null);
    });
  }

  /** Seed the inputs of a subgraph, then infer it. */
  inferSubgraph(graph: Graph, inputTypes: (TensorType | undefined)[]): void {
    graph.inputs.forEach((v, i) => {
      const t = mergeTypes(inputTypes[i], v.type);
      if (t) this.types.set(v, t);
      this.constants.set(v, null);
    });
    this.inferGraph(graph);
  }
}

/** What a rule sees of one node: its input types and constants, its attributes; where it writes. */
class RuleContext {
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
    this.types[i] = { elemType, shape };
  }
  setConstant(i: number, c: ConstantValue | undefined): void {
    if (!c) return;
    this.consts[i] = c;
    this.types[i] = { elemType: c.dtype, shape: [...c.dims] };
  }
}

type Rule = (c: RuleContext) => void;

const RULES = new Map<string, Rule>();
const MS_RULES = new Map<string, Rule>();

function define(opTypes: string[], rule: Rule, table = RULES): void {
  for (const op of opTypes) table.set(op, rule);
}

/** A list of op types written as one space-separated string. */
function ops(names: string): string[] {
  return names.trim().split(/\s+/);
}

function ruleFor(node: Node): Rule | undefined {
  if (node.domain === '' || node.domain === 'ai.onnx') return RULES.get(node.opType);
  if (node.domain === 'com.microsoft') return MS_RULES.get(node.opType);
  if (node.domain === 'ai.onnx.preview.training') return TRAINING_RULES.get(node.opType);
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// rules: elementwise

/** output i has the type of input 0 */
const sameAsInput: Rule = (c) => {
  c.set(0, c.elem(0), c.shape(0));
  const fn = UNARY_CONSTANT[c.node.opType];
  const k = c.constant(0);
  if (fn && k)
    c.setConstant(
      0,
      elementwiseConstant(k.dtype, [k], ([x]) => (isNum(x) ? fn(x) : null)),
    );
};

// activations
define(
  ops('Relu Sigmoid Tanh Gelu Erf LeakyRelu HardSigmoid HardSwish Softplus Softsign Elu Selu'),
  sameAsInput,
);
define(ops('Celu ThresholdedRelu Mish Swish Shrink Clip'), sameAsInput);
// elementwise math
define(ops('Sqrt Exp Log Neg Abs Floor Ceil Round Sign Reciprocal Not BitwiseNot'), sameAsInput);
define(ops('Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh'), sameAsInput);
// normalization and per-axis ops that keep the shape
define(
  ops('Softmax LogSoftmax Hardmax InstanceNormalization GroupNormalization LpNormalization'),
  sameAsInput,
);
define(ops('MeanVarianceNormalization LRN RMSNormalization RotaryEmbedding ImageScaler'), sameAsInput);
define(ops('Trilu CumSum ReverseSequence Scatter ScatterElements ScatterND'), sameAsInput);

define(['Identity'], (c) => {
  c.set(0, c.elem(0), c.shape(0));
  c.setConstant(0, c.constant(0));
});

define(['IsNaN', 'IsInf'], (c) => c.set(0, DataType.BOOL, c.shape(0)));

define(['Dropout'], (c) => {
  c.set(0, c.elem(0), c.shape(0));
  c.set(1, DataType.BOOL, c.shape(0));
});

define(['BatchNormalization'], (c) => {
  c.set(0, c.elem(0), c.shape(0));
  // training outputs: running mean/var (opset 14+) or mean, var, saved mean, saved var: all [C]
  for (let i = 1; i < c.outputCount; i++)
    c.set(i, c.elem(3) || c.elem(0), c.shape(3) ?? [c.shape(0)?.[1] ?? null]);
});

define(['LayerNormalization'], (c) => {
  const x = c.shape(0);
  c.set(0, c.elem(0), x);
  const axis = x ? axisOf(c.int('axis', -1), x.length) : undefined;
  const reduced = x && axis !== undefined ? x.map((d, i) => (i < axis ? d : 1)) : undefined;
  const stash = c.int('stash_type', DataType.FLOAT);
  c.set(1, stash, reduced);
  c.set(2, stash, reduced);
});

define(['Cast'], (c) => {
  const to = c.int('to', 0);
  c.set(0, to, c.shape(0));
  const k = c.constant(0);
  if (k && to !== DataType.STRING)
    c.setConstant(
      0,
      elementwiseConstant(to, [k], ([x]) => x ?? null),
    );
});

define(['CastLike'], (c) => {
  const to = c.elem(1);
  c.set(0, to, c.shape(0));
  const k = c.constant(0);
  if (k && to)
    c.setConstant(
      0,
      elementwiseConstant(to, [k], ([x]) => x ?? null),
    );
});

define(['QuantizeLinear'], (c) =>
  c.set(0, c.has(2) ? c.elem(2) : c.int('output_dtype', 0) || DataType.UINT8, c.shape(0)));
define(['DequantizeLinear'], (c) =>
  c.set(0, c.int('output_dtype', 0) || c.elem(1) || DataType.FLOAT, c.shape(0)));
define(['DynamicQuantizeLinear'], (c) => {
  c.set(0, DataType.UINT8, c.shape(0));
  c.set(1, DataType.FLOAT, []);
  c.set(2, DataType.UINT8, []);
});

define(['Bernoulli', 'RandomUniformLike', 'RandomNormalLike'], (c) =>
  c.set(0, c.int('dtype', 0) || c.elem(0), c.shape(0)));
define(['EyeLike'], (c) => c.set(0, c.int('dtype', 0) || c.elem(0), c.shape(0)));
define(['RandomUniform', 'RandomNormal'], (c) => c.set(0, c.int('dtype', DataType.FLOAT), c.ints('shape')));
define(['Multinomial'], (c) =>
  c.set(0, c.int('dtype', DataType.INT32), [c.shape(0)?.[0] ?? null, c.int('sample_size', 1)]));

/** numpy-broadcasting ops over all inputs; `elemType` picks the output type. */
function broadcastRule(elemType: (c: RuleContext) => number): Rule {
  return (c) => {
    const inputs = c.node.inputs.map((_, i) => c.shape(i));
    const out = elemType(c);
    c.set(0, out, broadcastShapes(inputs));
    const consts = c.node.inputs.map((_, i) => c.constant(i));
    if (consts.length === 0 || !consts.every((k) => k !== undefined)) return;
    const ks = consts as ConstantValue[];
    const op = c.node.opType;
    const dtype = out || ks[0]!.dtype;
    if (op === 'Where') {
      c.setConstant(
        0,
        elementwiseConstant(dtype, ks, ([cond, a, b]) => (isNum(cond!) ? (cond ? a! : b!) : null)),
      );
      return;
    }
    if (op === 'Mean') return;
    const fn = binaryConstant(op, INT_TYPES.has(ks[0]!.dtype), c.int('fmod', 0) === 1);
    if (fn)
      c.setConstant(
        0,
        elementwiseConstant(dtype, ks, (xs) => xs.reduce((a, b) => fn(a, b))),
      );
  };
}

define([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Mod',
  'Max',
  'Min',
  'Sum',
  'Mean',
  'BitShift',
  'BitwiseAnd',
  'BitwiseOr',
  'BitwiseXor',
  'PRelu',
], broadcastRule((c) => c.elem(0)));
define(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'], broadcastRule(
  () => DataType.BOOL,
));
define(['Where'], broadcastRule((c) => c.elem(1) || c.elem(2)));

// ---------------------------------------------------------------------------------------------------
// rules: convolution and pooling

interface WindowAttributes {
  kernel: Dim[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
  ceilMode: boolean;
}

function windowAttributes(c: RuleContext, kernel: Dim[]): WindowAttributes {
  const n = kernel.length;
  return {
    kernel,
    strides: c.ints('strides') ?? new Array(n).fill(1),
    dilations: c.ints('dilations') ?? new Array(n).fill(1),
    pads: c.ints('pads') ?? new Array(2 * n).fill(0),
    autoPad: c.str('auto_pad', 'NOTSET'),
    ceilMode: c.int('ceil_mode', 0) === 1,
  };
}

/** Spatial output dims of a sliding window (Conv, pooling). */
function windowOutput(spatial: Dim[], w: WindowAttributes): Dim[] {
  const n = spatial.length;
  return spatial.map((input, i) => {
    const k = w.kernel[i];
    const s = w.strides[i] ?? 1;
    const d = w.dilations[i] ?? 1;
    if (!isNum(input)) return w.autoPad.startsWith('SAME') && s === 1 ? input : null;
    if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return dimOf(Math.ceil(input / s));
    if (!isNum(k)) return null;
    const effective = (k - 1) * d + 1;
    const begin = w.autoPad === 'VALID' ? 0 : (w.pads[i] ?? 0);
    const end = w.autoPad === 'VALID' ? 0 : (w.pads[i + n] ?? 0);
    const span = input + begin + end - effective;
    if (span < 0) return null;
    if (!w.ceilMode) return dimOf(Math.floor(span / s) + 1);
    let out = Math.ceil(span / s) + 1;
    // the last window must start inside the input or the left padding
    if ((out - 1) * s >= input + begin) out--;
    return dimOf(out);
  });
}

function convRule(wIndex: number, elemType: (c: RuleContext) => number): Rule {
  return (c) => {
    const x = c.shape(0);
    const w = c.shape(wIndex);
    const rank = x?.length ?? w?.length;
    if (rank === undefined) return c.set(0, elemType(c), undefined);
    const kernel: Dim[] = c.ints('kernel_shape') ?? w?.slice(2) ?? unknownDims(rank - 2);
    const spatial = x ? windowOutput(x.slice(2), windowAttributes(c, kernel)) : unknownDims(rank - 2);
    c.set(0, elemType(c), [x?.[0] ?? null, w?.[0] ?? null, ...spatial]);
  };
}

define(['Conv'], convRule(1, (c) => c.elem(0)));
define(['ConvInteger'], convRule(1, () => DataType.INT32));
define(['QLinearConv'], convRule(3, (c) => c.elem(7) || c.elem(0)));

define(['ConvTranspose'], (c) => {
  const x = c.shape(0);
  const w = c.shape(1);
  const rank = x?.length ?? w?.length;
  if (rank === undefined) return c.set(0, c.elem(0), undefined);
  const n = rank - 2;
  const group = c.int('group', 1);
  const channels = isNum(w?.[1]) ? w[1] * group : null;
  const given = c.ints('output_shape');
  if (given)
    return c.set(0, c.elem(0), [
      x?.[0] ?? null,
      channels,
      ...(given.length === rank ? given.slice(2) : given),
    ]);
  const kernel: Dim[] = c.ints('kernel_shape') ?? w?.slice(2) ?? unknownDims(n);
  const a = windowAttributes(c, kernel);
  const outputPadding = c.ints('output_padding') ?? new Array(n).fill(0);
  const spatial = (x?.slice(2) ?? unknownDims(n)).map((input, i) => {
    const k = kernel[i];
    const s = a.strides[i] ?? 1;
    if (!isNum(input)) return null;
    if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') return dimOf(input * s);
    if (!isNum(k)) return null;
    const pads = a.autoPad === 'VALID' ? 0 : (a.pads[i] ?? 0) + (a.pads[i + n] ?? 0);
    return dimOf(s * (input - 1) + (outputPadding[i] ?? 0) + (k - 1) * (a.dilations[i] ?? 1) + 1 - pads);
  });
  c.set(0, c.elem(0), [x?.[0] ?? null, channels, ...spatial]);
});

define(['MaxPool', 'AveragePool', 'LpPool'], (c) => {
  const x = c.shape(0);
  const kernel = c.ints('kernel_shape');
  const shape =
    x && kernel
      ? [x[0]!, x[1]!, ...windowOutput(x.slice(2), windowAttributes(c, kernel))]
      : x && unknownDims(x.length);
  c.set(0, c.elem(0), shape);
  c.set(1, DataType.INT64, shape);
});

define(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool'], (c) => {
  const x = c.shape(0);
  c.set(
    0,
    c.elem(0),
    x?.map((d, i) => (i < 2 ? d : 1)),
  );
});

define(['MaxRoiPool'], (c) => {
  const pooled = c.ints('pooled_shape') ?? [null, null];
  c.set(0, c.elem(0), [c.shape(1)?.[0] ?? null, c.shape(0)?.[1] ?? null, ...pooled]);
});

define(['RoiAlign'], (c) => {
  c.set(0, c.elem(0), [
    c.shape(1)?.[0] ?? null,
    c.shape(0)?.[1] ?? null,
    c.int('output_height', 1),
    c.int('output_width', 1),
  ]);
});

define(['MaxUnpool'], (c) => {
  const x = c.shape(0);
  if (c.has(2)) return c.set(0, c.elem(0), c.numbers(2) ?? (x && unknownDims(x.length)));
  const kernel = c.ints('kernel_shape');
  if (!x || !kernel) return c.set(0, c.elem(0), x && unknownDims(x.length));
  const a = windowAttributes(c, kernel);
  const n = kernel.length;
  const spatial = x
    .slice(2)
    .map((d, i) =>
      isNum(d)
        ? dimOf((d - 1) * (a.strides[i] ?? 1) + kernel[i]! - (a.pads[i] ?? 0) - (a.pads[i + n] ?? 0))
        : null,
    );
  c.set(0, c.elem(0), [x[0]!, x[1]!, ...spatial]);
});

define(['GridSample'], (c) => {
  const x = c.shape(0);
  const grid = c.shape(1);
  if (!grid) return c.set(0, c.elem(0), x && unknownDims(x.length));
  c.set(0, c.elem(0), [grid[0] ?? x?.[0] ?? null, x?.[1] ?? null, ...grid.slice(1, -1)]);
});

define(['AffineGrid'], (c) => {
  const size = c.dims(1);
  if (!size) return c.set(0, c.elem(0), undefined);
  c.set(0, c.elem(0), [size[0]!, ...size.slice(2), size.length - 2]);
});

// ---------------------------------------------------------------------------------------------------
// rules: matrix products

function matmulShape(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b || a.length === 0 || b.length === 0) return undefined;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)])!;
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

function transposeLast(s: Dim[] | undefined, yes: boolean): Dim[] | undefined {
  if (!s || !yes || s.length < 2) return s;
  return [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
}

define(['MatMul'], (c) => c.set(0, c.elem(0), matmulShape(c.shape(0), c.shape(1))));
define(['MatMulInteger'], (c) => c.set(0, DataType.INT32, matmulShape(c.shape(0), c.shape(1))));
define(['QLinearMatMul'], (c) => c.set(0, c.elem(7) || c.elem(0), matmulShape(c.shape(0), c.shape(3))));

function gemmRule(bIndex: number, elemType: (c: RuleContext) => number): Rule {
  return (c) => {
    const a = c.shape(0);
    const b = c.shape(bIndex);
    const m = a?.length === 2 ? a[c.int('transA', 0) ? 1 : 0]! : null;
    const n = b?.length === 2 ? b[c.int('transB', 0) ? 0 : 1]! : null;
    c.set(0, elemType(c), [m, n]);
  };
}

define(['Gemm'], gemmRule(1, (c) => c.elem(0)));

define(['Einsum'], (c) => {
  const e = einsumDims(
    c.str('equation', ''),
    c.node.inputs.map((_, i) => c.shape(i)),
  );
  c.set(0, c.elem(0), e?.output);
});

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

define(['LSTM', 'GRU', 'RNN'], (c) => {
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
});

// ---------------------------------------------------------------------------------------------------
// rules: shape manipulation

define(['Flatten'], (c) => {
  const x = c.shape(0);
  if (!x) return c.set(0, c.elem(0), [null, null]);
  const axis = c.int('axis', 1);
  const a = axis < 0 ? axis + x.length : axis;
  c.set(0, c.elem(0), [dimProduct(x.slice(0, a)), dimProduct(x.slice(a))]);
  const k = c.constant(0);
  const [rows, cols] = [dimProduct(k?.dims.slice(0, a) ?? []), dimProduct(k?.dims.slice(a) ?? [])];
  if (k && isNum(rows) && isNum(cols)) c.setConstant(0, { ...k, dims: [rows, cols] });
});

/** Reshape's output: 0 copies the input dim (unless allowzero), -1 takes what is left. */
function reshapeDims(input: Dim[] | undefined, target: Dim[], allowZero: boolean): Dim[] {
  const out = target.map((d, i): Dim => {
    if (d === 0 && !allowZero) return input?.[i] ?? null;
    if (isNum(d) && d < -1) return null;
    return d;
  });
  const k = out.indexOf(-1);
  if (k < 0) return out;
  out[k] = null;
  if (!input) return out;
  // cancel equal factors (numbers multiply, symbols pair up) between input and the other output dims
  const rest = out.filter((_, i) => i !== k);
  if (rest.some((d) => d === null) || input.some((d) => d === null)) return out;
  let num = 1;
  let den = 1;
  const symbols = new Map<string, number>();
  for (const d of input) {
    if (isNum(d)) num *= d;
    else symbols.set(d as string, (symbols.get(d as string) ?? 0) + 1);
  }
  for (const d of rest) {
    if (isNum(d)) den *= d;
    else {
      const n = symbols.get(d as string) ?? 0;
      if (n === 0) return out;
      symbols.set(d as string, n - 1);
    }
  }
  const left = [...symbols].filter(([, n]) => n > 0);
  if (den === 0 || num % den !== 0) return out;
  const ratio = num / den;
  if (left.length === 0) out[k] = ratio;
  else if (left.length === 1 && left[0]![1] === 1 && ratio === 1) out[k] = left[0]![0];
  return out;
}

define(['Reshape'], (c) => {
  const x = c.shape(0);
  const target: Dim[] | undefined = c.opset < 5 ? c.ints('shape') : c.dims(1);
  if (!target) {
    const s = c.shape(1);
    return c.set(0, c.elem(0), s && isNum(s[0]) && s[0] <= CONSTANT_LIMIT ? unknownDims(s[0]) : undefined);
  }
  const out = reshapeDims(x, target, c.int('allowzero', 0) === 1);
  c.set(0, c.elem(0), out);
  const k = c.constant(0);
  if (k && isStaticShape(out)) c.setConstant(0, { ...k, dims: out });
});

define(['Transpose'], (c) => {
  const x = c.shape(0);
  if (!x) return c.set(0, c.elem(0), undefined);
  const perm = c.ints('perm') ?? x.map((_, i) => x.length - 1 - i);
  c.set(
    0,
    c.elem(0),
    perm.map((p) => x[p] ?? null),
  );
  const k = c.constant(0);
  if (k && perm.length === k.dims.length) {
    const strides = stridesOf(k.dims);
    c.setConstant(
      0,
      buildConstant(
        k.dtype,
        perm.map((p) => k.dims[p]!),
        (index) => {
          let flat = 0;
          for (let i = 0; i < perm.length; i++) flat += index[i]! * strides[perm[i]!]!;
          return k.values[flat] ?? null;
        },
      ),
    );
  }
});

define(['Concat'], (c) => {
  const shapes = c.node.inputs.map((_, i) => c.shape(i));
  const known = shapes.filter((s): s is Dim[] => s !== undefined);
  const elem = c.node.inputs.map((_, i) => c.elem(i)).find((e) => e !== 0) ?? 0;
  if (known.length === 0) return c.set(0, elem, undefined);
  const rank = known[0]!.length;
  const axis = axisOf(c.int('axis', 0), rank);
  if (axis === undefined) return c.set(0, elem, unknownDims(rank));
  const out = unknownDims(rank).map((_, i) => known.reduce<Dim>((d, s) => mergeDim(d, s[i]), null));
  out[axis] = known.length === shapes.length ? dimSum(known.map((s) => s[axis]!)) : null;
  c.set(0, elem, out);
  const ks = c.node.inputs.map((_, i) => c.constant(i));
  if (ks.every((k) => k !== undefined) && isStaticShape(out)) {
    const values: Dim[] = [];
    const outer = out.slice(0, axis).reduce((a, b) => a * b, 1);
    for (let o = 0; o < outer; o++)
      for (const k of ks as ConstantValue[]) {
        const block = k.dims.slice(axis).reduce((a, b) => a * b, 1);
        for (let j = 0; j < block; j++) values.push(k.values[o * block + j] ?? null);
      }
    if (values.length <= CONSTANT_LIMIT) c.setConstant(0, { dtype: elem || ks[0]!.dtype, dims: out, values });
  }
});

function dimSum(dims: Dim[]): Dim {
  let n = 0;
  for (const d of dims) {
    if (!isNum(d)) return null;
    n += d;
  }
  return n;
}

define(['Split'], (c) => {
  const x = c.shape(0);
  const n = c.outputCount;
  const t = c.elem(0);
  if (!x) {
    for (let i = 0; i < n; i++) c.set(i, t, undefined);
    return;
  }
  const axis = axisOf(c.int('axis', 0), x.length);
  if (axis === undefined) return;
  const given: number[] | undefined = c.has(1) ? c.numbers(1) : c.ints('split');
  const total = x[axis]!;
  let sizes: Dim[];
  if (given) sizes = given;
  else if (c.has(1)) sizes = unknownDims(n);
  else if (isNum(total)) {
    const chunk = Math.ceil(total / n);
    sizes = Array.from({ length: n }, (_, i) => dimOf(Math.min(chunk, total - chunk * i)));
  } else sizes = unknownDims(n);
  const k = c.constant(0);
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const size = sizes[i] ?? null;
    c.set(
      i,
      t,
      x.map((d, j) => (j === axis ? size : d)),
    );
    if (k && k.dims.length === 1 && isNum(size))
      c.setConstant(i, { dtype: k.dtype, dims: [size], values: k.values.slice(offset, offset + size) });
    offset += isNum(size) ? size : 0;
  }
});

/** Start and length of a slice along one dim, clamped as the spec says. */
function sliceRange(
  dim: number,
  start: number,
  end: number,
  step: number,
): { start: number; length: number } | undefined {
  if (step === 0 || !Number.isFinite(dim)) return undefined;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = Math.min(Math.max(start, 0), dim);
    end = Math.min(Math.max(end, 0), dim);
    return { start, length: Math.max(0, Math.ceil((end - start) / step)) };
  }
  start = Math.min(Math.max(start, 0), dim - 1);
  end = Math.min(Math.max(end, -1), dim - 1);
  return { start, length: Math.max(0, Math.ceil((start - end) / -step)) };
}

define(['Slice'], (c) => {
  const x = c.shape(0);
  const t = c.elem(0);
  if (!x) return c.set(0, t, undefined);
  const old = c.opset < 10;
  const starts = old ? c.ints('starts') : c.numbers(1);
  const ends = old ? c.ints('ends') : c.numbers(2);
  const axesGiven = old ? c.ints('axes') : c.has(3) ? c.numbers(3) : undefined;
  const axesKnown = old || !c.has(3) || axesGiven !== undefined;
  const steps = old || !c.has(4) ? undefined : c.numbers(4);
  if (!starts || !ends || !axesKnown || (!old && c.has(4) && !steps)) {
    const out = x.map((d, i) => (axesGiven && !axesGiven.some((a) => axisOf(a, x.length) === i) ? d : null));
    return c.set(0, t, out);
  }
  const axes = axesGiven ?? starts.map((_, i) => i);
  const out = [...x];
  const ranges = new Map<number, { start: number; step: number }>();
  for (let j = 0; j < axes.length; j++) {
    const axis = axisOf(axes[j]!, x.length);
    if (axis === undefined) return c.set(0, t, unknownDims(x.length));
    const step = steps?.[j] ?? 1;
    const d = x[axis]!;
    if (!isNum(d)) {
      // slicing a symbolic dim whole keeps it
      out[axis] = starts[j] === 0 && step === 1 && ends[j]! >= 2 ** 31 - 1 ? d : null;
      continue;
    }
    const r = sliceRange(d, starts[j]!, ends[j]!, step);
    out[axis] = r ? r.length : null;
    if (r) ranges.set(axis, { start: r.start, step });
  }
  c.set(0, t, out);
  const k = c.constant(0);
  if (k && isStaticShape(out) && k.dims.length === out.length) {
    const strides = stridesOf(k.dims);
    c.setConstant(
      0,
      buildConstant(k.dtype, out, (index) => {
        let flat = 0;
        for (let i = 0; i < index.length; i++) {
          const r = ranges.get(i);
          flat += (r ? r.start + index[i]! * r.step : index[i]!) * strides[i]!;
        }
        return k.values[flat] ?? null;
      }),
    );
  }
});

define(['Squeeze'], (c) => {
  const x = c.shape(0);
  const t = c.elem(0);
  const axes = c.opset < 13 ? c.ints('axes') : c.has(1) ? c.numbers(1) : undefined;
  if (!x || (c.opset >= 13 && c.has(1) && !axes)) {
    const count = c.shape(1)?.[0];
    return c.set(0, t, x && isNum(count) && count <= x.length ? unknownDims(x.length - count) : undefined);
  }
  let out: Dim[];
  if (axes && axes.length > 0) {
    const drop = new Set(axes.map((a) => axisOf(a, x.length)));
    out = x.filter((_, i) => !drop.has(i));
  } else {
    if (x.some((d) => d === null)) return c.set(0, t, undefined);
    out = x.filter((d) => d !== 1);
  }
  c.set(0, t, out);
  const k = c.constant(0);
  if (k && isStaticShape(out)) c.setConstant(0, { ...k, dims: out });
});

define(['Unsqueeze'], (c) => {
  const x = c.shape(0);
  const t = c.elem(0);
  const axes = c.opset < 13 ? c.ints('axes') : c.numbers(1);
  if (!x || !axes) {
    const count = c.shape(1)?.[0];
    return c.set(
      0,
      t,
      x && isNum(count) && count <= CONSTANT_LIMIT ? unknownDims(x.length + count) : undefined,
    );
  }
  const rank = x.length + axes.length;
  const inserted = new Set(axes.map((a) => axisOf(a, rank)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(inserted.has(i) ? 1 : (x[j++] ?? null));
  c.set(0, t, out);
  const k = c.constant(0);
  if (k && isStaticShape(out)) c.setConstant(0, { ...k, dims: out });
});

define(['Gather'], (c) => {
  const x = c.shape(0);
  const q = c.shape(1);
  const t = c.elem(0);
  if (!x || !q) return c.set(0, t, undefined);
  const axis = axisOf(c.int('axis', 0), x.length);
  if (axis === undefined) return c.set(0, t, undefined);
  const out = [...x.slice(0, axis), ...q, ...x.slice(axis + 1)];
  c.set(0, t, out);
  const k = c.constant(0);
  const idx = c.numbers(1);
  if (!k || !idx || !isStaticShape(out)) return;
  const strides = stridesOf(k.dims);
  const size = k.dims[axis]!;
  const qRank = q.length;
  c.setConstant(
    0,
    buildConstant(k.dtype, out, (index) => {
      let qFlat = 0;
      for (let i = 0; i < qRank; i++) qFlat = qFlat * (q[i] as number) + index[axis + i]!;
      let g = idx[qFlat]!;
      if (g < 0) g += size;
      if (!(g >= 0 && g < size)) return null;
      let flat = 0;
      for (let i = 0; i < axis; i++) flat += index[i]! * strides[i]!;
      flat += g * strides[axis]!;
      for (let i = axis + 1; i < k.dims.length; i++) flat += index[i - 1 + qRank]! * strides[i]!;
      return k.values[flat] ?? null;
    }),
  );
});

define(['GatherElements'], (c) => c.set(0, c.elem(0), c.shape(1)));

define(['GatherND'], (c) => {
  const x = c.shape(0);
  const q = c.shape(1);
  const last = q?.[q.length - 1];
  if (!x || !q || !isNum(last)) return c.set(0, c.elem(0), undefined);
  const batch = c.int('batch_dims', 0);
  c.set(0, c.elem(0), [...q.slice(0, -1), ...x.slice(batch + last)]);
});

define(['Shape'], (c) => {
  const x = c.shape(0);
  if (!x) return c.set(0, DataType.INT64, [null]);
  const r = x.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clamp(c.int('start', 0));
  const end = clamp(c.int('end', r));
  const values = x.slice(start, Math.max(start, end));
  c.setConstant(0, { dtype: DataType.INT64, dims: [values.length], values });
});

define(['Size'], (c) => {
  const x = c.shape(0);
  c.set(0, DataType.INT64, []);
  const n = x ? dimProduct(x) : null;
  if (n !== null) c.setConstant(0, { dtype: DataType.INT64, dims: [], values: [n] });
});

define(['ConstantOfShape'], (c) => {
  const value = c.node.attributes.get('value')?.t;
  const t = value?.dtype ?? DataType.FLOAT;
  const dims = c.dims(0);
  if (!dims) {
    const n = c.shape(0)?.[0];
    return c.set(0, t, isNum(n) && n <= CONSTANT_LIMIT ? unknownDims(n) : undefined);
  }
  const shape = dims.map((d) => (isNum(d) ? dimOf(d) : d));
  c.set(0, t, shape);
  if (!isStaticShape(shape)) return;
  const fill = value ? (tensorConstant(value)?.values[0] ?? null) : 0;
  c.setConstant(
    0,
    buildConstant(t, shape, () => fill),
  );
});

define(['Constant'], (c) => {
  const a = c.node.attributes;
  const tensor = a.get('value')?.t;
  if (tensor) {
    c.set(0, tensor.dtype, [...tensor.dims]);
    c.setConstant(0, tensorConstant(tensor));
  } else if (a.has('value_float'))
    c.setConstant(0, { dtype: DataType.FLOAT, dims: [], values: [c.float('value_float', 0)] });
  else if (a.has('value_floats')) {
    const v = c.floats('value_floats') ?? [];
    c.setConstant(0, { dtype: DataType.FLOAT, dims: [v.length], values: [...v] });
  } else if (a.has('value_int'))
    c.setConstant(0, { dtype: DataType.INT64, dims: [], values: [c.int('value_int', 0)] });
  else if (a.has('value_ints')) {
    const v = c.ints('value_ints') ?? [];
    c.setConstant(0, { dtype: DataType.INT64, dims: [v.length], values: v });
  } else if (a.has('value_string')) c.set(0, DataType.STRING, []);
  else if (a.has('value_strings')) c.set(0, DataType.STRING, [a.get('value_strings')!.proto.strings.length]);
  else if (a.has('sparse_value')) {
    const sp = a.get('sparse_value')!.proto.sparseTensor;
    if (sp) c.set(0, sp.values?.dataType ?? 0, sp.dims.map(Number));
  }
});

define(['Expand'], (c) => {
  const x = c.shape(0);
  const target = c.dims(1);
  if (!target) {
    const n = c.shape(1)?.[0];
    const rank = x && isNum(n) ? Math.max(x.length, n) : undefined;
    return c.set(0, c.elem(0), rank !== undefined && rank <= CONSTANT_LIMIT ? unknownDims(rank) : undefined);
  }
  const out = broadcastShapes([x, target]);
  c.set(0, c.elem(0), out);
  const k = c.constant(0);
  if (k && out && isStaticShape(out)) {
    const strides = stridesOf(k.dims);
    c.setConstant(
      0,
      buildConstant(k.dtype, out, (index) => broadcastRead(k, strides, index)),
    );
  }
});

define(['Tile'], (c) => {
  const x = c.shape(0);
  const repeats = c.numbers(1);
  if (!x) return c.set(0, c.elem(0), undefined);
  if (!repeats) return c.set(0, c.elem(0), unknownDims(x.length));
  const out = x.map((d, i) => (repeats[i] === 1 ? d : isNum(d) ? dimOf(d * (repeats[i] ?? 1)) : null));
  c.set(0, c.elem(0), out);
  const k = c.constant(0);
  if (k && isStaticShape(out)) {
    const strides = stridesOf(k.dims);
    c.setConstant(
      0,
      buildConstant(
        k.dtype,
        out,
        (index) => k.values[index.reduce((s, v, i) => s + (v % k.dims[i]!) * strides[i]!, 0)] ?? null,
      ),
    );
  }
});

define(['Pad'], (c) => {
  const x = c.shape(0);
  if (!x) return c.set(0, c.elem(0), undefined);
  const pads = c.opset < 11 ? (c.ints('pads') ?? c.ints('paddings')) : c.numbers(1);
  if (!pads) return c.set(0, c.elem(0), unknownDims(x.length));
  const axes = c.opset >= 18 && c.has(3) ? c.numbers(3) : x.map((_, i) => i);
  if (!axes) return c.set(0, c.elem(0), unknownDims(x.length));
  const out = [...x];
  axes.forEach((a, j) => {
    const axis = axisOf(a, x.length);
    if (axis === undefined) return;
    const d = out[axis]!;
    const extra = (pads[j] ?? 0) + (pads[j + axes.length] ?? 0);
    out[axis] = extra === 0 ? d : isNum(d) ? dimOf(d + extra) : null;
  });
  c.set(0, c.elem(0), out);
});

define(['CenterCropPad'], (c) => {
  const x = c.shape(0);
  const size = c.dims(1);
  if (!x) return c.set(0, c.elem(0), undefined);
  const axes = c.ints('axes') ?? x.map((_, i) => i);
  const out = [...x];
  axes.forEach((a, j) => {
    const axis = axisOf(a, x.length);
    if (axis !== undefined) out[axis] = size?.[j] ?? null;
  });
  c.set(0, c.elem(0), out);
});

define(['Resize', 'Upsample'], (c) => {
  const x = c.shape(0);
  const t = c.elem(0);
  if (!x) return c.set(0, t, undefined);
  const rank = x.length;
  const axes = (c.ints('axes') ?? x.map((_, i) => i)).map((a) => axisOf(a, rank));
  let scales: number[] | undefined;
  let sizes: number[] | undefined;
  if (c.node.opType === 'Upsample' && c.opset < 9) scales = c.floats('scales');
  else if (c.node.opType === 'Upsample' || c.opset < 11) scales = c.numbers(1);
  else {
    sizes = c.has(3) ? c.numbers(3) : undefined;
    scales = c.has(2) ? c.numbers(2) : undefined;
    if (sizes?.length === 0) sizes = undefined;
    if (scales?.length === 0) scales = undefined;
    if (!sizes && !scales && (c.has(2) || c.has(3))) return c.set(0, t, unknownDims(rank));
  }
  const out = [...x];
  if (sizes) {
    const policy = c.str('keep_aspect_ratio_policy', 'stretch');
    if (policy === 'stretch') {
      axes.forEach((a, j) => {
        if (a !== undefined) out[a] = sizes![j] ?? null;
      });
    } else {
      const ratios = axes.map((a, j) => (a !== undefined && isNum(x[a]) ? sizes![j]! / x[a] : Number.NaN));
      const scale = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      for (const a of axes)
        if (a !== undefined) out[a] = isNum(x[a]) ? dimOf(Math.floor(scale * x[a] + 0.5)) : null;
    }
  } else if (scales) {
    const crop =
      c.str('coordinate_transformation_mode', '') === 'tf_crop_and_resize' ? c.numbers(1) : undefined;
    axes.forEach((a, j) => {
      if (a === undefined) return;
      const d = x[a]!;
      const s = scales![j] ?? 1;
      const roi = crop ? crop[j + axes.length]! - crop[j]! : 1;
      out[a] = s === 1 && roi === 1 ? d : isNum(d) ? dimOf(Math.floor(d * roi * s)) : null;
    });
  } else return c.set(0, t, unknownDims(rank));
  c.set(0, t, out);
});

define(['DepthToSpace', 'SpaceToDepth'], (c) => {
  const x = c.shape(0);
  const b = c.int('blocksize', 1);
  if (x?.length !== 4) return c.set(0, c.elem(0), x && unknownDims(x.length));
  const [n, ch, h, w] = x as [Dim, Dim, Dim, Dim];
  const scale = (d: Dim, f: number) => (isNum(d) ? dimOf(d * f) : null);
  if (c.node.opType === 'DepthToSpace')
    c.set(0, c.elem(0), [n, scale(ch, 1 / (b * b)), scale(h, b), scale(w, b)]);
  else c.set(0, c.elem(0), [n, scale(ch, b * b), scale(h, 1 / b), scale(w, 1 / b)]);
});

define(['OneHot'], (c) => {
  const q = c.shape(0);
  const depth = c.numbers(1)?.[0];
  if (!q) return c.set(0, c.elem(2), undefined);
  const axis = axisOf(c.int('axis', -1), q.length + 1) ?? q.length;
  const out = [...q];
  out.splice(axis, 0, depth !== undefined ? dimOf(depth) : null);
  c.set(0, c.elem(2), out);
});

define(['Compress'], (c) => {
  const x = c.shape(0);
  const cond = c.numbers(1);
  const count = cond ? cond.filter((v) => v !== 0).length : null;
  if (!c.hasAttr('axis')) return c.set(0, c.elem(0), [count]);
  if (!x) return c.set(0, c.elem(0), undefined);
  const axis = axisOf(c.int('axis', 0), x.length);
  c.set(
    0,
    c.elem(0),
    x.map((d, i) => (i === axis ? count : d)),
  );
});

define(['NonZero'], (c) => c.set(0, DataType.INT64, [c.shape(0)?.length ?? null, null]));
define(['NonMaxSuppression'], (c) => c.set(0, DataType.INT64, [null, 3]));
define(['Det'], (c) => c.set(0, c.elem(0), c.shape(0)?.slice(0, -2)));

define(['Range'], (c) => {
  const [start, limit, delta] = [c.numbers(0)?.[0], c.numbers(1)?.[0], c.numbers(2)?.[0]];
  const t = c.elem(0) || c.elem(1);
  if (start === undefined || limit === undefined || delta === undefined || delta === 0)
    return c.set(0, t, [null]);
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  c.set(0, t, [dimOf(n)]);
  if (n <= CONSTANT_LIMIT)
    c.setConstant(0, { dtype: t, dims: [n], values: Array.from({ length: n }, (_, i) => start + i * delta) });
});

define(['TopK'], (c) => {
  const x = c.shape(0);
  const k = c.opset < 10 ? c.int('k', 0) : c.numbers(1)?.[0];
  const out = x?.map((d, i) =>
    i === axisOf(c.int('axis', -1), x.length) ? (k !== undefined ? dimOf(k) : null) : d,
  );
  c.set(0, c.elem(0), out);
  c.set(1, DataType.INT64, out);
});

// ---------------------------------------------------------------------------------------------------
// rules: reductions

function reduceRule(
  c: RuleContext,
  elemType: number,
  axes: number[] | undefined,
  axesUnknown: boolean,
): void {
  const x = c.shape(0);
  const keep = c.int('keepdims', 1) === 1;
  if (!x || axesUnknown) {
    c.set(0, elemType, x && keep ? unknownDims(x.length) : undefined);
    return;
  }
  if (!axes || axes.length === 0) {
    if (c.int('noop_with_empty_axes', 0) === 1) {
      c.set(0, elemType, x);
      return;
    }
    axes = x.map((_, i) => i);
  }
  const reduced = new Set(axes.map((a) => axisOf(a, x.length)));
  const out: Dim[] = [];
  x.forEach((d, i) => {
    if (!reduced.has(i)) out.push(d);
    else if (keep) out.push(1);
  });
  c.set(0, elemType, out);
}

define(
  ops(
    'ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceSumSquare',
  ),
  (c) => {
    const fromInput = c.has(1);
    const axes = fromInput ? c.numbers(1) : c.ints('axes');
    reduceRule(c, c.elem(0), axes, fromInput && !axes);
    // ReduceProd/ReduceSum of a known shape vector (used for flatten sizes)
    const k = c.constant(0);
    const op = c.node.opType;
    if (
      k &&
      k.dims.length === 1 &&
      (op === 'ReduceProd' || op === 'ReduceSum') &&
      (!axes || axes.length <= 1)
    ) {
      const v = op === 'ReduceProd' ? dimProduct(k.values) : dimSum(k.values);
      const keep = c.int('keepdims', 1) === 1;
      c.setConstant(0, { dtype: k.dtype, dims: keep ? [1] : [], values: [v] });
    }
  },
);

define(['ArgMax', 'ArgMin'], (c) => reduceRule(c, DataType.INT64, [c.int('axis', 0)], false));

define(['NegativeLogLikelihoodLoss', 'SoftmaxCrossEntropyLoss'], (c) => {
  const x = c.shape(0);
  const reduction = c.str('reduction', 'mean');
  c.set(0, c.elem(0), reduction === 'none' ? x && [x[0]!, ...x.slice(2)] : []);
  if (c.node.opType === 'SoftmaxCrossEntropyLoss') c.set(1, c.elem(0), x);
});

// ---------------------------------------------------------------------------------------------------
// rules: signal processing and text

define(['HannWindow', 'HammingWindow', 'BlackmanWindow'], (c) => {
  const n = c.numbers(0)?.[0];
  c.set(0, c.int('output_datatype', DataType.FLOAT), [n !== undefined ? dimOf(n) : null]);
});

define(['MelWeightMatrix'], (c) => {
  const bins = c.numbers(0)?.[0];
  const length = c.numbers(1)?.[0];
  c.set(0, c.int('output_datatype', DataType.FLOAT), [
    length !== undefined ? dimOf(Math.floor(length / 2) + 1) : null,
    bins !== undefined ? dimOf(bins) : null,
  ]);
});

define(['DFT'], (c) => {
  const x = c.shape(0);
  if (!x) return c.set(0, c.elem(0), undefined);
  const axisValue = c.opset >= 20 ? (c.has(2) ? c.numbers(2)?.[0] : -2) : c.int('axis', 1);
  const axis = axisValue !== undefined ? axisOf(axisValue, x.length) : undefined;
  const out = [...x.slice(0, -1), 2];
  if (axis === undefined) return c.set(0, c.elem(0), unknownDims(x.length));
  const length: Dim = c.has(1) ? (c.numbers(1)?.[0] ?? null) : x[axis]!;
  out[axis] = c.int('onesided', 0) === 1 ? (isNum(length) ? Math.floor(length / 2) + 1 : null) : length;
  c.set(0, c.elem(0), out);
});

define(['STFT'], (c) => {
  const x = c.shape(0);
  const step = c.numbers(1)?.[0];
  const frame = c.has(3) ? c.numbers(3)?.[0] : c.shape(2)?.[0];
  const length = x?.[1];
  const frames =
    isNum(length) && isNum(frame) && step ? dimOf(Math.floor((length - frame) / step) + 1) : null;
  const bins = isNum(frame) ? (c.int('onesided', 1) === 1 ? Math.floor(frame / 2) + 1 : frame) : null;
  c.set(0, c.elem(0), [x?.[0] ?? null, frames, bins, 2]);
});

define(['TfIdfVectorizer'], (c) => {
  const x = c.shape(0);
  const width = Math.max(-1, ...(c.ints('ngram_indexes') ?? [])) + 1;
  c.set(0, DataType.FLOAT, x ? (x.length === 1 ? [width] : [x[0]!, width]) : undefined);
});

define(['RegexFullMatch'], (c) => c.set(0, DataType.BOOL, c.shape(0)));

// ---------------------------------------------------------------------------------------------------
// rules: control flow (rule 5)

define(['If'], (c) => {
  const thenBranch = c.node.attributes.get('then_branch')?.g;
  const elseBranch = c.node.attributes.get('else_branch')?.g;
  if (thenBranch) c.engine.inferGraph(thenBranch);
  if (elseBranch) c.engine.inferGraph(elseBranch);
  const cond = c.numbers(0);
  const taken = cond?.length === 1 ? (cond[0] ? thenBranch : elseBranch) : undefined;
  for (let i = 0; i < c.outputCount; i++) {
    const a = thenBranch && c.engine.typeOf(thenBranch.outputs[i]);
    const b = elseBranch && c.engine.typeOf(elseBranch.outputs[i]);
    c.types[i] = taken ? c.engine.typeOf(taken.outputs[i]) : unifyTypes(a, b);
  }
});

define(['Loop'], (c) => {
  const body = c.node.attributes.get('body')?.g;
  if (!body) return;
  const carried = Math.max(0, c.inputCount - 2);
  const scanOutputs = Math.max(0, body.outputs.length - 1 - carried);
  let seeds: (TensorType | undefined)[] = [];
  for (let i = 0; i < carried; i++) seeds.push(c.type(2 + i));
  let finals: (TensorType | undefined)[] = seeds;
  for (let pass = 0; pass < 2; pass++) {
    c.engine.inferSubgraph(body, [
      { elemType: DataType.INT64, shape: [] },
      { elemType: DataType.BOOL, shape: [] },
      ...seeds,
    ]);
    const outs = body.outputs.slice(1, 1 + carried).map((v) => c.engine.typeOf(v));
    finals = seeds.map((s, i) =>
      outs[i] && s ? unifyTypes(s, outs[i]) : s && { elemType: s.elemType, shape: undefined },
    );
    const changed = seeds.some((s, i) => outs[i] && s && !sameType(s, finals[i]));
    if (!changed) break;
    seeds = finals;
  }
  for (let i = 0; i < carried; i++) c.types[i] = finals[i];
  const trips = loopTripCount(c, body);
  for (let k = 0; k < scanOutputs; k++) {
    const t = c.engine.typeOf(body.outputs[1 + carried + k]);
    c.types[carried + k] = t && { elemType: t.elemType, shape: t.shape && [trips, ...t.shape] };
  }
});

/** A Loop runs exactly M times when its condition cannot turn false. */
function loopTripCount(c: RuleContext, body: Graph): Dim {
  const m = c.has(0) ? c.numbers(0)?.[0] : undefined;
  if (m === undefined) return null;
  const condIn = body.inputs[1];
  let condOut: Value | undefined = body.outputs[0];
  while (condOut?.producer?.opType === 'Identity') condOut = condOut.producer.inputs[0];
  const initial = c.has(1) ? c.numbers(1)?.[0] : 1;
  const constantTrue = condOut && c.engine.constOf(condOut)?.values[0] === 1;
  return initial && (condOut === condIn || constantTrue) ? dimOf(m) : null;
}

define(['Scan'], (c) => {
  const body = c.node.attributes.get('body')?.g;
  if (!body) return;
  if (c.opset < 9) return scanOpset8(c, body);
  const m = c.int('num_scan_inputs', 0);
  const n = c.inputCount - m;
  const inputAxes = c.ints('scan_input_axes') ?? new Array(m).fill(0);
  const outputAxes = c.ints('scan_output_axes');
  const seeds: (TensorType | undefined)[] = [];
  let length: Dim = null;
  for (let i = 0; i < c.inputCount; i++) {
    const t = c.type(i);
    if (i < n || !t?.shape) {
      seeds.push(t && i >= n ? { elemType: t.elemType, shape: undefined } : t);
      continue;
    }
    const axis = axisOf(inputAxes[i - n] ?? 0, t.shape.length) ?? 0;
    if (i === n) length = t.shape[axis] ?? null;
    seeds.push({ elemType: t.elemType, shape: t.shape.filter((_, j) => j !== axis) });
  }
  c.engine.inferSubgraph(body, seeds);
  for (let i = 0; i < body.outputs.length; i++) {
    const t = c.engine.typeOf(body.outputs[i]);
    if (i < n) {
      c.types[i] = mergeTypes(t, seeds[i]);
      continue;
    }
    if (!t?.shape) {
      c.types[i] = t;
      continue;
    }
    const shape = [...t.shape];
    const axis = axisOf(outputAxes?.[i - n] ?? 0, shape.length + 1) ?? 0;
    shape.splice(axis, 0, length);
    c.types[i] = { elemType: t.elemType, shape };
  }
});

/** Scan-8: every input and output has a batch axis first; scan inputs then the sequence axis. */
function scanOpset8(c: RuleContext, body: Graph): void {
  const m = c.int('num_scan_inputs', 0);
  const n = c.inputCount - 1 - m;
  const seeds: (TensorType | undefined)[] = [];
  let batch: Dim = null;
  let length: Dim = null;
  for (let i = 1; i < c.inputCount; i++) {
    const t = c.type(i);
    batch = mergeDim(batch, t?.shape?.[0]);
    if (i - 1 >= n && length === null) length = t?.shape?.[1] ?? null;
    seeds.push(t && { elemType: t.elemType, shape: t.shape?.slice(i - 1 < n ? 1 : 2) });
  }
  c.engine.inferSubgraph(body, seeds);
  body.outputs.forEach((v, i) => {
    const t = mergeTypes(c.engine.typeOf(v), i < n ? seeds[i] : undefined);
    c.types[i] = t && {
      elemType: t.elemType,
      shape: t.shape && (i < n ? [batch, ...t.shape] : [batch, length, ...t.shape]),
    };
  });
}

define(['OptionalHasElement'], (c) => c.set(0, DataType.BOOL, []));
define(['OptionalGetElement'], (c) => {
  const v = c.node.inputs[0];
  const source = v?.producer?.opType === 'Optional' ? v.producer.inputs[0] : undefined;
  const tp = v?.typeProto?.value;
  const inner = tp?.case === 'optionalType' ? tp.value.elemType?.value : undefined;
  const declared: TensorType | undefined =
    inner?.case === 'tensorType'
      ? {
          elemType: inner.value.elemType,
          shape: inner.value.shape?.dim.map((d) =>
            d.value.case === 'dimValue' ? Number(d.value.value) : null,
          ),
        }
      : undefined;
  const t = c.engine.typeOf(source) ?? c.type(0) ?? declared;
  if (t) c.types[0] = t;
});

define(['StringNormalizer'], (c) => {
  // without stop words nothing is removed (an emptied input still yields one empty string)
  const x = c.shape(0);
  const stopwords = c.node.attributes.get('stopwords')?.proto.strings.length ?? 0;
  c.set(0, DataType.STRING, stopwords === 0 ? x : x && [...x.slice(0, -1), null]);
});

// ---------------------------------------------------------------------------------------------------
// rules: training ops (ai.onnx.preview.training): updated tensors keep the shapes of their inputs

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
const TRAINING_RULES = new Map<string, Rule>([
  ['Adagrad', optimizerRule],
  ['Adam', optimizerRule],
  ['Momentum', optimizerRule],
]);

// ---------------------------------------------------------------------------------------------------
// rules: com.microsoft contrib ops common in exported and quantized models

define(
  ['Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu', 'QLinearSigmoid', 'QLinearLeakyRelu'],
  (c) => c.set(0, c.elem(0), c.shape(0)),
  MS_RULES,
);
define(
  ['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization'],
  (c) => {
    c.set(0, c.elem(0), c.shape(0));
    if (c.outputCount > 3) c.set(3, c.elem(0), c.shape(0));
  },
  MS_RULES,
);
define(
  ['FusedConv', 'NhwcConv'],
  convRule(1, (c) => c.elem(0)),
  MS_RULES,
);
define(
  ['FusedGemm'],
  gemmRule(1, (c) => c.elem(0)),
  MS_RULES,
);
define(
  ['QGemm'],
  gemmRule(3, (c) => (c.has(8) ? c.elem(8) : DataType.FLOAT)),
  MS_RULES,
);
define(
  ['FusedMatMul'],
  (c) => {
    const a = transposeLast(c.shape(0), c.int('transA', 0) === 1);
    const b = transposeLast(c.shape(1), c.int('transB', 0) === 1);
    c.set(0, c.elem(0), matmulShape(a, b));
  },
  MS_RULES,
);
define(['MatMulInteger16'], (c) => c.set(0, DataType.INT32, matmulShape(c.shape(0), c.shape(1))), MS_RULES);
define(
  ['MatMulIntegerToFloat', 'DynamicQuantizeMatMul'],
  (c) => c.set(0, DataType.FLOAT, matmulShape(c.shape(0), c.shape(1))),
  MS_RULES,
);
define(
  ['MatMulNBits'],
  (c) => {
    const a = c.shape(0);
    c.set(0, c.elem(0), a && [...a.slice(0, -1), c.int('N', 0) || null]);
  },
  MS_RULES,
);
define(
  ['QLinearAdd', 'QLinearMul'],
  (c) => c.set(0, c.elem(0), broadcastShapes([c.shape(0), c.shape(3)])),
  MS_RULES,
);
define(['QuantizeLinear', 'DequantizeLinear'], (c) => RULES.get(c.node.opType)!(c), MS_RULES);

// ---------------------------------------------------------------------------------------------------
// writing back (rule 2)

/** `old` improved by `inferred` dim by dim; a known number is never replaced. */
function improveType(old: TensorType | undefined, inferred: TensorType): TensorType | undefined {
  if (!old) return inferred;
  const elemType = old.elemType || inferred.elemType;
  let shape = old.shape;
  if (!old.shape) shape = inferred.shape;
  else if (inferred.shape && inferred.shape.length === old.shape.length) {
    const s = inferred.shape;
    shape = old.shape.map((d, i) => (isNum(d) ? d : isNum(s[i]) ? s[i]! : (d ?? s[i] ?? null)));
  }
  const next = { elemType, shape };
  return sameType(next, old) ? undefined : next;
}

function writeTypes(model: Model, types: Map<Value, TensorType>): void {
  for (const g of model.graph.allGraphs()) {
    const values = g.nodes.flatMap((n) => n.outputs);
    if (g !== model.graph) values.push(...g.inputs);
    for (const v of values) {
      const t = types.get(v);
      const next = t && v.name !== '' ? improveType(v.type, t) : undefined;
      if (next) v.setType(next);
    }
  }
}
