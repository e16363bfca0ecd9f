// Training batches streamed from a Dataset: a seeded shuffle per epoch, samples gathered with
// Dataset.slice (so a file-backed dataset is read batch by batch, never whole), full batches only
// (the step graph has a fixed batch size; the remainder of an epoch is dropped, as drop_last does).

import type { Dataset } from '../data/dataset.js';
import { EdgefitError } from '../errors.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { Rng } from '../kernels/random.js';

export interface Batch {
  feeds: Record<string, HostTensor>;
  /** class ids as int64, when the data has labels */
  labels?: BigInt64Array;
}

/** The order of epoch `epoch`'s samples (Fisher-Yates with a seed per epoch). */
export function epochOrder(size: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  const rng = new Rng((seed * 1_000_003 + epoch * 7919 + 1) >>> 0);
  for (let i = size - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

type Typed = { length: number; set(a: ArrayLike<unknown>, o: number): void };

/** Samples `indices` of `data` as one batch. */
export function gatherBatch(data: Dataset, indices: ArrayLike<number>): Batch {
  const n = indices.length;
  const buffers: Record<string, { t: HostTensor; per: number }> = {};
  for (let k = 0; k < n; k++) {
    const i = indices[k]!;
    const sample = data.slice(i, i + 1);
    for (const [name, t] of Object.entries(sample)) {
      const src = t.data as unknown as Typed;
      let buf = buffers[name];
      if (!buf) {
        if (Array.isArray(t.data))
          throw new EdgefitError(
            'UNSUPPORTED',
            `input ${name} holds strings: fine-tuning needs numeric inputs`,
          );
        const Ctor = (t.data as unknown as { constructor: new (n: number) => Typed }).constructor;
        buf = {
          t: { dtype: t.dtype, dims: [n, ...t.dims.slice(1)], data: new Ctor(src.length * n) as never },
          per: src.length,
        };
        buffers[name] = buf;
      }
      (buf.t.data as unknown as Typed).set(src, k * buf.per);
    }
  }
  const feeds: Record<string, HostTensor> = {};
  for (const [name, b] of Object.entries(buffers)) feeds[name] = b.t;
  const batch: Batch = { feeds };
  if (data.labels)
    batch.labels = BigInt64Array.from(indices as ArrayLike<number>, (i) => BigInt(data.labels![i]!));
  return batch;
}
