import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEdgefitError } from '../../src/errors.js';
import { parseRecipe, recipeToJson } from '../../src/pipeline/recipe.js';
import { runCli } from '../helpers/cli.js';

function errorOf(text: string): string {
  try {
    parseRecipe(text, 'r.yaml');
  } catch (e) {
    if (isEdgefitError(e)) return e.message;
    throw e;
  }
  throw new Error('no error');
}

describe('recipes', () => {
  it('parses YAML and JSON lists and { passes } objects', () => {
    const yaml = 'passes:\n  - pass: remove-identity\n    nodes: Identity\n  - pass: dead-code\n';
    const steps = parseRecipe(yaml);
    expect(recipeToJson(steps)).toEqual([
      { pass: 'remove-identity', nodes: ['Identity'] },
      { pass: 'dead-code' },
    ]);
    expect(recipeToJson(parseRecipe('[{"pass": "fold-batchnorm", "nodes": ["/enc/*", "Conv"]}]'))).toEqual([
      { pass: 'fold-batchnorm', nodes: ['/enc/*', 'Conv'] },
    ]);
  });

  it('points at the line and field of an unknown pass', () => {
    expect(errorOf('- pass: dead-code\n- pass: make-it-small\n')).toMatch(
      /^r\.yaml line 2: 1\.pass: unknown pass "make-it-small" \(known passes \(edgefit passes lists them\): .*dead-code/,
    );
  });

  it('points at the line and field of a wrong option type', () => {
    expect(errorOf('- pass: dead-code\n  options:\n    level: 3\n')).toMatch(/^r\.yaml line 3: 0\.options/);
    expect(errorOf('- pass: dead-code\n  nodes: 3\n')).toMatch(/^r\.yaml line 2: 0\.nodes/);
  });

  it('reports malformed YAML with its line', () => {
    expect(errorOf('- pass: dead-code\n  options: {a: [1, 2\n')).toMatch(/^r\.yaml line \d+: /);
  });
});

describe('slim and optimize on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-recipe-'));
  it('bad recipes exit 2 with one line; selectors that match nothing warn', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, '- pass: remove-identity\n- pass: shrink\n');
    const r = runCli(['optimize', 'examples/fashion-mnist.onnx', '-o', join(dir, 'o.onnx'), '--recipe', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^edgefit: error: .*bad\.yaml line 2: 1\.pass: unknown pass "shrink"/);

    const none = join(dir, 'none.yaml');
    writeFileSync(none, '- pass: remove-identity\n  nodes: NoSuchOp\n');
    const w = runCli([
      'optimize',
      'examples/fashion-mnist.onnx',
      '-o',
      join(dir, 'w.onnx'),
      '--recipe',
      none,
      '--json',
    ]);
    expect(w.code).toBe(0);
    expect(w.stderr).toMatch(/warning: .*NoSuchOp.* matches no node/);
    expect(JSON.parse(w.stdout).passes[0].name).toBe('remove-identity');
  });

  it('slim is deterministic: the same input gives byte-identical output', () => {
    const a = join(dir, 'a.onnx');
    const b = join(dir, 'b.onnx');
    expect(runCli(['slim', 'examples/fashion-mnist.onnx', '-o', a]).code).toBe(0);
    expect(runCli(['slim', 'examples/fashion-mnist.onnx', '-o', b]).code).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('--print-recipe prints the recipe and runs nothing', () => {
    const r = runCli(['slim', 'examples/fashion-mnist.onnx', '-o', join(dir, 'p.onnx'), '--print-recipe']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/- pass: fold-batchnorm/);
    expect(parseRecipe(r.stdout).map((s) => s.pass.id)).toContain('topological-sort');
  });

  it('refuses to overwrite the input or an existing file', () => {
    expect(
      runCli(['slim', 'examples/fashion-mnist.onnx', '-o', 'examples/fashion-mnist.onnx']).stderr,
    ).toMatch(/never overwrites its input/);
    const r = runCli(['slim', 'examples/fashion-mnist.onnx', '-o', join(dir, 'a.onnx')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already exists/);
  });
});
