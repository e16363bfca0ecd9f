// Every flag of every command with an out-of-range or malformed value: exit 2 and one line naming the
// flag — the cases are generated from the option schemas themselves, so a new option is covered too.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram, COMMANDS } from '../../src/cli/program.js';
import { type FieldInfo, fieldsOf } from '../../src/index.js';

const MODEL = 'examples/fashion-mnist.onnx';

/** values that must be refused for a field, by kind and range */
function badValues(f: FieldInfo): string[] {
  if (f.kind === 'enum') return ['no-such-value', ''];
  if (f.kind === 'numbers') return ['1,abc', ''];
  if (f.kind !== 'number') return [];
  const out = ['abc', '', '0x10', 'NaN'];
  if (f.integer) out.push('1.5');
  if (f.min) out.push(String(f.min.inclusive ? f.min.value - (f.integer ? 1 : 0.001) : f.min.value));
  if (f.max) out.push(String(f.max.inclusive ? f.max.value + (f.integer ? 1 : 0.001) : f.max.value));
  if (f.max && f.max.value < 1e9) out.push('1e9');
  return out;
}

/** the flags a command needs besides the one under test */
const REQUIRED: Record<string, string[]> = {
  quantize: ['--mode', 'static'],
  prune: ['--sparsity', '0.5'],
  cluster: ['--clusters', '16'],
  decompose: ['--rank-ratio', '0.5'],
  optimize: ['--recipe', 'r.yaml'],
  search: ['--data', 'd.npz', '--max-drop', '1'],
};

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    stderr += String(s);
    return true;
  });
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  process.exitCode = 0;
  try {
    await buildProgram().parseAsync(['node', 'edgefit', ...args]);
  } catch {
    process.exitCode = 2; // commander's own errors (exitOverride) are exit 2 in main.ts
  } finally {
    spy.mockRestore();
    out.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stderr };
}

afterEach(() => {
  process.exitCode = 0;
});

describe('every flag with a bad value is one clear line and exit 2', () => {
  let cases = 0;
  for (const c of COMMANDS) {
    const fields = fieldsOf(c.schema);
    for (const f of fields)
      for (const value of badValues(f)) {
        cases++;
        it(`${c.name} ${f.flag} ${JSON.stringify(value)}`, async () => {
          const positional = c.args.map(() => MODEL);
          const transform = fields.some((x) => x.key === 'output');
          const args = [
            c.name,
            ...(transform && f.key !== 'output' ? ['-o', '/tmp/edgefit-flags-never-written.onnx'] : []),
            ...(REQUIRED[c.name] ?? []).filter((_, i, a) => a[i - (i % 2)] !== f.flag),
            f.flag,
            value,
            ...positional,
          ];
          const r = await run(args);
          expect(r.code, r.stderr).toBe(2);
          const lines = r.stderr.trim().split('\n');
          expect(lines, r.stderr).toHaveLength(1);
          expect(lines[0]).toMatch(/^edgefit: error: /);
          expect(lines[0]).toContain(f.flag);
          expect(lines[0]).not.toMatch(/ZodError|at .*\.js:\d+/);
        });
      }
  }
  it('generated enough cases', () => {
    expect(cases).toBeGreaterThan(100);
  });
});

describe('list-valued flags do not swallow the model path', () => {
  it('inspect --shape before the model', async () => {
    const r = await run(['inspect', '--shape', 'input=4,1,28,28', MODEL, '--json']);
    expect(r.code, r.stderr).toBe(0);
  });
  it('--shape by symbolic dimension name gives the same MACs as by input name', async () => {
    const macs: number[] = [];
    for (const spec of ['input=8,1,28,28', 'batch=8']) {
      let text = '';
      const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
        text += String(s);
        return true;
      });
      await buildProgram().parseAsync(['node', 'edgefit', 'inspect', MODEL, '--shape', spec, '--json']);
      out.mockRestore();
      macs.push(JSON.parse(text).macs);
    }
    expect(macs[0]).toBe(8 * 10_848_704);
    expect(macs[1]).toBe(macs[0]);
  });
  it('an unknown --shape name says what the model has', async () => {
    const r = await run(['inspect', MODEL, '--shape', 'nosuch=3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no input or symbolic dimension named nosuch.*input\[batch,1,28,28\]/);
  });
});

describe('edgefit passes --json', () => {
  it('lists every pass with its options as JSON Schema (types, ranges, defaults)', async () => {
    let text = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      text += String(s);
      return true;
    });
    await buildProgram().parseAsync(['node', 'edgefit', 'passes', '--json']);
    out.mockRestore();
    const j = JSON.parse(text) as {
      schemaVersion: number;
      passes: {
        id: string;
        lossless: boolean;
        options: {
          properties?: Record<string, { minimum?: number; maximum?: number; description?: string }>;
        };
      }[];
    };
    expect(j.schemaVersion).toBe(1);
    expect(j.passes.length).toBeGreaterThanOrEqual(20);
    const cluster = j.passes.find((p) => p.id === 'cluster-weights')!;
    expect(cluster.lossless).toBe(false);
    expect(cluster.options.properties?.clusters).toMatchObject({ minimum: 2, maximum: 256 });
    expect(j.passes.find((p) => p.id === 'fold-batchnorm')!.lossless).toBe(true);
    // every option of every pass says what it does
    for (const p of j.passes)
      for (const [k, v] of Object.entries(p.options.properties ?? {}))
        expect(v.description, `${p.id}.${k}`).toBeTruthy();
  });
});
