// dedupe-initializers: identical weights (same dtype, dims and bytes) in one graph become one.
//  1. group initializers by (dtype, dims, byte length); compare bytes only within a group
//  2. every reader of a duplicate reads the first copy; the duplicate is dropped
//  3. initializers that are also graph inputs are left alone (they can be overridden at run time)
// Why: exporters often store the same constant (shape vectors, zero biases, tied embeddings) many times.

import type { Value } from '../../ir/graph.js';
import { definePass, noOptions, result } from '../pass.js';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a === b) return true;
  // compare 4 bytes at a time when both are aligned
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0 && a.length % 4 === 0) {
    const x = new Uint32Array(a.buffer, a.byteOffset, a.length / 4);
    const y = new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const dedupeInitializers = definePass({
  id: 'dedupe-initializers',
  summary: 'merge identical initializers',
  lossless: true,
  options: noOptions,
  apply(model) {
    let merged = 0;
    let bytesSaved = 0;
    for (const graph of model.graph.allGraphs()) {
      const groups = new Map<string, Value[]>();
      for (const v of graph.initializers) {
        const t = v.initializer!;
        if (v.isGraphInput || t.isString || t.isExternal) continue;
        const key = `${t.dtype}|${t.dims.join(',')}|${t.byteLength}`;
        const list = groups.get(key) ?? [];
        list.push(v);
        groups.set(key, list);
      }
      for (const list of groups.values()) {
        const kept: Value[] = [];
        for (const v of list) {
          const same = kept.find((k) => sameBytes(k.initializer!.bytes(), v.initializer!.bytes()));
          if (!same || v.isGraphOutput) {
            kept.push(v);
            continue;
          }
          v.replaceAllUsesWith(same);
          bytesSaved += v.initializer!.byteLength;
          graph.removeInitializer(v);
          merged++;
        }
      }
    }
    return result({ merged, bytesSaved });
  },
});
