// Issue 9's hostile cases through the real CLI (test/helpers/hostile-cases.ts): each is exit 2 with one
// line (or a correct result), every file that was there before is unchanged by hash, nothing is left
// behind, and the bombs stay under 1 GB of RSS.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { HOSTILE_CASES, hostileRoot, runCase } from '../helpers/hostile-cases.js';

const root = hostileRoot();
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('hostile input through the CLI', () => {
  for (const c of HOSTILE_CASES)
    it(c.id, async () => {
      const r = await runCase(c, root);
      if (r.skipped) return;
      expect(r.problems, `${c.id}\nstderr: ${r.stderr}`).toEqual([]);
      expect(r.inputUnchanged).toBe(true);
      expect(r.leftBehind).toEqual([]);
      if (c.bomb) expect(r.peakRssMb).toBeLessThan(1024);
    });
});
