// The core (src/index.ts and everything it imports) must run in a browser: no Node built-ins, no
// onnxruntime-node, no sharp. Walks the import graph from the source.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const FORBIDDEN = /^(node:|fs$|path$|os$|zlib$|child_process$|onnxruntime-node|sharp)/;

function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(
    /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g,
  )) {
    const spec = m[1] ?? m[2]!;
    // type-only imports vanish at run time
    if (/^\s*(?:import|export)\s+type\s/.test(m[0].trim())) continue;
    out.push(spec);
  }
  return out;
}

describe('the core is platform-neutral', () => {
  it('src/index.ts imports nothing Node-only, directly or transitively', () => {
    const seen = new Set<string>();
    const bad: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
        else if (FORBIDDEN.test(spec)) bad.push(`${file.slice(ROOT.length + 1)} imports ${spec}`);
      }
    };
    visit(join(ROOT, 'src', 'index.ts'));
    expect(seen.size).toBeGreaterThan(30);
    expect(bad).toEqual([]);
  });
});
