// Every quantization mode on the ONNX backend test corpus: declining is fine, crashing is not, and
// whatever a mode writes must load and run in ONNX Runtime (npx tsx npx tsx bench/quantize-corpus.ts prints details).
import { describe, expect, it } from 'vitest';
import { listCorpus } from '../corpus/backend.js';
import { quantizeCorpus } from '../corpus/quantize-corpus.js';

describe.skipIf(listCorpus().length === 0)('quantization modes on the backend corpus', () => {
  it('never crash and always write runnable models', async () => {
    const { models, counts, failures } = await quantizeCorpus();
    expect(failures).toEqual([]);
    expect(models).toBeGreaterThan(900);
    for (const [, k] of counts) {
      expect(k.crashed).toBe(0);
      expect(k.badOutput).toBe(0);
    }
    expect(counts.get('quantize-fp16')!.changed).toBeGreaterThan(700);
    expect(counts.get('quantize-static-int8')!.changed).toBeGreaterThan(40);
  });
});
