// The page: it only draws and forwards. Files go to the worker as Blobs (no read on this thread), the
// worker answers with the inspect report, data summaries, progress, warnings and results (protocol.ts).
//  - Model: drop or pick an .onnx (or the bundled example): the inspect table and the budget verdict;
//    a file that is not ONNX shows the core's error line and its fix in #error.
//  - Data: an .npz (the bundled 1k Fashion-MNIST slice, or any), or synthetic inputs.
//  - Technique: the command's form, generated from its option schema; Run, progress, Cancel (the
//    worker is terminated and a fresh one reloads the model and data), a live loss curve for finetune.
//  - Results: size, top-1 or agreement and latency measured here, downloads of the model, its recipe
//    and the JSON report, and the HTML report page (same renderers as `edgefit report`).

import { $, downloadLink, fmtBytes, fmtCount, fmtPct, h, present } from './dom.js';
import { buildForm, readForm } from './forms.js';
import type { CommandName, FromWorker, JsonSchema, Measured, ToWorker } from './protocol.js';

interface Layer {
  name: string;
  op: string;
  params: number;
  macs: number;
  weightBytes: number;
  activationBytes: number;
}
interface Fit {
  limit: number;
  needed: number;
  fits: boolean;
}
interface Inspected {
  params: number;
  weightBytes: number;
  macs: number;
  peakActivationBytes: number;
  nodes: number;
  layers: Layer[];
  budget?: { flash?: Fit; ram?: Fit; fits: boolean };
}

const ROWS = 200;

let worker: Worker;
let schemas: Record<CommandName, JsonSchema> | undefined;
let summaries: Record<CommandName, string> = {} as Record<CommandName, string>;
type Named = { file: Blob; name: string };
let model: (Named & { extra: Named[] }) | undefined;
let data: Extract<ToWorker, { type: 'data' | 'synthetic' | 'images' }> | undefined;
let loss: number[] = [];
let busy = false;

function send(m: ToWorker) {
  worker.postMessage(m);
}

function startWorker() {
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
  worker.onerror = (e) => showError('INTERNAL', e.message || 'the worker failed to start');
}

function showError(code: string, message: string, fix?: string) {
  const box = $('error');
  box.replaceChildren(
    ...present(h('strong', {}, code), ` ${message}`, fix ? h('div', { class: 'fix' }, ` Fix: ${fix}`) : null),
  );
  box.hidden = false;
  setBusy(false);
}

function setBusy(on: boolean) {
  busy = on;
  $<HTMLButtonElement>('run').disabled = on || !model;
  $<HTMLButtonElement>('cancel').disabled = !on;
  $('status').textContent = on ? 'working…' : 'ready';
}

function loadModel(file: Blob, name: string, extra: Named[] = []) {
  model = { file, name, extra };
  data = undefined;
  $('error').hidden = true;
  $('inspect').replaceChildren(h('p', {}, `reading ${name} (${fmtBytes(file.size)})…`));
  $('data-status').textContent = 'no data: synthetic inputs are used for fidelity';
  $('results').hidden = true;
  sendModel();
  setBusy(true);
}

function sendModel() {
  if (!model) return;
  const budget = $<HTMLInputElement>('budget').value.trim();
  send({ type: 'model', file: model.file, name: model.name, budget, extra: model.extra });
}

function loadData(file: Blob, name: string) {
  setData({ type: 'data', file, name });
}

function setData(d: NonNullable<typeof data>) {
  data = d;
  send(d);
}

const numbers = (id: string, fallback: number) => {
  const v = $<HTMLInputElement>(id)
    .value.split(',')
    .map((x) => Number(x.trim()))
    .filter((x) => Number.isFinite(x));
  return v.length ? v : [fallback];
};

function fitText(label: string, f: Fit | undefined) {
  if (!f) return null;
  return h(
    'li',
    { class: f.fits ? 'ok' : 'bad' },
    `${label}: needs ${fmtBytes(f.needed)} of ${fmtBytes(f.limit)} — ${f.fits ? 'fits' : 'does not fit'}`,
  );
}

