// finetune --checkpoint DIR / --resume: a run killed in its second epoch and resumed from the first
// epoch's checkpoint writes the same bytes and the same curve as a run never interrupted (one thread,
// one seed); a checkpoint of another run, or none, is refused in one line.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { finetune } from '../../src/node.js';

const MODEL = 'test/fixtures/models/lenet-300-100.onnx';
const TRAIN = 'test/fixtures/models/fmnist-calib.npz'; // 512 labelled training images
const dir = mkdtempSync(join(tmpdir(), 'edgefit-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// 8 steps per epoch, 24 in all; AdamW (its two moments are part of the state)
const OPTS = { data: TRAIN, val: TRAIN, epochs: 3, batchSize: 64, lr: 1e-3, seed: 5, warmup: 4 };

/** Hooks whose progress throws at step `at`, as a kill would stop the run there. */
const killAt = (at: number) => ({
  progress: {
    start: () => ({
      update(done: number) {
        if (done === at) throw new Error(`killed at step ${at}`);
      },
      done() {},
    }),
  },
});

describe('finetune --checkpoint / --resume', () => {
  it('an interrupted and resumed run equals an uninterrupted one, bitwise', async () => {
    const [a, b] = [join(dir, 'a.onnx'), join(dir, 'b.onnx')];
    const [ca, cb] = [join(dir, 'ckpt-a'), join(dir, 'ckpt-b')];
    const whole = await finetune(MODEL, { ...OPTS, output: a, checkpoint: ca });
    await expect(finetune(MODEL, { ...OPTS, output: b, checkpoint: cb }, killAt(13))).rejects.toThrow(
      'killed at step 13',
    );
    expect(existsSync(b)).toBe(false);
    expect(readdirSync(cb)).toEqual(['checkpoint.npz']); // no temp file left
    const resumed = await finetune(MODEL, { ...OPTS, output: b, checkpoint: cb, resume: true });
    const t = resumed.training as { steps: number; resumedAt: number };
    expect(t).toMatchObject({ steps: 24, resumedAt: 8 });
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
    expect(resumed.curve).toEqual(whole.curve);
    expect(resumed.accuracy).toEqual(whole.accuracy);
    // the uninterrupted run's last checkpoint is at its end: resuming it trains nothing more
    const again = await finetune(MODEL, {
      ...OPTS,
      output: join(dir, 'c.onnx'),
      checkpoint: ca,
      resume: true,
    });
    expect((again.training as { resumedAt: number }).resumedAt).toBe(24);
    expect(readFileSync(join(dir, 'c.onnx')).equals(readFileSync(a))).toBe(true);
  });

  it('refuses a checkpoint of another run, a folder without one, and --resume alone', async () => {
    const output = join(dir, 'x.onnx');
    const ck = join(dir, 'ckpt-other');
    await finetune(MODEL, { ...OPTS, output, checkpoint: ck, steps: 8, epochs: undefined });
    await expect(
      finetune(MODEL, { ...OPTS, output, force: true, checkpoint: ck, resume: true, lr: 2e-3 }),
    ).rejects.toThrow(/^--resume: the checkpoint in .* is of another run/);
    await expect(
      finetune(MODEL, { ...OPTS, output, force: true, checkpoint: join(dir, 'empty'), resume: true }),
    ).rejects.toThrow(/^--resume: .*empty holds no checkpoint/);
    await expect(finetune(MODEL, { ...OPTS, output, force: true, resume: true })).rejects.toThrow(
      /^--resume needs --checkpoint DIR/,
    );
  });
});
