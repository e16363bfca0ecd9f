// The app's Web Worker: everything that takes time runs here, so the page never freezes. It holds
// the model (bytes and decoded IR) and the data, and answers the page's messages (protocol.ts):
//  1. model: read the Blob, decode (a non-ONNX file is one BAD_MODEL error), inspect with the budget.
//  2. data: an .npz bound to the model's inputs (labels optional), or synthetic inputs.
//  3. run: the core command over bytes — the same functions and option schemas as the CLI, so the
//     same options give the same recipe — then the measurements in this browser with onnxruntime-web
//     (top-1 / agreement on the data, batch-1 latency), the recipe (YAML) and the HTML report page.
// Cancel is the page terminating this worker and starting a new one (the core has no abort points).
// Progress is throttled to one message per 100 ms so a fast loop cannot flood the page.

import ortMjs from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import { stringify } from 'yaml';
import {
  type BytesResult,
  benchmark,
  bindArrays,
  buildFinetune,
  bytesSink,
  type CoreEnv,
  cluster,
  type Dataset,
  decodeModel,
  decodeNpz,
  decompose,
  EdgefitError,
  encodeModel,
  evaluate,
  finetuneOptions,
  inspect,
  isEdgefitError,
  type Model,
  memoryCache,
  type ProgressSink,
  parseOptions,
  prune,
  quantize,
  type RecipeReport,
  renderReport,
  resolveShapes,
  runTransformCommand,
  type SearchReport,
  type Sizer,
  searchCore,
  searchOptions,
  slim,
  synthesizeInputs,
  syntheticDataset,
  type TransformReport,
} from '../../src/index.js';
import { setThreads, setWasmPaths, webRuntime } from '../../src/runtime/web.js';
import { type ImageFile, imageFolder } from './images.js';
import { COMMANDS, type CommandName, type FromWorker, type JsonSchema, type ToWorker } from './protocol.js';
import { commandSchemas } from './schemas.js';
import { brotliSizer } from './sizer.js';

const scope = self as unknown as {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  crossOriginIsolated?: boolean;
  navigator: { hardwareConcurrency?: number };
};

const isolated = scope.crossOriginIsolated === true;
const threads = isolated ? Math.max(1, Math.min(4, scope.navigator.hardwareConcurrency ?? 1)) : 1;
setWasmPaths({ mjs: ortMjs, wasm: ortWasm });
setThreads(threads);

const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

interface State {
  name: string;
  bytes: Uint8Array;
  model: Model;
  data?: Dataset;
  dataName?: string;
  /** top-1 of the original on the data, measured once */
  top1?: number;
}
let state: State | undefined;

const progress: ProgressSink = {
  start(label, total) {
    let last = 0;
    const send = (done: number, note?: string) => post({ type: 'progress', label, done, total, note });
    send(0);
    return {
      update(done, note) {
        const now = performance.now();
        if (now - last < 100 && done < total) return;
        last = now;
        send(done, note);
      },
      done: () => send(total),
    };
  },
};

const log = {
  info: (message: string) => post({ type: 'log', level: 'info', message }),
  warn: (message: string) => post({ type: 'log', level: 'warn', message }),
};

function env(sizer: Sizer): CoreEnv {
  const s = need();
  return {
    runtime: webRuntime,
    log,
    progress,
    sizer,
    name: s.name,
    ...(s.data ? { calib: s.data, data: s.data } : {}),
  };
}

function need(): State {
  if (!state)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      'no model loaded',
      'drop an .onnx file or pick the bundled example',
    );
  return state;
}

/** External data files dropped with the model, found by the file name its tensors give. */
type ExternalDataSource = NonNullable<NonNullable<Parameters<typeof decodeModel>[1]>['external']>;

async function externalSource(extra: { file: Blob; name: string }[]): Promise<ExternalDataSource> {
  const files = new Map<string, Uint8Array>();
  for (const e of extra) files.set(e.name, new Uint8Array(await e.file.arrayBuffer()));
  const get = (location: string) => {
    const f = files.get(location.split(/[\\/]/).pop() ?? location);
    if (!f)
      throw new EdgefitError(
        'EXTERNAL_DATA',
        `the model keeps weights in ${location}, which was not dropped with it`,
        `drop ${location} together with the .onnx file`,
      );
    return f;
  };
  return {
    size: (l) => get(l).length,
    read: (l, offset, length) => get(l).subarray(offset, offset + length),
  };
}

