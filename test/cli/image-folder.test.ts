// An image folder (one subfolder per class) gives the same accuracy as the same images from IDX.
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const FM = '/usr/share/datasets/fashion-mnist';

describe.skipIf(!existsSync(FM))('image folders', () => {
  it('PNG files in class folders evaluate like the IDX images they came from', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-images-'));
    const img = gunzipSync(readFileSync(`${FM}/t10k-images-idx3-ubyte.gz`));
    const lab = gunzipSync(readFileSync(`${FM}/t10k-labels-idx1-ubyte.gz`));
    const n = 200;
    for (let c = 0; c < 10; c++) mkdirSync(join(dir, `class${c}`));
    for (let i = 0; i < n; i++) {
      const pixels = img.subarray(16 + i * 784, 16 + (i + 1) * 784);
      await sharp(Buffer.from(pixels), { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toFile(join(dir, `class${lab[8 + i]}`, `${String(i).padStart(4, '0')}.png`));
    }
    const flags = ['--mean', '0.2860', '--std', '0.3530', '--json'];
    const folder = JSON.parse(
      runCli(['eval', 'examples/fashion-mnist.onnx', '--data', dir, ...flags]).stdout,
    );
    const idx = JSON.parse(
      runCli([
        'eval',
        'examples/fashion-mnist.onnx',
        '--data',
        `${FM}/t10k-images-idx3-ubyte.gz`,
        '--labels',
        `${FM}/t10k-labels-idx1-ubyte.gz`,
        '--scale',
        String(1 / 255),
        '--limit',
        String(n),
        ...flags,
      ]).stdout,
    );
    expect(folder.samples).toBe(n);
    expect(folder.top1).toBe(idx.top1);
    expect(folder.top1).toBeGreaterThan(0.85);
  });
});
