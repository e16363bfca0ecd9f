// The training loop: one session of the step graph, each step's outputs (weights, optimizer state)
// fed to the next as they come back from ONNX Runtime (ping-pong: no copies on the host), batches
// streamed from the data layer, a teacher session for distillation, validation between epochs, and
// the trained values written back into the original graph (export.ts).
//
// Rules:
//  1. Deterministic for a seed on one thread: the shuffle is seeded, ORT runs one intra-op thread.
//  2. The learning rate per step comes from the schedule ('cosine' decays to 0 over the run after an
//     optional linear warm-up; 'constant'), fed as a scalar input: the graph never changes.
//  3. The curve holds the mean training loss (and training accuracy when there are labels) every
//     `logEvery` steps, and the validation accuracy after each epoch and at the end.
//  4. Progress reports every step through the host's sink, with the running loss as the note.
//  5. Sparse-stored weights are trained dense with their masks and stored sparse again (sparse.ts).
//  6. With a checkpoint store, the state is saved after every epoch (after its validation) and a
//     resumed run continues from the last one, ending with the bytes of an uninterrupted run
//     (checkpoint.ts); a checkpoint of another run (rule 1 there) is refused.

import type { Dataset } from '../data/dataset.js';
import { argmax } from '../data/metrics.js';
import { EdgefitError } from '../errors.js';
import { cloneModel } from '../ir/clone.js';
import type { Model } from '../ir/graph.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { encodeModel } from '../ir/serialize.js';
import type { Logger, ProgressSink } from '../passes/pass.js';
import type { Runtime, Session } from '../runtime/types.js';
import { epochOrder, gatherBatch } from './batches.js';
import type { CheckpointStore, CurvePoint, TrainCheckpoint } from './checkpoint.js';
import { exportTrained } from './export.js';
import type { LossOptions } from './loss.js';
import { nchwcBlockSize, toNchwc } from './nchwc.js';
import { type OptimizerOptions, optimizerScalars } from './optimizer.js';
import { exposeSparse, restoreSparse } from './sparse.js';
import { buildStepGraph, type StepGraph } from './step-graph.js';

export type { CheckpointStore, CurvePoint };

export interface TrainOptions {
  batchSize: number;
  /** run this many epochs (default 1 when `steps` is not given) */
  epochs?: number;
  /** or exactly this many steps */
  steps?: number;
  lr: number;
  schedule?: 'cosine' | 'constant';
  warmupSteps?: number;
  loss: LossOptions;
  optimizer: OptimizerOptions;
  seed?: number;
  threads?: number;
  logEvery?: number;
  /** the logits output (default: the first) */
  output?: string;
  freeze?: (name: string) => boolean;
  keepMasks?: boolean;
  /** blocked-layout convolutions when the runtime has them (default true; train/nchwc.ts) */
  nchwc?: boolean;
  /** rule 6: save after every epoch; with `resume`, continue from the saved state */
  checkpoint?: { store: CheckpointStore; resume: boolean };
}

export interface TrainHost {
  runtime: Runtime;
  progress?: ProgressSink | undefined;
  log?: Logger | undefined;
}

export interface TrainResult {
  model: Model;
  curve: CurvePoint[];
  steps: number;
  epochs: number;
  batchSize: number;
  seconds: number;
  /** median wall time of one step (ms) */
  stepMs: number;
  trained: { tensors: number; params: number; masked: number; sparse: number };
  /** validation accuracy of the result, when validation data was given */
  accuracy?: number;
  /** the step a resumed run started from */
  resumedAt?: number;
}

/** Rule 2. */
export function learningRate(o: TrainOptions, step: number, total: number): number {
  const warm = o.warmupSteps ?? 0;
  if (step < warm) return (o.lr * (step + 1)) / warm;
  if (o.schedule === 'constant') return o.lr;
  const t = (step - warm) / Math.max(1, total - warm);
  return o.lr * 0.5 * (1 + Math.cos(Math.PI * t));
}

function scalar(x: number): HostTensor {
  return { dtype: 1, dims: [], data: Float32Array.of(x) };
}

