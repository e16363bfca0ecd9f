// Strict layers: every import of every .ts file under src/, test/ and bench/ (static `import … from`,
// `export … from`, `import '…'`, dynamic `import()`, type positions `import('…').T`; see imports.ts)
// is checked against the table below; core files import nothing Node-only at run time
// (platform-neutral.test.ts follows the core's imports transitively).
import { describe, expect, it } from 'vitest';
import { type Import, importsOf, isNodeOnly, repoImports } from './imports.js';

// --- the layers

/** The layer of a repo-relative path; undefined outside src/, test/ and bench/. */
function layerOf(path: string): string | undefined {
  if (path === 'src/errors.ts') return 'errors';
  if (path === 'src/index.ts') return 'index';
  if (path === 'src/node.ts' || path === 'src/runtime/node.ts') return 'node';
  const m = /^src\/([^/]+)\//.exec(path);
  if (m) return m[1];
  if (path.startsWith('src/')) return `src file ${path}`; // a new top-level file: give it a row
  if (path.startsWith('test/')) return 'test';
  if (path.startsWith('bench/')) return 'bench';
  return undefined;
}

// An allowance is a layer name, a file ('src/node.ts') or a folder ('test/corpus/').
const PASSES_AND_BELOW = ['ir', 'onnx', 'kernels', 'analysis', 'errors'];
const TRAIN_AND_BELOW = [...PASSES_AND_BELOW, 'runtime', 'data', 'passes'];
const PIPELINE_AND_BELOW = [...TRAIN_AND_BELOW, 'train', 'report'];
const SEARCH_AND_BELOW = [...PIPELINE_AND_BELOW, 'pipeline'];
const CORE = [...SEARCH_AND_BELOW, 'search', 'commands'];
const SRC_LAYERS = [...CORE, 'index', 'node', 'cli', 'web'];

interface Rule {
  /** what the layer may import */
  may: string[];
  /** what it may import with `import type` only */
  mayType?: string[];
  /** the rule as the table says it, for the message */
  says: string;
}

const RULES: Record<string, Rule> = {
  errors: { may: [], says: 'src/errors.ts imports nothing of ours' },
  onnx: { may: ['errors'], says: 'onnx/ may import errors' },
  kernels: { may: ['errors'], says: 'kernels/ may import errors only' },
  ir: { may: ['onnx', 'errors'], says: 'ir/ may import onnx/, errors' },
  analysis: {
    may: ['ir', 'onnx', 'kernels', 'errors'],
    says: 'analysis/ may import ir/, onnx/, kernels/, errors',
  },
  data: { may: ['ir', 'onnx', 'kernels', 'errors'], says: 'data/ may import ir/, onnx/, kernels/, errors' },
  runtime: {
    may: ['ir', 'onnx', 'kernels', 'errors'],
    mayType: ['data'],
    says: 'runtime/ may import ir/, onnx/, kernels/, errors, and `import type` from data/',
  },
  passes: {
    may: PASSES_AND_BELOW,
    mayType: ['runtime', 'data'],
    says: 'passes/ may import ir/, onnx/, kernels/, analysis/, errors, and `import type` from runtime/, data/',
  },
  train: { may: TRAIN_AND_BELOW, says: 'train/ may import passes/, runtime/, data/ and below' },
  pipeline: { may: PIPELINE_AND_BELOW, says: 'pipeline/ may import train/, report/ and below' },
  search: { may: SEARCH_AND_BELOW, says: 'search/ may import pipeline/, report/ and below' },
  report: { may: ['errors'], says: 'report/ may import report/ only' },
  commands: { may: CORE, says: 'commands/ may import the core, not node/, cli/, web/' },
  index: { may: CORE, says: 'src/index.ts exports the core only' },
  node: {
    may: SRC_LAYERS.filter((l) => l !== 'cli' && l !== 'web'),
    says: 'node/, src/node.ts, runtime/node.ts may import anything but cli/, web/',
  },
  cli: { may: ['src/index.ts', 'src/node.ts'], says: 'cli/ may import src/index.ts, src/node.ts and cli/' },
  web: {
    may: ['src/index.ts', 'src/runtime/web.ts'],
    says: 'web/ may import src/index.ts, src/runtime/web.ts and web/',
  },
  test: { may: SRC_LAYERS, says: 'test/ may import src/ and test/, never bench/' },
  bench: {
    may: [...SRC_LAYERS.filter((l) => l !== 'cli'), 'test/corpus/', 'test/helpers/'],
    says: 'bench/ may import src/ (not src/cli/), test/corpus/, test/helpers/, bench/',
  },
};

function allows(list: string[] | undefined, target: string, layer: string): boolean {
  return (list ?? []).some((a) => a === layer || a === target || (a.endsWith('/') && target.startsWith(a)));
}

