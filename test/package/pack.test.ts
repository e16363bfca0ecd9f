// The package a user installs: `npm pack`, then `npm install` of the tarball into a fresh project with no
// .npmrc and none of the npm_* variables `npm test` exports. Its library API (docs/CLI.md, "Library") must
// write the same bytes as the CLI and resolve to what `--json` prints.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const MODEL = join(ROOT, 'examples', 'fashion-mnist.onnx');
const DATA = join(ROOT, 'examples', 'fashion-mnist-1k.npz');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  optionalDependencies: Record<string, string>;
};

/** a user's shell: no npm_* variables, no ORT install flag, not this repository's node_modules/.bin */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_|ONNXRUNTIME_NODE_INSTALL|INIT_CWD$)/i.test(k)) env[k] = v;
  }
  env['PATH'] = (process.env['PATH'] ?? '')
    .split(delimiter)
    .filter((p) => !/node_modules[\\/]\.bin$|node-gyp-bin$/.test(p))
    .join(delimiter);
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, env = userEnv()): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 150_000 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stderr}\n${r.stdout}`);
  }
  return r.stdout;
}

/** the one JSON object a command prints (--json: stdout holds exactly that object) */
function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

const NPM_INSTALL = ['install', '--no-audit', '--no-fund', '--prefer-offline'];
const tmp = mkdtempSync(join(tmpdir(), 'edgefit-pack-'));
const project = join(tmp, 'project');
let files: string[] = [];
let ortDropped = false;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'node.js'))) throw new Error('dist/ is missing: run `npm run build`');
  // dist/ is already built (`npm test` builds first); rebuilding here would race the CLI tests reading it
  const packed = JSON.parse(
    run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT),
  ) as { filename: string; files: { path: string }[] }[];
  files = packed[0]!.files.map((f) => f.path);
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    '{ "name": "user-project", "private": true, "type": "module" }\n',
  );
  // onnxruntime-node's postinstall downloads CUDA binaries from outside the npm registry on Linux x64; make that
  // host unreachable (its downloader honours global-agent's proxy variable) as it is on machines that
  // reach only the npm registry: npm must still install edgefit
  run(
    'npm',
    [...NPM_INSTALL, join(tmp, packed[0]!.filename)],
    project,
    userEnv({ GLOBAL_AGENT_HTTPS_PROXY: 'http://127.0.0.1:9' }),
  );
  ortDropped = !existsSync(join(project, 'node_modules', 'onnxruntime-node', 'package.json'));
  // the README's remedy
  run(
    'npm',
    [...NPM_INSTALL, `onnxruntime-node@${PKG.optionalDependencies['onnxruntime-node']}`],
    project,
    userEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' }),
  );
}, 240_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npm pack + npm install of the tarball', () => {
  it('ships dist/, LICENSE and README only, without source maps', () => {
    expect(files).toContain('LICENSE');
    expect(files).toContain('dist/node.js');
    expect(files).toContain('dist/cli/main.js');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => !/^(dist\/|LICENSE$|README\.md$|package\.json$)/.test(f))).toEqual([]);
  });

  it('installs with no flags when the ORT postinstall cannot download (onnxruntime-node left out)', () => {
    expect(existsSync(join(project, 'node_modules', 'edgefit', 'dist', 'node.js'))).toBe(true);
    expect(existsSync(join(project, 'node_modules', '.bin', 'edgefit'))).toBe(true);
    expect(ortDropped).toBe(true);
  });

  it('edgefit/node slim, quantize, evaluate: the same files and results as the CLI', () => {
    const script = `import { slim, quantize, evaluate } from 'edgefit/node';
const MODEL = ${JSON.stringify(MODEL)}, CALIB = ${JSON.stringify(DATA)}, DATA = ${JSON.stringify(DATA)};
const s = await slim(MODEL, { output: 'slim.onnx' });
const q = await quantize(MODEL, { output: 'int8.onnx', mode: 'static', calib: CALIB });
const e = await evaluate('int8.onnx', { data: DATA });
console.log(JSON.stringify({ s, q, e }));
`;
    writeFileSync(join(project, 'api.mjs'), script);
    const lib = json(run(process.execPath, ['api.mjs'], project)) as Record<string, Record<string, unknown>>;

    const cli = (args: string[]) => json(run(process.execPath, [CLI, ...args, '--json'], project));
    const slim = cli(['slim', MODEL, '-o', 'cli-slim.onnx']);
    const quant = cli(['quantize', MODEL, '-o', 'cli-int8.onnx', '--mode', 'static', '--calib', DATA]);
    const evaluation = cli(['eval', 'cli-int8.onnx', '--data', DATA]);

    const same = (a: string, b: string) =>
      readFileSync(join(project, a)).equals(readFileSync(join(project, b)));
    expect(same('slim.onnx', 'cli-slim.onnx')).toBe(true);
    expect(same('int8.onnx', 'cli-int8.onnx')).toBe(true);
    expect(lib['s']!['after']).toEqual(slim['after']);
    // sizes and counts agree exactly; latency is measured anew each run
    const counts = (side: unknown) => {
      const { latencyMs: _, ...rest } = side as Record<string, unknown>;
      return rest;
    };
    expect(counts(lib['q']!['after'])).toEqual(counts(quant['after']));
    expect(lib['e']!['top1']).toBe(evaluation['top1']);
    expect(lib['e']!['top1']).toBeGreaterThan(0.9);
    expect(lib['e']!['top1']).toBeLessThanOrEqual(1);
  });
});
