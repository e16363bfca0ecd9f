// The verifier: the invariants every pass must keep. It returns problems as strings (one per
// violation) so tests can assert on them; `assertValid` turns them into a user-facing error.
//  1. single assignment: a value name is defined once in a graph and not redefined by a subgraph
//  2. every node input is defined in this graph or an enclosing one, by a node still in the graph
//  3. nodes are in topological order, and there is no cycle
//  4. every domain a node uses has an opset import
//  5. use lists agree with node inputs (an internal invariant)
//  6. a Constant node has exactly one attribute, one of the value forms the spec names
//  7. graph inputs and outputs have names, and the main graph has at least one output (ONNX Runtime
//     runs nothing else)

import { EdgefitError } from '../errors.js';
import type { Graph, Model, Node, Value } from './graph.js';

function isAncestorOrSelf(ancestor: Graph, g: Graph): boolean {
  for (let cur: Graph | undefined = g; cur; cur = cur.parentNode?.graph) if (cur === ancestor) return true;
  return false;
}

function label(n: Node): string {
  return n.name ? `node ${n.name} (${n.opType})` : `a ${n.opType} node`;
}

const CONSTANT_VALUES = new Set([
  'value',
  'value_float',
  'value_floats',
  'value_int',
  'value_ints',
  'value_string',
  'value_strings',
  'sparse_value',
]);

/** A binary min-heap of integers: Kahn's algorithm in O(n log n) whatever the graph's width. */
class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(x: number): void {
    const a = this.a;
    let i = a.push(x) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= x) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1]! < a[l]! ? l + 1 : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

/** Kahn's algorithm over one graph's nodes; returns undefined when the nodes form a cycle. */
export function topologicalOrder(graph: Graph): Node[] | undefined {
  const index = new Map(graph.nodes.map((n, i) => [n, i]));
  const indegree = new Array<number>(graph.nodes.length).fill(0);
  const users: number[][] = graph.nodes.map(() => []);
  graph.nodes.forEach((node, i) => {
    // a node depends on the producers of its inputs and of the inputs its subgraphs read from here
    const deps = new Set<number>();
    const readers = [node, ...node.subgraphs().flatMap((g) => [...g.allNodes()])];
    for (const reader of readers)
      for (const v of reader.inputs) {
        const j = v?.producer && v.producer.graph === graph ? index.get(v.producer) : undefined;
        if (j !== undefined && (j !== i || reader === node)) deps.add(j);
      }
    for (const j of deps) {
      users[j]!.push(i);
      indegree[i]!++;
    }
  });
  // keep the original order among ready nodes (a stable sort keeps diffs small): a min-heap of indices
  const ready = new MinHeap();
  indegree.forEach((d, i) => {
    if (d === 0) ready.push(i);
  });
  const order: Node[] = [];
  while (ready.size) {
    const i = ready.pop();
    order.push(graph.nodes[i]!);
    for (const u of users[i]!) if (--indegree[u]! === 0) ready.push(u);
  }
  return order.length === graph.nodes.length ? order : undefined;
}

/** Reorder a graph's nodes topologically (stable); throws on a cycle. */
export function topologicalSort(graph: Graph): void {
  const order = topologicalOrder(graph);
  if (!order)
    throw new EdgefitError(
      'BAD_GRAPH',
      `graph ${graph.name || '(main)'} contains a cycle`,
      'the model is invalid',
    );
  graph.nodes.splice(0, graph.nodes.length, ...order);
}

export function verifyModel(model: Model): string[] {
  const problems: string[] = [];
  if (model.graph.outputs.length === 0) problems.push('the main graph has no outputs');
  verifyGraph(model.graph, undefined, problems);
  const domains = new Set<string>();
  for (const n of model.graph.allNodes()) domains.add(n.domain === 'ai.onnx' ? '' : n.domain);
  for (const d of domains)
    if (!model.opsetImports.has(d))
      problems.push(`nodes use domain "${d || 'ai.onnx'}" but the model imports no opset for it`);
  return problems;
}

/** Whether a node is still in its graph, in O(1) (a Set per graph, built once per verification). */
type Membership = (n: Node) => boolean;
function membership(): Membership {
  const sets = new Map<Graph, Set<Node>>();
  return (n) => {
    let s = sets.get(n.graph);
    if (!s) {
      s = new Set(n.graph.nodes);
      sets.set(n.graph, s);
    }
    return s.has(n);
  };
}

/** Whether `v`'s use list records input `k` of `node`: a scan for short lists, an index for long ones. */
function usesIndex(): (v: Value, node: Node, k: number) => boolean {
  const index = new Map<Value, Map<Node, number[]>>();
  return (v, node, k) => {
    if (v.uses.length <= 16) return v.uses.some((u) => u.node === node && u.index === k);
    let m = index.get(v);
    if (!m) {
      m = new Map();
      for (const u of v.uses) {
        const l = m.get(u.node);
        if (l) l.push(u.index);
        else m.set(u.node, [u.index]);
      }
      index.set(v, m);
    }
    return m.get(node)?.includes(k) ?? false;
  };
}

