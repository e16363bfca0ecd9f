// The real-model corpus, part 2: Silero VAD and openWakeWord, plus what the corpus found in them.
import { describe, expect, it } from 'vitest';
import { realModels } from '../corpus/real-models.js';
import { corpusTests } from './define.js';

const AUDIO = realModels()
  .map((m) => m.id)
  .filter((id) => !id.startsWith('ppocr-'));
corpusTests(AUDIO);

describe('the manifest', () => {
  it('gives every dynamic input at least two shapes and every entry a reason', () => {
    for (const m of realModels()) {
      expect(m.why.length, m.id).toBeGreaterThan(20);
      expect(m.sha256, m.id).toMatch(/^[0-9a-f]{64}$/);
      for (const [name, s] of Object.entries(m.inputs))
        if (s.shapes && s.shapes.length < 2)
          expect(m.why, `${m.id} ${name}: one shape only, the reason must say the batch is fixed`).toMatch(
            /fixed/,
          );
    }
  });
});
