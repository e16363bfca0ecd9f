// Every command on the given corpus entries as one test each (test/corpus/real-models-matrix.ts has
// the rules); the corpus is split over two files so vitest runs them on both workers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modelPath, realModels } from '../corpus/real-models.js';
import { COMMANDS, runCase } from '../corpus/real-models-matrix.js';

export function corpusTests(ids: string[]): void {
  const entries = realModels().filter((m) => ids.includes(m.id));
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-real-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const entry of entries)
    describe(`${entry.id} (${entry.package}@${entry.version} ${entry.path})`, () => {
      it('is fetched and matches its sha256', () => {
        expect(modelPath(entry)).toMatch(/\.onnx$/);
      }, 300_000);
      for (const command of COMMANDS)
        it(command.name, async () => {
          const r = await runCase(entry, command, dir);
          expect(r.problems, `${r.error ?? ''} ${r.warnings.join(' / ')}`).toEqual([]);
        });
    });
}
