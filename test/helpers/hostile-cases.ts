// The hostile cases of issue 9, run through the real CLI (child processes): each builds its files in
// a fresh folder, runs one command, and is judged on the exit code, a one-line stderr, the hashes of
// every file that was there before (the input is never touched), files left behind and peak RSS.
// test/hostile/cli.test.ts asserts them; bench/hostile.ts prints the table the issue quotes.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { encodeNpy, type NdArray } from '../../src/data/npy.js';
import { encodeNpz } from '../../src/data/npz.js';
import { encodeModel } from '../../src/ir/serialize.js';
import { loadModel, saveModel } from '../../src/node/model-io.js';
import { CLI, ROOT } from './cli.js';
import { chainModel, longNameModel, modelBytes, npzBomb, valueInfo } from './hostile-models.js';
import { GraphBuilder, newModel, Tensor } from './models.js';

const MLP = join(ROOT, 'test', 'fixtures', 'models', 'mlp-gemm.onnx');
const FMNIST = join(ROOT, 'examples', 'fashion-mnist.onnx');
const FMNIST_DATA = join(ROOT, 'examples', 'fashion-mnist-1k.npz');

export interface CaseRun {
  args: string[];
  /** files the run may write or remove (outputs, stale temp files); everything else must be unchanged */
  outputs?: string[];
  env?: Record<string, string>;
  /** run as this user (an unprivileged one, so a chmod 000 file really is unreadable) */
  uid?: number;
  /** send this signal once a temp file of the save appears in `watch` */
  interrupt?: { signal: 'SIGINT' | 'SIGTERM'; watch: string };
  /** a check of its own after the run: a message when something is wrong */
  after?: () => string | undefined;
}

export interface HostileCase {
  id: string;
  /** the exit code a correct run gives: 2 (a clean user error) unless the input is fine */
  code: number;
  /** what stderr must say (the one line of an exit-2 run) */
  stderr?: RegExp;
  /** a bomb: its peak RSS must stay under 1 GB */
  bomb?: boolean;
  /** only as root (it needs an unprivileged uid) */
  needsRoot?: boolean;
  setup(dir: string): CaseRun;
}

export interface CaseResult {
  id: string;
  code: number;
  expected: number;
  stderrLines: number;
  stderr: string;
  inputUnchanged: boolean;
  leftBehind: string[];
  peakRssMb: number | undefined;
  ms: number;
  problems: string[];
  skipped?: string;
}

// --- building blocks

const NOBODY = 65534;

/** A 1x1 grey PNG. */
const TINY_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNoAAAAggCBd81ytgAAAABJRU5ErkJggg==',
  'base64',
);

function copy(src: string, dir: string, name: string): string {
  const p = join(dir, name);
  copyFileSync(src, p);
  return p;
}

/** mlp-gemm saved with its weights in external data: `m.onnx` + `m.onnx.data` in `dir`. */
function externalModel(dir: string, name = 'm.onnx'): string {
  const p = join(dir, name);
  saveModel(loadModel(MLP), p, { externalData: true });
  return p;
}

/** y = x * s + z: inputs x [N,4], z [N,4], s a float scalar (shape []). */
function scalarModel(dir: string): string {
  const p = join(dir, 'scalar.onnx');
  writeFileSync(
    p,
    modelBytes({
      inputs: [valueInfo('x', ['N', 4]), valueInfo('s', []), valueInfo('z', ['N', 4])],
      outputs: [valueInfo('y', ['N', 4])],
      nodes: [
        { op: 'Mul', inputs: ['x', 's'], outputs: ['xs'] },
        { op: 'Add', inputs: ['xs', 'z'], outputs: ['y'] },
      ],
    }),
  );
  return p;
}

/** x [N,4] -> Relu -> y: a single-input model. */
function reluModel(dir: string): string {
  const p = join(dir, 'relu.onnx');
  writeFileSync(p, modelBytes({ inputs: [valueInfo('x', ['N', 4])], outputs: [valueInfo('y', ['N', 4])] }));
  return p;
}

function f32(shape: number[], fill = (i: number) => (i % 7) - 3): NdArray {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: n }, (_, i) => fill(i)) };
}

function npz(dir: string, name: string, arrays: Record<string, NdArray>): string {
  const p = join(dir, name);
  writeFileSync(p, encodeNpz(arrays));
  return p;
}