/** Accuracy of `model` on labelled `data` (batches of `batch`). */
export async function accuracyOf(
  runtime: Runtime,
  model: Model,
  data: Dataset,
  batch = 256,
): Promise<number> {
  if (!data.labels) throw new EdgefitError('BAD_DATA', `${data.source} has no labels to measure accuracy`);
  const session = await runtime.createSession(encodeModel(model), { threads: 1 });
  try {
    const out = session.outputNames[0]!;
    let hits = 0;
    for (let s = 0; s < data.size; s += batch) {
      const e = Math.min(data.size, s + batch);
      const logits = (await session.run(data.slice(s, e), [out]))[out]!;
      const c = logits.dims[1]!;
      const top = argmax(logits.data as Float32Array, e - s, c);
      for (let i = 0; i < e - s; i++) if (top[i] === data.labels[s + i]) hits++;
    }
    return hits / data.size;
  } finally {
    await session.release();
  }
}

/** The step graph's state at the start: trained values from the model, optimizer state zero. */
export function initialState(step: StepGraph): Map<string, HostTensor> {
  const state = new Map<string, HostTensor>();
  for (const t of step.trained)
    state.set(t.input, { dtype: 1, dims: t.dims, data: step.initial.get(t.input)! });
  for (const s of step.states)
    state.set(s.input, { dtype: 1, dims: s.dims, data: new Float32Array(s.dims.reduce((a, b) => a * b, 1)) });
  return state;
}

/** Rule 6, part 1: what names this run (the store adds the model's hash). */
function runKey(
  o: TrainOptions,
  step: StepGraph,
  data: Dataset,
  total: number,
  store: CheckpointStore,
): string {
  const { checkpoint: _, freeze: __, ...settings } = o;
  return JSON.stringify({
    settings,
    total,
    data: data.size,
    trained: step.trained.map((t) => [t.name, t.dims]),
    shell: store.key,
  });
}

/** Rule 6, part 2: the saved run, checked against this one. */
async function resumeFrom(
  c: NonNullable<TrainOptions['checkpoint']>,
  key: string,
  state: Map<string, HostTensor>,
): Promise<TrainCheckpoint> {
  const saved = await c.store.load();
  if (!saved)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `--resume: ${c.store.where} holds no checkpoint`,
      'run without --resume to start from the beginning',
    );
  const same = [...state].every(([name, t]) => {
    const s = saved.state.get(name);
    return s && s.dims.join(',') === t.dims.join(',');
  });
  if (saved.key !== key || !same || saved.state.size !== state.size)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `--resume: the checkpoint in ${c.store.where} is of another run (model, data or training options differ)`,
      'resume with the options it was started with, or run without --resume',
    );
  return saved;
}

