// Rules for control flow (rule 5 of engine.ts): If, Loop and Scan infer their subgraphs through the
// engine and derive the node's outputs from the subgraph outputs; Optional ops.

import type { Dim, Graph, TensorType, Value } from '../../../ir/graph.js';
import { DataType } from '../../../onnx/dtype.js';
import type { RuleContext, RuleRow } from '../context.js';
import { axisOf, dimOf, mergeDim, mergeTypes, sameType, unifyTypes } from '../dims.js';

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

export const controlFlowRules: RuleRow[] = [
  [
    ['If'],
    (c) => {
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
    },
  ],

  [
    ['Loop'],
    (c) => {
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
    },
  ],

  [
    ['Scan'],
    (c) => {
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
    },
  ],

  [['OptionalHasElement'], (c) => c.set(0, DataType.BOOL, [])],
  [
    ['OptionalGetElement'],
    (c) => {
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
    },
  ],
];