/** x + w with a 96 MiB weight: its save takes long enough to be interrupted. */
function bigModel(dir: string): string {
  const p = join(dir, 'big.onnx');
  const n = 24 << 20;
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: [1, n] });
  const w = b.weight('w', Tensor.fromFloat32('w', [n], new Float32Array(n).fill(0.5)));
  b.output(b.op('Add', [x, w]));
  writeFileSync(p, encodeModel(m));
  return p;
}

/** A signal while the save writes a 96 MiB model: its temp files go, the exit code is 128 + signal. */
function interruptCase(signal: 'SIGINT' | 'SIGTERM', code: number): HostileCase {
  return {
    id: `exits: ${signal} during the save removes its temp files, exit ${code}`,
    code,
    setup(dir) {
      const input = bigModel(dir);
      mkdirSync(join(dir, 'out'));
      const out = join(dir, 'out', 'o.onnx');
      return {
        args: ['slim', input, '-o', out, '--no-guard'],
        interrupt: { signal, watch: join(dir, 'out') },
      };
    },
  };
}

/** A pid that is not alive: a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid ?? 999_999;
}

function yamlAliasBomb(): string {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 10; i++) {
    const prev = String.fromCharCode(96 + i);
    lines.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(',')}]`,
    );
  }
  return `${lines.join('\n')}\npasses: []\n`;
}

// --- the cases

const ONE_LINE = /^edgefit: error: [^\n]+\n$/;

export const HOSTILE_CASES: HostileCase[] = [
  // 1. the input is sacred
  {
    id: 'sacred: -o through a symlink to the input folder (--force)',
    code: 2,
    stderr: /is the input file/,
    setup(dir) {
      mkdirSync(join(dir, 'real'));
      const input = externalModel(join(dir, 'real'));
      symlinkSync(join(dir, 'real'), join(dir, 'link'));
      return { args: ['slim', input, '-o', join(dir, 'link', 'm.onnx'), '--force'] };
    },
  },
  {
    id: 'sacred: the input given through a symlink, -o its real path (--force)',
    code: 2,
    stderr: /is the input file/,
    setup(dir) {
      const real = copy(MLP, dir, 'real.onnx');
      symlinkSync(real, join(dir, 'link.onnx'));
      return { args: ['slim', join(dir, 'link.onnx'), '-o', real, '--force'] };
    },
  },
  {
    id: "sacred: -o onto the input's external-data file (--force)",
    code: 2,
    stderr: /would overwrite .*m\.onnx\.data.*which this command reads/,
    setup(dir) {
      const input = externalModel(dir);
      return { args: ['slim', input, '-o', `${input}.data`, '--force'] };
    },
  },
  {
    id: "sacred: --external-data whose OUT.data is the input's data file (--force)",
    code: 2,
    stderr: /data file .*m\.onnx\.data would overwrite/,
    setup(dir) {
      const m = externalModel(dir);
      // other.onnx reads m.onnx.data; writing m.onnx would write m.onnx.data too
      const other = copy(m, dir, 'other.onnx');
      return { args: ['slim', other, '-o', m, '--external-data', '--force'] };
    },
  },
  {
    id: 'sacred: -o a hard link of the input (--force)',
    code: 2,
    stderr: /is the input file \(a hard link to it\)/,
    setup(dir) {
      const input = copy(MLP, dir, 'in.onnx');
      linkSync(input, join(dir, 'hard.onnx'));
      return { args: ['slim', input, '-o', join(dir, 'hard.onnx'), '--force'] };
    },
  },
  {
    id: 'sacred: optimize -o onto its own --recipe (--force)',
    code: 2,
    stderr: /would overwrite .*recipe\.yaml/,
    setup(dir) {
      const input = copy(MLP, dir, 'in.onnx');
      const recipe = join(dir, 'recipe.yaml');
      writeFileSync(recipe, '- pass: dead-code\n');
      return { args: ['optimize', input, '--recipe', recipe, '-o', recipe, '--force'] };
    },
  },
  {
    id: 'sacred: quantize -o onto its own --calib data (--force)',
    code: 2,
    stderr: /would overwrite .*calib\.npz/,
    setup(dir) {
      const input = copy(FMNIST, dir, 'in.onnx');
      const data = copy(FMNIST_DATA, dir, 'calib.npz');
      return { args: ['quantize', input, '--mode', 'static', '--calib', data, '-o', data, '--force'] };
    },
  },

  {
    id: 'sacred: quantize -o into its own --calib image folder (--force)',
    code: 2,
    stderr: /is inside .*images, which this command reads/,
    setup(dir) {
      const input = copy(FMNIST, dir, 'in.onnx');
      mkdirSync(join(dir, 'images', 'cat'), { recursive: true });
      const image = join(dir, 'images', 'cat', 'a.png');
      writeFileSync(image, TINY_PNG);
      return {
        args: ['quantize', input, '--mode', 'static', '--calib', join(dir, 'images'), '-o', image, '--force'],
      };
    },
  },

  // 2. bounded resources
  {
    id: 'bomb: a 3 MB .npz that expands to 3 GB (eval --data)',
    code: 2,
    bomb: true,
    stderr: /entry 'input' brings the arrays to \d+ MiB uncompressed, past the 1024 MiB cap/,
    setup(dir) {
      const data = join(dir, 'bomb.npz');
      npzBomb(data, 'input', [956_000, 1, 28, 28]);
      return { args: ['eval', FMNIST, '--data', data] };
    },
  },
  {
    id: 'bomb: a .npz whose zip headers claim 1 MB but whose .npy header needs 3 GB',
    code: 2,
    bomb: true,
    stderr: /entry 'input' is too short: shape \(956000, 1, 28, 28\) of float32 needs/,
    setup(dir) {
      const data = join(dir, 'liar.npz');
      npzBomb(data, 'input', [956_000, 1, 28, 28], { declare: 1 << 20 });
      return { args: ['eval', FMNIST, '--data', data] };
    },
  },
  {
    id: 'bomb: a .npz entry whose deflate stream holds 3 GB where its headers say 31 KB',
    code: 2,
    bomb: true,
    stderr: /entry 'input\.npy' inflates to more than the 31488 bytes it declares/,
    setup(dir) {
      // zip headers and .npy header agree on [10,1,28,28]; the stream goes on to 3 GB of zeros
      const data = join(dir, 'overflow.npz');
      npzBomb(data, 'input', [10, 1, 28, 28], { streamBytes: 3e9, declare: 128 + 10 * 784 * 4 });
      return { args: ['eval', FMNIST, '--data', data] };
    },
  },
  {
    id: 'glob: a recipe selector a*a*a*a*a*a*a*a*b against 2000-character node names',
    code: 0,
    setup(dir) {
      const input = join(dir, 'long-names.onnx');
      writeFileSync(input, longNameModel(40, 2000));
      const recipe = join(dir, 'r.yaml');
      writeFileSync(recipe, "- pass: quantize-dynamic-int8\n  nodes: ['a*a*a*a*a*a*a*a*b']\n");
      const out = join(dir, 'out.onnx');
      return { args: ['optimize', input, '--recipe', recipe, '-o', out, '--no-guard'], outputs: [out] };
    },
  },
  {
    id: 'glob: --exclude a*a*a*a*a*a*a*a*b against 2000-character node names',
    code: 0,
    setup(dir) {
      const input = join(dir, 'long-names.onnx');
      writeFileSync(input, longNameModel(40, 2000));
      const out = join(dir, 'out.onnx');
      return {
        args: [
          'quantize',
          input,
          '--mode',
          'dynamic',
          '--exclude',
          'a*a*a*a*a*a*a*a*b',
          '-o',
          out,
          '--no-guard',
        ],
        outputs: [out],
      };
    },
  },
  {
    id: 'graph: 1,000,000 nodes (inspect) is refused up front',
    code: 2,
    bomb: true,
    stderr: /has 1000000 nodes, more than the 200000/,
    setup(dir) {
      const input = join(dir, 'million.onnx');
      writeFileSync(input, chainModel(1_000_000));
      return { args: ['inspect', input] };
    },
  },
  {
    id: 'counts: bench --runs 1e12',
    code: 2,
    stderr: /--runs must be an integer from 1 to 1000000/,
    setup: () => ({ args: ['bench', MLP, '--runs', '1e12'] }),
  },
  {
    id: 'counts: quantize --block-size 1073741824',
    code: 2,
    stderr: /--block-size must be an integer from 16 to 256/,
    setup: (dir) => ({
      args: [
        'quantize',
        MLP,
        '--mode',
        'weight-int4',
        '--block-size',
        '1073741824',
        '-o',
        join(dir, 'q.onnx'),
      ],
    }),
  },

  // 3. clean errors
  {
    id: 'errors: a YAML alias bomb as --recipe',
    code: 2,
    stderr: /YAML aliases expand too much/,
    setup(dir) {
      const recipe = join(dir, 'bomb.yaml');
      writeFileSync(recipe, yamlAliasBomb());
      return { args: ['optimize', MLP, '--recipe', recipe, '-o', join(dir, 'out.onnx')] };
    },
  },
  {
    id: 'errors: -o /proc/x.onnx',
    code: 2,
    stderr: /cannot write \/proc\/x\.onnx \(ENOENT/,
    setup: () => ({ args: ['slim', MLP, '-o', '/proc/x.onnx', '--no-guard'] }),
  },
  {
    id: 'errors: an unreadable model (EACCES)',
    code: 2,
    needsRoot: true,
    stderr: /cannot read .*locked\.onnx \(EACCES: permission denied\)/,
    setup(dir) {
      const input = copy(MLP, dir, 'locked.onnx');
      chmodSync(input, 0o000);
      const control = copy(MLP, dir, 'open.onnx'); // the same user reads this one: only the mode differs
      return {
        args: ['inspect', input],
        uid: NOBODY,
        after: () =>
          spawnSync(process.execPath, [CLI, 'inspect', control], { uid: NOBODY, gid: NOBODY }).status === 0
            ? undefined
            : 'the unprivileged user cannot read a readable model either',
      };
    },
  },
  {
    id: 'errors: unreadable external data (EACCES)',
    code: 2,
    needsRoot: true,
    stderr: /cannot read [^(]*m\.onnx\.data"? \(EACCES: permission denied\)/,
    setup(dir) {
      const input = externalModel(dir);
      chmodSync(`${input}.data`, 0o000);
      const out = join(dir, 'out.onnx');
      return { args: ['slim', input, '-o', out, '--no-guard'], uid: NOBODY, outputs: [out] };
    },
  },
  {
    id: 'errors: an image folder with a file that is not an image',
    code: 2,
    stderr: /broken\.png cannot be decoded as an image/,
    setup(dir) {
      mkdirSync(join(dir, 'images', 'cat'), { recursive: true });
      writeFileSync(join(dir, 'images', 'cat', 'broken.png'), 'not a png at all');
      return { args: ['eval', FMNIST, '--data', join(dir, 'images')] };
    },
  },
  {
    id: 'errors: unreadable .npy data (EACCES)',
    code: 2,
    needsRoot: true,
    stderr: /cannot read .*x\.npy \(EACCES: permission denied\)/,
    setup(dir) {
      const input = reluModel(dir);
      const data = join(dir, 'x.npy');
      writeFileSync(data, encodeNpy(f32([4, 4])));
      chmodSync(data, 0o000);
      return { args: ['eval', input, '--data', data, '--reference', input], uid: NOBODY };
    },
  },
  {
    id: 'errors: a negative input dimension (read as unknown, like ONNX Runtime)',
    code: 0,
    setup(dir) {
      const input = join(dir, 'negdim.onnx');
      writeFileSync(
        input,
        modelBytes({ inputs: [valueInfo('x', [-3, 4])], outputs: [valueInfo('y', [-3, 4])] }),
      );
      return { args: ['bench', input, '--runs', '3', '--warmup', '1'] };
    },
  },
  {
    id: 'errors: a graph with no outputs',
    code: 2,
    stderr: /the main graph has no outputs/,
    setup(dir) {
      const input = join(dir, 'noout.onnx');
      writeFileSync(input, modelBytes({ outputs: [] }));
      return { args: ['bench', input] };
    },
  },
  {
    id: 'errors: an empty input name',
    code: 2,
    stderr: /input 0 has an empty name/,
    setup(dir) {
      const input = join(dir, 'emptyname.onnx');
      writeFileSync(
        input,
        modelBytes({
          inputs: [valueInfo('', [1, 4])],
          nodes: [{ op: 'Relu', inputs: [''], outputs: ['y'] }],
        }),
      );
      const out = join(dir, 'out.onnx');
      return { args: ['slim', input, '-o', out] };
    },
  },
  interruptCase('SIGINT', 130),
  interruptCase('SIGTERM', 143),
  {
    id: 'exits: stale temp files of a killed run are removed by the next run into the folder',
    code: 0,
    setup(dir) {
      const out = join(dir, 'o.onnx');
      const stale = `${out}.tmp-${deadPid()}-${Date.now() - 60_000}`;
      const staleData = `${out}.data.tmp-${deadPid()}-${Date.now() - 60_000}`;
      const live = `${out}.tmp-${process.pid}-${Date.now()}`; // a run still going: kept
      for (const f of [stale, staleData, live]) writeFileSync(f, 'half a model');
      return {
        args: ['slim', MLP, '-o', out, '--no-guard'],
        outputs: [out, stale, staleData],
        after: () =>
          existsSync(stale) || existsSync(staleData)
            ? 'a stale temp file is still there'
            : existsSync(live)
              ? undefined
              : 'the temp file of a live process was removed',
      };
    },
  },
  {
    id: 'labels: int64 2^32+3 is not class 3',
    code: 2,
    stderr: /label 4294967299 of sample 1 is not a class id of a model with 10 classes/,
    setup(dir) {
      const data = npz(dir, 'labels.npz', {
        input: f32([3, 1, 28, 28]),
        labels: { dtype: 'int64', shape: [3], data: new BigInt64Array([1n, 2n ** 32n + 3n, 2n]) },
      });
      return { args: ['eval', FMNIST, '--data', data] };
    },
  },
  {
    id: "labels: a class id beyond the model's 10 outputs",
    code: 2,
    stderr: /label 10 of sample 2 is not a class id of a model with 10 classes/,
    setup(dir) {
      const data = npz(dir, 'labels.npz', {
        input: f32([3, 1, 28, 28]),
        labels: { dtype: 'int32', shape: [3], data: new Int32Array([1, 9, 10]) },
      });
      return { args: ['eval', FMNIST, '--data', data] };
    },
  },
  {
    id: 'data: an .npz with one array named foo for a single-input model',
    code: 2,
    stderr: /has no array for model input "x" \(it has: foo\).*name the array "x"/,
    setup(dir) {
      const input = reluModel(dir);
      const data = npz(dir, 'foo.npz', { foo: f32([4, 4]) });
      return { args: ['eval', input, '--data', data, '--reference', input] };
    },
  },
  {
    id: 'data: an .npz with one unnamed array (arr_0, np.savez positional) for a single-input model',
    code: 0,
    setup(dir) {
      const input = reluModel(dir);
      const data = npz(dir, 'unnamed.npz', { arr_0: f32([4, 4]) });
      return { args: ['eval', input, '--data', data, '--reference', input] };
    },
  },
  {
    id: 'data: an .npz whose one array matches no input of a multi-input model',
    code: 2,
    stderr: /has no array for model input "x" \(it has: arr_0\).*name the arrays after the inputs: x, s, z/,
    setup(dir) {
      const input = scalarModel(dir);
      const data = npz(dir, 'one.npz', { arr_0: f32([4, 4]) });
      return { args: ['eval', input, '--data', data, '--reference', input] };
    },
  },
  {
    id: 'data: a scalar input (shape []) from a 0-d array, one value for every sample',
    code: 0,
    setup(dir) {
      const input = scalarModel(dir);
      const data = npz(dir, 'scalar0d.npz', { x: f32([6, 4]), z: f32([6, 4]), s: f32([], () => 2) });
      return { args: ['eval', input, '--data', data, '--reference', input] };
    },
  },
  {
    id: 'data: a scalar input (shape []) from a 1-d array, one value per sample',
    code: 0,
    setup(dir) {
      const input = scalarModel(dir);
      const data = npz(dir, 'scalar1d.npz', { x: f32([6, 4]), z: f32([6, 4]), s: f32([6], (i) => i) });
      // a scalar carries no batch: the dataset says maxBatch 1 (eval --batch-size 1 runs it so today)
      return { args: ['eval', input, '--data', data, '--reference', input, '--batch-size', '1'] };
    },
  },
];

// --- running a case

/** sha256 of every regular file under `dir` (symlinks by their target text), by relative path. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isSymbolicLink()) out.set(relative(dir, p), `link:${readlinkSync(p)}`);
      else if (st.isFile()) {
        let hash: string;
        try {
          hash = createHash('sha256').update(readFileSync(p)).digest('hex');
        } catch {
          hash = 'unreadable';
        }
        out.set(relative(dir, p), hash);
      }
    }
  };
  walk(dir);
  return out;
}

const PROBE = join(ROOT, 'test', 'helpers', 'rss-probe.mjs');

interface Spawned {
  code: number;
  stderr: string;
  ms: number;
}

async function spawnCli(run: CaseRun, rssFile: string, timeoutMs: number, cli: string): Promise<Spawned> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', PROBE, cli, ...run.args], {
    cwd: ROOT,
    env: { ...process.env, ...run.env, EDGEFIT_RSS_FILE: rssFile },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(run.uid !== undefined ? { uid: run.uid, gid: run.uid } : {}),
  });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  let poll: NodeJS.Timeout | undefined;
  if (run.interrupt) {
    const { signal, watch } = run.interrupt;
    poll = setInterval(() => {
      if (readdirSync(watch).some((f) => f.includes('.tmp-'))) {
        clearInterval(poll);
        child.kill(signal);
      }
    }, 1);
  }
  const code = await new Promise<number>((done) =>
    child.on('close', (c, sig) => done(c ?? (sig === 'SIGKILL' ? -9 : -1))),
  );
  clearTimeout(timer);
  if (poll) clearInterval(poll);
  return { code, stderr, ms: performance.now() - t0 };
}

/**
 * Run one case in a fresh folder under `root` (removed afterwards) and judge it. `cli` is the
 * edgefit entry point to run (default: this checkout's dist/cli/main.js).
 */