/** `file -> target (rule)` for every import the table forbids. */
function violations(files: string[], imports: Map<string, Import[]>): string[] {
  const out: string[] = [];
  for (const file of files) {
    const from = layerOf(file)!;
    const rule = RULES[from];
    for (const imp of imports.get(file)!) {
      if (!imp.target) {
        // a package: only the core's Node-independence is the table's business
        if (CORE.includes(from) || from === 'index')
          if (isNodeOnly(imp.spec) && !imp.typeOnly)
            out.push(`${file} -> ${imp.spec} (the core must not import Node-only modules)`);
        continue;
      }
      const to = layerOf(imp.target);
      if (to === undefined) continue; // outside src/, test/, bench/ (package.json, scripts/)
      if (!rule) {
        out.push(`${file} -> ${imp.target} (no rule for ${from}: add it to test/core/layers.test.ts)`);
        continue;
      }
      if (
        file.startsWith('src/cli/commands/') &&
        imp.target.startsWith('src/cli/commands/') &&
        file !== imp.target
      ) {
        out.push(`${file} -> ${imp.target} (a cli/commands/ file never imports another cli/commands/ file)`);
        continue;
      }
      if (to === from || to === 'errors' || allows(rule.may, imp.target, to)) continue;
      if (imp.typeOnly && allows(rule.mayType, imp.target, to)) continue;
      const hint = allows(rule.mayType, imp.target, to) ? '; this one only with `import type`' : '';
      out.push(`${file} -> ${imp.target} (${rule.says}${hint})`);
    }
  }
  return out;
}

const imports = repoImports();
const files = [...imports.keys()];

describe('strict layers', () => {
  it('the parser sees every kind of import, and only imports', () => {
    const text = [
      "import { a } from '../ir/graph.js';",
      "import type { B } from '../runtime/types.js';",
      "import '../data/side-effect.js';",
      "export { c } from './c.js';",
      "export type { D } from '../data/d.js';",
      "const e = await import('../node/e.js');",
      "let f: import('../train/f.js').F;",
      "import * as g from 'node:fs';",
      "// import { no } from '../cli/comment.js';",
      'const s = "import { no } from \'../cli/string.js\'";',
    ].join('\n');
    expect(importsOf('src/passes/x.ts', text)).toEqual([
      { spec: '../ir/graph.js', target: 'src/ir/graph.ts', typeOnly: false },
      { spec: '../runtime/types.js', target: 'src/runtime/types.ts', typeOnly: true },
      { spec: '../data/side-effect.js', target: 'src/data/side-effect.ts', typeOnly: false },
      { spec: './c.js', target: 'src/passes/c.ts', typeOnly: false },
      { spec: '../data/d.js', target: 'src/data/d.ts', typeOnly: true },
      { spec: '../node/e.js', target: 'src/node/e.ts', typeOnly: false },
      { spec: '../train/f.js', target: 'src/train/f.ts', typeOnly: true },
      { spec: 'node:fs', target: undefined, typeOnly: false },
    ]);
    expect(files.length).toBeGreaterThan(150);
  });

  it('the checker flags what the table forbids and nothing else', () => {
    const imp = (target: string, typeOnly = false): Import => ({ spec: target, target, typeOnly });
    const pkg = (spec: string): Import => ({ spec, target: undefined, typeOnly: false });
    const sample = new Map<string, Import[]>([
      [
        'src/passes/p.ts',
        [imp('src/runtime/types.ts', true), imp('src/runtime/expose.ts'), imp('src/ir/graph.ts')],
      ],
      ['src/cli/commands/a.ts', [imp('src/cli/commands/b.ts'), imp('src/cli/shell.ts'), imp('src/node.ts')]],
      ['src/data/d.ts', [pkg('node:fs'), pkg('fflate'), imp('src/errors.ts')]],
      ['bench/b.ts', [imp('test/corpus/backend.ts'), imp('test/cli/x.test.ts'), imp('src/cli/main.ts')]],
      ['test/t.ts', [imp('bench/measure.ts'), imp('src/cli/main.ts')]],
      ['src/extra/e.ts', [imp('src/ir/graph.ts')]],
    ]);
    expect(violations([...sample.keys()], sample).map((v) => v.split(' (')[0])).toEqual([
      'src/passes/p.ts -> src/runtime/expose.ts',
      'src/cli/commands/a.ts -> src/cli/commands/b.ts',
      'src/data/d.ts -> node:fs',
      'bench/b.ts -> test/cli/x.test.ts',
      'bench/b.ts -> src/cli/main.ts',
      'test/t.ts -> bench/measure.ts',
      'src/extra/e.ts -> src/ir/graph.ts',
    ]);
  });

  it('every import follows the layer table', () => {
    const bad = violations(files, imports);
    expect(bad, `${bad.length} layer violations:\n${bad.join('\n')}\n`).toEqual([]);
  });
});