/** The names enclosing graphs define, as a chain (no copying per subgraph). */
interface Names {
  own: Set<string>;
  parent: Names | undefined;
}
function named(names: Names | undefined, name: string): boolean {
  for (let n = names; n; n = n.parent) if (n.own.has(name)) return true;
  return false;
}

function verifyGraph(
  graph: Graph,
  outerNames: Names | undefined,
  problems: string[],
  inGraph: Membership = membership(),
  hasUse = usesIndex(),
): void {
  const gname = graph.name || (graph.parentNode ? `subgraph of ${label(graph.parentNode)}` : 'main graph');
  const defined = new Set<string>();
  const define = (v: Value, what: string) => {
    if (v.name === '') return;
    if (defined.has(v.name)) problems.push(`${gname}: "${v.name}" is defined twice (${what})`);
    else if (named(outerNames, v.name))
      problems.push(`${gname}: "${v.name}" (${what}) shadows a value of an enclosing graph`);
    defined.add(v.name);
  };
  graph.inputs.forEach((v, i) => {
    if (v.name === '') problems.push(`${gname}: input ${i} has an empty name`);
  });
  graph.outputs.forEach((v, i) => {
    if (v.name === '') problems.push(`${gname}: output ${i} has an empty name`);
  });
  for (const v of graph.initializers) define(v, 'initializer');
  for (const v of graph.sparseInitializers) define(v, 'sparse initializer');
  for (const v of graph.inputs) if (!v.initializer) define(v, 'graph input');
  const position = new Map(graph.nodes.map((n, i) => [n, i]));
  for (const node of graph.nodes) for (const o of node.outputs) define(o, `output of ${label(node)}`);

  const order = topologicalOrder(graph);
  if (!order) problems.push(`${gname}: the nodes form a cycle`);

  graph.nodes.forEach((node, i) => {
    node.inputs.forEach((v, k) => {
      if (!v) return;
      if (!isAncestorOrSelf(v.graph, graph)) {
        problems.push(
          `${gname}: ${label(node)} input ${k} ("${v.name}") belongs to a graph that does not enclose it`,
        );
        return;
      }
      if (!hasUse(v, node, k))
        problems.push(`${gname}: use list of "${v.name}" misses ${label(node)} input ${k}`);
      if (v.producer) {
        if (!inGraph(v.producer)) {
          problems.push(`${gname}: ${label(node)} reads "${v.name}", whose producer was removed`);
        } else if (order && v.producer.graph === graph && position.get(v.producer)! >= i) {
          problems.push(
            `${gname}: ${label(node)} reads "${v.name}" before it is computed (not in topological order)`,
          );
        }
      } else if (!v.initializer && !v.sparse && !v.isGraphInput) {
        problems.push(`${gname}: ${label(node)} reads "${v.name}", which nothing defines`);
      }
    });
    node.outputs.forEach((o, k) => {
      if (o.producer !== node || o.producerIndex !== k)
        problems.push(`${gname}: output ${k} of ${label(node)} is mislinked`);
    });
    if (node.opType === 'Constant' && (node.domain === '' || node.domain === 'ai.onnx')) {
      const values = [...node.attributes.keys()].filter((k) => CONSTANT_VALUES.has(k));
      if (values.length !== 1 || node.attributes.size !== 1)
        problems.push(
          `${gname}: ${label(node)} needs exactly one value attribute (${[...CONSTANT_VALUES].join(', ')}); it has ${
            [...node.attributes.keys()].map((k) => JSON.stringify(k.slice(0, 40))).join(', ') || 'none'
          }`,
        );
    }
  });
  for (const v of graph.outputs) {
    if (!isAncestorOrSelf(v.graph, graph))
      problems.push(`${gname}: output "${v.name}" is not visible in this graph`);
    else if (v.producer && !inGraph(v.producer))
      problems.push(`${gname}: output "${v.name}" comes from a removed node`);
  }
  const inner: Names = { own: defined, parent: outerNames };
  for (const node of graph.nodes)
    for (const g of node.subgraphs()) verifyGraph(g, inner, problems, inGraph, hasUse);
}

/** Throw a BAD_GRAPH error naming the first problem when the model is invalid. */
export function assertValid(model: Model): void {
  const problems = verifyModel(model);
  if (problems.length)
    throw new EdgefitError(
      'BAD_GRAPH',
      `invalid graph: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : ''}`,
      'the model is corrupt or was exported wrongly',
    );
}
