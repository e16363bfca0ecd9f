// Checkpoints of a training run: after every epoch the trainer hands the store the trained tensors,
// the optimizer state, the step and epoch reached, the curve so far and the pending curve sums; a run
// started with resume continues from there and ends with the same bytes as a run never interrupted
// (one thread, same seed: the batch order is a function of seed and epoch, the learning rate and the
// AdamW corrections of the step number, ORT's single-threaded kernels of their inputs).
//  1. `key` names the run: options, data size, batch, total steps and the trained tensors' names and
//     shapes, plus what the shell adds (a hash of the model file); a checkpoint of another run is
//     refused, never half-applied.
//  2. Encoded as one .npz (platform-neutral bytes): `meta` (uint8 JSON) and one float32 array per
//     state tensor (t0, t1, … in the order `meta.names` lists), so the shell writes one file, atomically.
//  3. NaN losses (curve points that hold only a validation accuracy) are stored as null.

import type { NdArray } from '../data/npy.js';
import { decodeNpz, encodeNpz } from '../data/npz.js';
import { EdgefitError } from '../errors.js';
import type { HostTensor } from '../ir/host-tensor.js';

export interface CurvePoint {
  step: number;
  loss: number;
  /** validation accuracy (a fraction), after an epoch */
  accuracy?: number;
  /** training accuracy over the logged steps */
  trainAccuracy?: number;
}

export interface TrainCheckpoint {
  /** rule 1 */
  key: string;
  /** steps done */
  step: number;
  /** epochs done */
  epoch: number;
  /** trained tensors and optimizer state, by step-graph input name */
  state: Map<string, HostTensor>;
  curve: CurvePoint[];
  /** the curve's sums since its last point, and the progress note's running loss */
  pending: { lossSum: number; hits: number; seen: number; count: number; runningLoss?: number };
  seconds: number;
}

/** Where checkpoints go (node: a folder, train/../node/finetune.ts). */
export interface CheckpointStore {
  /** the shell's part of the key (rule 1) */
  key: string;
  /** what to name in messages, e.g. the folder */
  where: string;
  load(): Promise<TrainCheckpoint | undefined>;
  save(checkpoint: TrainCheckpoint): Promise<void>;
}

/** Rule 2. */
export function encodeCheckpoint(c: TrainCheckpoint): Uint8Array {
  const names = [...c.state.keys()];
  const meta = {
    version: 1,
    key: c.key,
    step: c.step,
    epoch: c.epoch,
    names,
    curve: c.curve.map((p) => ({ ...p, loss: Number.isFinite(p.loss) ? p.loss : null })),
    pending: c.pending,
    seconds: c.seconds,
  };
  const arrays: Record<string, NdArray> = {
    meta: { dtype: 'uint8', shape: [0], data: new TextEncoder().encode(JSON.stringify(meta)) },
  };
  arrays.meta!.shape = [arrays.meta!.data.length];
  names.forEach((name, i) => {
    const t = c.state.get(name)!;
    arrays[`t${i}`] = { dtype: 'float32', shape: [...t.dims], data: t.data as Float32Array };
  });
  return encodeNpz(arrays);
}

/** Rule 2, back; `source` names the file in errors. */
export function decodeCheckpoint(bytes: Uint8Array, source: string): TrainCheckpoint {
  const arrays = decodeNpz(bytes, source);
  const bad = () =>
    new EdgefitError(
      'BAD_DATA',
      `${source} is not an edgefit checkpoint`,
      'remove it, or run without --resume',
    );
  const m = arrays.get('meta');
  if (m?.dtype !== 'uint8') throw bad();
  let meta: {
    version: number;
    key: string;
    step: number;
    epoch: number;
    names: string[];
    curve: (Omit<CurvePoint, 'loss'> & { loss: number | null })[];
    pending: TrainCheckpoint['pending'];
    seconds: number;
  };
  try {
    meta = JSON.parse(new TextDecoder().decode(m.data));
  } catch {
    throw bad();
  }
  if (meta.version !== 1 || !Array.isArray(meta.names)) throw bad();
  const state = new Map<string, HostTensor>();
  meta.names.forEach((name, i) => {
    const a = arrays.get(`t${i}`);
    if (a?.dtype !== 'float32') throw bad();
    state.set(name, { dtype: 1, dims: a.shape, data: a.data });
  });
  return {
    key: meta.key,
    step: meta.step,
    epoch: meta.epoch,
    state,
    curve: meta.curve.map((p) => ({ ...p, loss: p.loss ?? Number.NaN })),
    pending: meta.pending,
    seconds: meta.seconds,
  };
}