/** Fine-tune `model` on `data` (see the header); `model` itself is not modified. */
export async function trainModel(
  model: Model,
  data: Dataset,
  options: TrainOptions,
  host: TrainHost,
  extra: { teacher?: Model; val?: Dataset } = {},
): Promise<TrainResult> {
  const t0 = performance.now();
  const batch = Math.min(options.batchSize, data.size);
  const perEpoch = Math.floor(data.size / batch);
  const total = options.steps ?? perEpoch * (options.epochs ?? 1);
  const epochs = Math.ceil(total / perEpoch);
  const block = options.nchwc === false ? undefined : await nchwcBlockSize(host.runtime);
  const work = cloneModel(model);
  const sparse = exposeSparse(work); // rule 5
  const step = buildStepGraph(work, {
    batch,
    block,
    loss: options.loss,
    optimizer: options.optimizer,
    ...(options.output ? { output: options.output } : {}),
    ...(options.freeze ? { freeze: options.freeze } : {}),
    ...(options.keepMasks !== undefined ? { keepMasks: options.keepMasks } : {}),
  });
  if (step.labels && !data.labels)
    throw new EdgefitError(
      'BAD_DATA',
      `${data.source} has no labels, which --loss ${options.loss.kind} needs`,
      'give --labels, or use --loss kd (distillation needs no labels)',
    );
  const cp = options.checkpoint;
  const key = cp ? runKey(options, step, data, total, cp.store) : '';
  let state = initialState(step);
  const resumed = cp?.resume ? await resumeFrom(cp, key, state) : undefined;
  const threads = options.threads ?? 1;
  if (block) toNchwc(step.model, block);
  const session = await host.runtime.createSession(encodeModel(step.model), { threads });
  let teacher: Session | undefined;
  try {
    if (step.teacher)
      teacher = await host.runtime.createSession(encodeModel(extra.teacher ?? model), { threads });
    const curve: CurvePoint[] = resumed ? [...resumed.curve] : [];
    const times: number[] = [];
    const progress = host.progress?.start('finetune', total);
    let { lossSum, hits, seen, count, runningLoss } = resumed?.pending ?? {
      lossSum: 0,
      hits: 0,
      seen: 0,
      count: 0,
      runningLoss: undefined as number | undefined,
    };
    const logEvery = options.logEvery ?? Math.max(1, Math.round(total / 50));
    let done = resumed?.step ?? 0;
    if (resumed) {
      state = resumed.state;
      progress?.update(done, 'resumed');
    }
    const validate = async () =>
      extra.val ? accuracyOf(host.runtime, exportTrained(work, step, state), extra.val) : undefined;
    for (let epoch = resumed?.epoch ?? 0; done < total; epoch++) {
      const order = epochOrder(data.size, options.seed ?? 0, epoch);
      for (let k = 0; k < perEpoch && done < total; k++) {
        const ts = performance.now();
        const b = gatherBatch(data, order.subarray(k * batch, (k + 1) * batch));
        const feeds: Record<string, HostTensor> = { ...b.feeds };
        if (step.labels) feeds[step.labels] = { dtype: 7, dims: [batch], data: b.labels! };
        if (teacher) {
          const out = await teacher.run(b.feeds, [teacher.outputNames[0]!]);
          feeds[step.teacher!] = out[teacher.outputNames[0]!]!;
        }
        const scalars = optimizerScalars(options.optimizer, done + 1, learningRate(options, done, total));
        for (const [name, v] of Object.entries(scalars)) feeds[name] = scalar(v);
        for (const [name, v] of state) feeds[name] = v;
        const out = await session.run(feeds);
        // ping-pong: this step's outputs are the next step's inputs
        const next = new Map<string, HostTensor>();
        for (const t of step.trained) next.set(t.input, out[t.output]!);
        for (const s of step.states) next.set(s.input, out[s.output]!);
        state = next;
        const loss = (out[step.loss]!.data as Float32Array)[0]!;
        if (!Number.isFinite(loss))
          throw new EdgefitError('BAD_ARGUMENT', `the loss became ${loss} at step ${done + 1}`, 'lower --lr');
        lossSum += loss;
        count++;
        if (b.labels) {
          const logits = out[step.logits]!;
          const top = argmax(logits.data as Float32Array, batch, logits.dims[1]!);
          for (let i = 0; i < batch; i++) if (BigInt(top[i]!) === b.labels[i]) hits++;
          seen += batch;
        }
        done++;
        times.push(performance.now() - ts);
        runningLoss = runningLoss === undefined ? loss : 0.98 * runningLoss + 0.02 * loss;
        progress?.update(done, `loss ${runningLoss.toFixed(4)}`);
        if (done % logEvery === 0 || done === total) {
          const point: CurvePoint = { step: done, loss: lossSum / count };
          if (seen) point.trainAccuracy = hits / seen;
          curve.push(point);
          [lossSum, hits, seen, count] = [0, 0, 0, 0];
        }
      }
      const endOfEpoch = done % perEpoch === 0 || done === total;
      if (extra.val && endOfEpoch) {
        const accuracy = await validate();
        const last = curve[curve.length - 1];
        if (last && last.step === done) last.accuracy = accuracy!;
        else curve.push({ step: done, loss: Number.NaN, accuracy: accuracy! });
        host.log?.info(`epoch ${epoch + 1}: validation accuracy ${(100 * accuracy!).toFixed(2)}%`);
      }
      if (cp && endOfEpoch)
        await cp.store.save({
          key,
          step: done,
          epoch: epoch + 1,
          state,
          curve,
          pending: { lossSum, hits, seen, count, ...(runningLoss !== undefined ? { runningLoss } : {}) },
          seconds: (resumed?.seconds ?? 0) + (performance.now() - t0) / 1000,
        });
    }
    progress?.done();
    const result = exportTrained(work, step, state);
    const restored = restoreSparse(result, sparse);
    const sorted = [...times].sort((a, b) => a - b);
    const final = curve.filter((p) => p.accuracy !== undefined).pop();
    return {
      model: result,
      curve,
      steps: done,
      epochs,
      batchSize: batch,
      seconds: (resumed?.seconds ?? 0) + (performance.now() - t0) / 1000,
      stepMs: sorted[Math.floor(sorted.length / 2)] ?? 0,
      trained: {
        tensors: step.trained.length,
        params: step.trained.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0),
        masked: step.trained.filter((t) => t.masked).length,
        sparse: restored,
      },
      ...(final?.accuracy !== undefined ? { accuracy: final.accuracy } : {}),
      ...(resumed ? { resumedAt: resumed.step } : {}),
    };
  } finally {
    await session.release();
    await teacher?.release();
  }
}