async function loadModel(file: Blob, name: string, budget: string, extra: { file: Blob; name: string }[]) {
  const t = performance.now();
  let bytes: Uint8Array = new Uint8Array(await file.arrayBuffer());
  const model = decodeModel(bytes, { external: await externalSource(extra) });
  // weights from external data files are inlined once: every command then works on one byte string
  if (model.graph.initializers.some((v) => v.initializer?.isExternal)) bytes = encodeModel(model);
  const report = await inspect(model, budget ? { budget, top: 1_000_000 } : { top: 1_000_000 }, {
    runtime: webRuntime,
    name,
  });
  state = { name, bytes, model };
  post({ type: 'inspected', name, report, ms: performance.now() - t });
}

async function loadData(file: Blob, name: string) {
  const s = need();
  const arrays = decodeNpz(new Uint8Array(await file.arrayBuffer()), name);
  const data = bindArrays(s.model, arrays, name);
  Object.assign(s, { data, dataName: name, top1: undefined });
  post({
    type: 'data',
    name,
    samples: data.size,
    labels: data.labels !== undefined,
    inputs: [...arrays.keys()],
  });
}

async function loadImages(files: ImageFile[], o: { mean: number[]; std: number[] }) {
  const s = need();
  const data = await imageFolder(s.model, files, o);
  Object.assign(s, { data, dataName: data.source, top1: undefined });
  post({ type: 'data', name: data.source, samples: data.size, labels: true, inputs: [] });
}

function useSynthetic(samples: number) {
  const s = need();
  const data = syntheticDataset(s.model, { samples });
  Object.assign(s, { data, dataName: data.source, top1: undefined });
  post({ type: 'data', name: data.source, samples, labels: false, inputs: [] });
}

const TRANSFORMS = { quantize, prune, cluster, decompose, slim } as const;

async function latency(model: Uint8Array, m: Model): Promise<number | undefined> {
  try {
    const feeds = synthesizeInputs(m, { shapes: {}, batch: 1, seed: 0 });
    return (await benchmark(webRuntime, model, feeds, { runs: 30, warmup: 3, threads })).latencyMs.median;
  } catch {
    return undefined; // a model that needs --shape/--input: the report says so
  }
}

/** top-1 before/after on labelled data, else agreement with the original; latency before/after. */
async function measure(result: Uint8Array, report: TransformReport | SearchReport) {
  const s = need();
  const e = { runtime: webRuntime };
  const data = s.data ?? syntheticDataset(s.model, { samples: 64 });
  const m: Awaited<ReturnType<typeof measureOut>> = await measureOut(result, data, e);
  const t = report as TransformReport;
  // quantize measures batch-1 latency itself (one thread, as the CLI does); other commands here
  const fromReport = t.before?.latencyMs !== undefined && t.after?.latencyMs !== undefined;
  let lat = fromReport ? { before: t.before.latencyMs!.median, after: t.after.latencyMs!.median } : undefined;
  if (!lat) {
    const before = await latency(s.bytes, s.model);
    const after = await latency(result, decodeModel(result));
    if (before !== undefined && after !== undefined) lat = { before, after };
  }
  return { ...m, ...(lat ? { latencyMs: lat } : {}), threads: fromReport ? 1 : threads };
}

async function measureOut(result: Uint8Array, data: Dataset, e: { runtime: typeof webRuntime }) {
  const s = need();
  // one pass over the data gives the result's top-1 (labels) and its agreement with the original
  const r = await evaluate(result, {}, { ...e, data, reference: s.bytes });
  const out: { top1?: { before: number; after: number }; agreement?: number } = { agreement: r.agreement };
  if (data.labels) {
    s.top1 ??= (await evaluate(s.bytes, {}, { ...e, data })).top1;
    if (s.top1 !== undefined && r.top1 !== undefined) out.top1 = { before: s.top1, after: r.top1 };
  }
  return out;
}

const needLabels = (what: string, or: string) =>
  new EdgefitError(
    'BAD_ARGUMENT',
    `${what} needs data with labels`,
    `drop an .npz with a labels array, or ${or}`,
  );