function showInspect(name: string, r: Inspected, ms: number) {
  const card = (k: string, v: string) => h('div', { class: 'card' }, h('span', {}, k), h('b', {}, v));
  const cards = h(
    'div',
    { class: 'cards' },
    card('params', fmtCount(r.params)),
    card('weights', fmtBytes(r.weightBytes)),
    card('MACs', fmtCount(r.macs)),
    card('peak activations', fmtBytes(r.peakActivationBytes)),
    card('nodes', String(r.nodes)),
  );
  const budget = r.budget
    ? h(
        'div',
        { id: 'budget-verdict', class: r.budget.fits ? 'ok' : 'bad' },
        h('b', {}, r.budget.fits ? 'fits the device budget' : 'does not fit the device budget'),
        h(
          'ul',
          {},
          fitText('flash (weights)', r.budget.flash),
          fitText('RAM (peak activations)', r.budget.ram),
        ),
      )
    : null;
  const rows = r.layers
    .slice(0, ROWS)
    .map((l) =>
      h(
        'tr',
        {},
        h('td', {}, l.name),
        h('td', {}, l.op),
        h('td', { class: 'n' }, fmtCount(l.params)),
        h('td', { class: 'n' }, fmtCount(l.macs)),
        h('td', { class: 'n' }, fmtBytes(l.weightBytes)),
        h('td', { class: 'n' }, fmtBytes(l.activationBytes)),
      ),
    );
  const head = h(
    'tr',
    {},
    ...['layer', 'op', 'params', 'MACs', 'weight bytes', 'activation bytes'].map((t) => h('th', {}, t)),
  );
  $('inspect').replaceChildren(
    ...present(
      h('h3', {}, name, h('small', {}, ` inspected in ${ms.toFixed(0)} ms`)),
      cards,
      budget,
      h('table', { id: 'layers' }, h('thead', {}, head), h('tbody', {}, ...rows)),
      r.layers.length > ROWS ? h('p', {}, `the ${ROWS} heaviest of ${r.layers.length} layers`) : null,
    ),
  );
}

function drawLoss() {
  const svg = $('loss-curve');
  if (loss.length < 2) return;
  const max = Math.max(...loss);
  const min = Math.min(...loss);
  const pts = loss
    .map(
      (v, i) =>
        `${((i / (loss.length - 1)) * 400).toFixed(1)},${(110 - ((v - min) / (max - min || 1)) * 100).toFixed(1)}`,
    )
    .join(' ');
  svg.innerHTML = `<polyline class="loss" fill="none" stroke="#2563eb" stroke-width="2" points="${pts}"/><text x="4" y="12">loss ${loss.at(-1)!.toFixed(4)}</text>`;
  svg.parentElement!.hidden = false;
}

function showResult(m: Extract<FromWorker, { type: 'result' }>) {
  const r = m.report as {
    before?: { bytes: number };
    after?: { bytes: number };
    chosen?: { metrics: { bytes: number } };
  };
  const before = r.before?.bytes ?? model?.file.size;
  const after = r.after?.bytes ?? m.model.byteLength;
  const me: Measured = m.measured;
  const row = (k: string, a: string, b: string) =>
    h('tr', {}, h('th', {}, k), h('td', {}, a), h('td', {}, b));
  $('result-table').replaceChildren(
    ...present(
      h('tr', {}, h('th', {}, ''), h('th', {}, 'original'), h('th', {}, 'result')),
      row('file size', fmtBytes(before), fmtBytes(after)),
      me.top1 ? row('top-1 (your data)', fmtPct(me.top1.before), fmtPct(me.top1.after)) : null,
      me.agreement !== undefined ? row('agreement with the original', '100%', fmtPct(me.agreement)) : null,
      me.latencyMs
        ? row(
            `latency, batch 1, ${me.threads} thread(s)`,
            `${me.latencyMs.before.toFixed(3)} ms`,
            `${me.latencyMs.after.toFixed(3)} ms`,
          )
        : null,
    ),
  );
  $('result-table').dataset.after = String(after);
  downloadLink('download-model', m.fileName, m.model, 'application/octet-stream');
  downloadLink('download-recipe', m.fileName.replace(/\.onnx$/, '.recipe.yaml'), m.recipe, 'text/yaml');
  downloadLink(
    'download-report',
    m.fileName.replace(/\.onnx$/, '.json'),
    JSON.stringify(m.report, null, 2),
    'application/json',
  );
  $<HTMLIFrameElement>('report-frame').srcdoc = m.html;
  $('results').hidden = false;
}

