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
//
// This file holds the walk (Engine), input binding and writing back; the rules per op family live in
// rules/, the dim and constant helpers they share in dims.ts and constants.ts.

import { EdgefitError } from '../../errors.js';
import type { Dim, Graph, Model, Node, TensorType, Value } from '../../ir/graph.js';
import { tensorConstant } from './constants.js';
import { RuleContext } from './context.js';
import { isNum, mergeTypes, sameType } from './dims.js';
import { ruleFor } from './rules/index.js';
import type { ConstantValue, InferenceError, InferShapesOptions, ShapeInference } from './types.js';

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
// the engine: types and constants by Value, one walk over the nodes

export class Engine {
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