export async function runCase(
  c: HostileCase,
  root: string,
  options: { timeoutMs?: number; cli?: string } = {},
): Promise<CaseResult> {
  const base: Omit<CaseResult, 'problems'> = {
    id: c.id,
    code: 0,
    expected: c.code,
    stderrLines: 0,
    stderr: '',
    inputUnchanged: true,
    leftBehind: [],
    peakRssMb: undefined,
    ms: 0,
  };
  if (c.needsRoot && process.getuid?.() !== 0)
    return { ...base, problems: [], skipped: 'needs root (to run as an unprivileged user)' };
  const dir = mkdtempSync(join(root, 'case-'));
  try {
    const run = c.setup(dir);
    if (run.uid !== undefined) {
      // the unprivileged user may enter the folder and write outputs; the locked files stay locked
      chmodSync(dir, 0o777);
    }
    const before = snapshot(dir);
    const rssFile = join(dir, '.rss');
    const r = await spawnCli(run, rssFile, options.timeoutMs ?? 120_000, options.cli ?? CLI);
    let peakRssMb: number | undefined;
    if (existsSync(rssFile)) {
      peakRssMb = Number(readFileSync(rssFile, 'utf8')) / 1024;
      rmSync(rssFile);
    }
    const after = snapshot(dir);
    const allowed = new Set((run.outputs ?? []).map((p) => relative(dir, p)));
    const changed = [...before].filter(([k, v]) => !allowed.has(k) && after.get(k) !== v).map(([k]) => k);
    const leftBehind = [...after.keys()].filter((k) => !before.has(k) && !allowed.has(k));
    const stderrLines = r.stderr === '' ? 0 : r.stderr.replace(/\n$/, '').split('\n').length;
    const problems: string[] = [];
    if (r.code !== c.code) problems.push(`exit ${r.code}, expected ${c.code}`);
    if (c.code === 2 && !ONE_LINE.test(r.stderr)) problems.push(`stderr is not one error line: ${r.stderr}`);
    if (c.stderr && !c.stderr.test(r.stderr)) problems.push(`stderr does not match ${c.stderr}: ${r.stderr}`);
    if (changed.length) problems.push(`changed: ${changed.join(', ')}`);
    if (leftBehind.length) problems.push(`left behind: ${leftBehind.join(', ')}`);
    if (c.bomb && peakRssMb !== undefined && peakRssMb >= 1024) problems.push(`peak RSS ${peakRssMb} MB`);
    const own = run.after?.();
    if (own) problems.push(own);
    return {
      ...base,
      code: r.code,
      stderrLines,
      stderr: r.stderr,
      inputUnchanged: changed.length === 0,
      leftBehind,
      peakRssMb,
      ms: r.ms,
      problems,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh root folder for case folders (open to the unprivileged user of the EACCES cases). */
export function hostileRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'edgefit-hostile-'));
  chmodSync(root, 0o755);
  return root;
}