function onMessage(m: FromWorker) {
  switch (m.type) {
    case 'hello':
      schemas = m.schemas;
      summaries = m.summaries;
      $('threads').textContent =
        `onnxruntime-web: ${m.threads} thread(s)${m.isolated ? ', cross-origin isolated' : ', not isolated'}`;
      if (!formFor) showForm();
      // a restarted worker (cancel) gets the model and data back
      sendModel();
      return;
    case 'inspected':
      showInspect(m.name, m.report as Inspected, m.ms);
      if (data) send(data);
      setBusy(false);
      return;
    case 'data':
      $('data-status').textContent =
        `${m.name}: ${m.samples} samples${m.labels ? ', with labels' : ', no labels (fidelity only)'}`;
      return;
    case 'progress': {
      const p = $<HTMLProgressElement>('progress');
      p.max = Math.max(1, m.total);
      p.value = m.done;
      $('progress-label').textContent = `${m.label} ${m.done}/${m.total}${m.note ? ` — ${m.note}` : ''}`;
      const l = m.note ? /^loss (\S+)/.exec(m.note) : null;
      if (l) {
        loss.push(Number(l[1]));
        drawLoss();
      }
      return;
    }
    case 'log':
      $('log').append(h('li', { class: m.level }, m.message));
      return;
    case 'result':
      showResult(m);
      setBusy(false);
      $('status').textContent = 'done';
      return;
    case 'error':
      showError(m.code, m.message, m.fix);
      if (m.code === 'BAD_MODEL' || m.code === 'BAD_GRAPH') $('inspect').replaceChildren();
      return;
  }
}

let formFor: CommandName | undefined;

function showForm() {
  const name = $<HTMLSelectElement>('command').value as CommandName;
  if (!schemas || name === formFor) return; // the same command again keeps what the user typed
  formFor = name;
  $('summary').textContent = summaries[name] ?? '';
  buildForm($('form'), schemas[name]);
}

function run() {
  if (!model || busy) return;
  const command = $<HTMLSelectElement>('command').value as CommandName;
  $('error').hidden = true;
  $('log').replaceChildren();
  $('results').hidden = true;
  loss = [];
  $('loss-box').hidden = true;
  setBusy(true);
  send({ type: 'run', command, options: readForm($('form')) });
}

function cancel() {
  worker.terminate();
  setBusy(false);
  $('status').textContent = 'cancelled';
  $('progress-label').textContent = 'cancelled';
  startWorker();
}

async function example(path: string): Promise<Blob> {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.blob();
}

/** Dropped or picked files: the .onnx, its external data files (anything else), an .npz of data. */
function pick(files: File[]) {
  const onnx = files.find((f) => /\.onnx$/i.test(f.name)) ?? files.find((f) => !/\.npz$/i.test(f.name));
  const npz = files.find((f) => /\.npz$/i.test(f.name));
  if (onnx) {
    const extra = files
      .filter((f) => f !== onnx && f !== npz)
      .map((f) => ({ file: f as Blob, name: f.name }));
    loadModel(onnx, onnx.name, extra);
  }
  if (npz) loadData(npz, npz.name);
}

function wire() {
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    pick(Array.from(e.dataTransfer?.files ?? []));
  });
  $<HTMLInputElement>('model-file').addEventListener('change', (e) => {
    pick(Array.from((e.target as HTMLInputElement).files ?? []));
  });
  $<HTMLInputElement>('data-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) loadData(f, f.name);
  });
  $<HTMLInputElement>('image-folder').addEventListener('change', (e) => {
    const files = Array.from((e.target as HTMLInputElement).files ?? []).map((f) => ({
      file: f as Blob,
      path: f.webkitRelativePath || f.name,
    }));
    setData({ type: 'images', files, mean: numbers('image-mean', 0), std: numbers('image-std', 1) });
  });
  $('example').addEventListener('click', async () => {
    loadModel(await example('./examples/fashion-mnist.onnx'), 'fashion-mnist.onnx');
  });
  $('example-data').addEventListener('click', async () => {
    loadData(await example('./examples/fashion-mnist-1k.npz'), 'fashion-mnist-1k.npz');
  });
  $('synthetic').addEventListener('click', () => {
    setData({ type: 'synthetic', samples: Number($<HTMLInputElement>('synthetic-samples').value) || 64 });
  });
  $('budget').addEventListener('change', () => model && loadModel(model.file, model.name, model.extra));
  $('command').addEventListener('change', showForm);
  $('run').addEventListener('click', run);
  $('cancel').addEventListener('click', cancel);
}

wire();
startWorker();
setBusy(false);
