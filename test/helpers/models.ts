// Small hand-built models and an ORT runner for tests.
import { GraphBuilder, newModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/graph.js';
import { encodeModel } from '../../src/ir/serialize.js';
import { Tensor } from '../../src/ir/tensor.js';
import { Rng } from '../../src/kernels/random.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import type { HostTensor } from '../../src/runtime/types.js';

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal() * scale);
}

export function weight(b: GraphBuilder, name: string, dims: number[], seed: number, scale = 0.5) {
  return b.weight(
    name,
    Tensor.fromFloat32(
      name,
      dims,
      randn(
        dims.reduce((x, y) => x * y, 1),
        seed,
        scale,
      ),
    ),
  );
}

export async function run(
  model: Model,
  feeds: Record<string, HostTensor>,
): Promise<Record<string, HostTensor>> {
  const s = await nodeRuntime.createSession(encodeModel(model));
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

export function floatFeed(dims: number[], seed: number): HostTensor {
  return {
    dtype: 1,
    dims,
    data: randn(
      dims.reduce((a, b) => a * b, 1),
      seed,
    ),
  };
}

export function maxAbsDiff(a: HostTensor, b: HostTensor): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

export { GraphBuilder, newModel, Tensor };