/** A command's options from the form, with the file fields the page stands in for. */
function pageOptions<S extends Parameters<typeof parseOptions>[0]>(
  schema: S,
  options: object,
  command: string,
) {
  const data = state?.dataName ?? 'page';
  return parseOptions(schema, { ...options, output: `${command}.onnx`, data }, command);
}

async function runSearch(options: Record<string, unknown>, sizer: Sizer) {
  const s = need();
  if (!s.data?.labels && options.metric !== 'agreement')
    throw needLabels('the search budgets top-1', 'pick metric agreement');
  const o = pageOptions(searchOptions, options, 'search');
  const { report, model } = await searchCore(s.model, s.bytes, o, {
    runtime: webRuntime,
    log,
    progress,
    sizer,
    cache: memoryCache(),
    evalData: s.data ?? syntheticDataset(s.model, { samples: 64 }),
    calibration: s.data,
    name: s.name,
  });
  const bytes = encodeModel(model);
  report.chosen.metrics.bytes = bytes.length;
  return { report, bytes, recipe: report.chosen.recipe };
}

async function runFinetune(options: Record<string, unknown>, sizer: Sizer) {
  const s = need();
  if (!s.data?.labels && (options.loss ?? 'ce') !== 'kd') throw needLabels('ce fine-tuning', 'pick loss kd');
  const o = pageOptions(finetuneOptions, options, 'finetune');
  const host = { runtime: webRuntime, log, progress };
  const cmd = buildFinetune(o, {
    model: s.model,
    train: s.data!,
    val: s.data?.labels ? s.data : undefined,
    host,
  });
  cmd.plan.guard = o.guard;
  cmd.plan.seed = o.seed;
  cmd.plan.shapes = resolveShapes(s.model, o.shape);
  const sink = bytesSink(s.name, s.model, s.bytes, sizer);
  const report = await runTransformCommand(s.model, cmd, sink, host);
  return { report, bytes: sink.bytes!, recipe: [{ pass: 'finetune', options }] };
}

async function run(command: CommandName, options: Record<string, unknown>) {
  const s = need();
  const sizer = await brotliSizer();
  let out: { report: TransformReport | SearchReport; bytes: Uint8Array; recipe: unknown };
  if (command === 'search') out = await runSearch(options, sizer);
  else if (command === 'finetune') out = await runFinetune(options, sizer);
  else {
    const fn = TRANSFORMS[command] as (
      i: Uint8Array,
      o: object,
      e: CoreEnv,
    ) => Promise<BytesResult | RecipeReport>;
    const r = (await fn(s.bytes, options, env(sizer))) as BytesResult;
    const recipe = (await fn(s.bytes, { ...options, printRecipe: true }, env(sizer))) as RecipeReport;
    out = { report: r.report, bytes: r.bytes, recipe: recipe.recipe };
  }
  const measured = await measure(out.bytes, out.report);
  const base = s.name.replace(/\.onnx$/i, '');
  const buffer = out.bytes.slice().buffer;
  post(
    {
      type: 'result',
      command,
      report: out.report,
      model: buffer,
      fileName: `${base}.${command}.onnx`,
      recipe: stringify(out.recipe),
      html: renderReport(out.report, 'the result'),
      measured,
    },
    [buffer],
  );
}

function fail(e: unknown) {
  if (isEdgefitError(e)) {
    const message = e.fix ? e.message.slice(0, e.message.length - e.fix.length - 3) : e.message;
    post({ type: 'error', code: e.code, message, fix: e.fix });
  } else post({ type: 'error', code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) });
}

scope.onmessage = (ev) => {
  const m = ev.data;
  const job =
    m.type === 'model'
      ? loadModel(m.file, m.name, m.budget, m.extra)
      : m.type === 'data'
        ? loadData(m.file, m.name)
        : m.type === 'synthetic'
          ? Promise.resolve(useSynthetic(m.samples))
          : m.type === 'images'
            ? loadImages(m.files, m)
            : run(m.command, m.options);
  job.catch(fail);
};

const schemas = commandSchemas();
post({
  type: 'hello',
  schemas: Object.fromEntries(COMMANDS.map((c) => [c, schemas[c]!.schema])) as Record<
    CommandName,
    JsonSchema
  >,
  summaries: Object.fromEntries(COMMANDS.map((c) => [c, schemas[c]!.summary])) as Record<CommandName, string>,
  threads,
  isolated,
});
