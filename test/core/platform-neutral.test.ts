// The core (src/index.ts) and the web entry (src/runtime/web.ts), with everything they import at run
// time, must run in a browser: no Node built-ins, no onnxruntime-node, no sharp.
import { describe, expect, it } from 'vitest';
import { isNodeOnly, repoImports } from './imports.js';

const imports = repoImports();

function nodeOnlyImports(entry: string): { seen: number; bad: string[] } {
  const seen = new Set<string>();
  const bad: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imp of imports.get(file) ?? []) {
      if (imp.typeOnly) continue;
      if (imp.target) visit(imp.target);
      else if (isNodeOnly(imp.spec)) bad.push(`${file} imports ${imp.spec}`);
    }
  };
  visit(entry);
  return { seen: seen.size, bad };
}

describe('the core is platform-neutral', () => {
  it('src/index.ts imports nothing Node-only, directly or transitively', () => {
    const { seen, bad } = nodeOnlyImports('src/index.ts');
    expect(seen).toBeGreaterThan(30);
    expect(bad).toEqual([]);
  });

  it('src/runtime/web.ts (edgefit/web) imports nothing Node-only either', () => {
    expect(nodeOnlyImports('src/runtime/web.ts').bad).toEqual([]);
  });
});
