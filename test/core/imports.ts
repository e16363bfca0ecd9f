// The imports of the repository's own .ts files, parsed with the TypeScript compiler (so comments and
// strings never count): static `import … from`, `import '…'`, `export … from`, dynamic `import()`, and
// type positions `import('…').T`. Used by test/core/layers.test.ts and platform-neutral.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../helpers/cli.js';

export interface Import {
  /** the specifier as written */
  spec: string;
  /** repo-relative target of a relative specifier ('src/ir/graph.ts'); undefined for packages */
  target: string | undefined;
  /** `import type` / `export type` / `import('…').T`: gone at run time */
  typeOnly: boolean;
}

/** Repo-relative paths of the .ts files under `dir` (fixtures and .d.ts left out). */
export function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'fixtures') out.push(...tsFiles(p));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The imports of repo-relative `file` (its text read from disk unless given). */
export function importsOf(file: string, text = readFileSync(join(ROOT, file), 'utf8')): Import[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest);
  const out: Import[] = [];
  const add = (node: ts.Expression | ts.TypeNode | undefined, typeOnly: boolean) => {
    if (!node) return;
    const lit = ts.isLiteralTypeNode(node) ? node.literal : node;
    if (!ts.isStringLiteralLike(lit)) return; // a computed dynamic import: nothing to check statically
    const spec = lit.text;
    const target = spec.startsWith('.')
      ? relative(ROOT, resolve(dirname(join(ROOT, file)), spec)).replace(/\.js$/, '.ts')
      : undefined;
    out.push({ spec, target, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node.importClause?.isTypeOnly === true);
    else if (ts.isExportDeclaration(node)) add(node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
      add(node.moduleReference.expression, node.isTypeOnly);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      add(node.arguments[0], false);
    else if (ts.isImportTypeNode(node)) add(node.argument, true);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Every .ts file under src/, test/ and bench/ with its imports. */
export function repoImports(): Map<string, Import[]> {
  const files = ['src', 'test', 'bench'].flatMap(tsFiles).sort();
  return new Map(files.map((f) => [f, importsOf(f)]));
}

const NODE_ONLY = new Set([...builtinModules, 'onnxruntime-node', 'sharp']);

/** A Node built-in (`node:fs`, `fs`, `path/posix`…) or a package that only runs in Node. */
export function isNodeOnly(spec: string): boolean {
  return spec.startsWith('node:') || NODE_ONLY.has(spec.split('/')[0]!);
}
