import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('edgefit inspect on the bundled model', () => {
  it('totals equal the hand-computed figures', () => {
    const r = runCli([
      'inspect',
      'examples/fashion-mnist.onnx',
      '--json',
      '--budget',
      'flash=256KB,ram=512KB',
    ]);
    // weights (299 KiB) do not fit 256 KB of flash: exit 3 (docs/CLI.md), so CI can gate on it
    expect(r.code, r.stderr).toBe(3);
    const j = JSON.parse(r.stdout);
    expect(j.fits).toBe(false);
    // MACs per conv = H_out*W_out*C_out*(C_in/group)*K*K:
    //   1->32 3x3 @28: 225,792   32->32 3x3 @28: 7,225,344   dw32 @14: 56,448   pw 32->32 @14: 200,704
    //   32->64 3x3 s2 @7: 903,168   64->64 3x3 @7: 1,806,336   dw64 @7: 28,224   pw 64->128 @7: 401,408
    //   Gemm 128->10: 1,280          total 10,848,704
    expect(j.macs).toBe(10_848_704);
    // params = weights + biases (BatchNorm folded into the convs by the exporter):
    //   320 + 9,248 + 320 + 1,056 + 18,496 + 36,928 + 640 + 8,320 + 1,290 = 76,618
    expect(j.params).toBe(76_618);
    expect(j.weightBytes).toBe(76_618 * 4);
    expect(j.weightBytesByDtype).toEqual({ FLOAT: 76_618 * 4 });
    expect(j.nodes).toBe(21);
    expect(j.opTypes).toEqual({
      Conv: 8,
      Relu: 8,
      MaxPool: 1,
      Add: 1,
      GlobalAveragePool: 1,
      Flatten: 1,
      Gemm: 1,
    });
    expect(j.opsets).toEqual({ 'ai.onnx': 13 });
    expect(j.inputs).toEqual([{ name: 'input', dtype: 'float', shape: ['batch', 1, 28, 28] }]);
    // peak: the first conv's output and its Relu output, both [1,32,28,28] float = 2 * 100,352 bytes
    expect(j.peakActivationBytes).toBe(2 * 32 * 28 * 28 * 4);
    expect(j.layers[0]).toMatchObject({ op: 'Conv', params: 9248, macs: 7_225_344 });
    expect(j.budget.flash).toEqual({ limit: 262144, needed: 306472, fits: false });
    expect(j.budget.ram.fits).toBe(true);
  });

  it('--shape sets the batch: MACs and activations scale, params do not', () => {
    const j = JSON.parse(
      runCli(['inspect', 'examples/fashion-mnist.onnx', '--json', '--shape', 'input=8,1,28,28']).stdout,
    );
    expect(j.macs).toBe(8 * 10_848_704);
    expect(j.params).toBe(76_618);
    expect(j.peakActivationBytes).toBe(8 * 2 * 32 * 28 * 28 * 4);
  });

  it('prints a readable table', () => {
    const r = runCli(['inspect', 'examples/fashion-mnist.onnx']);
    expect(r.stdout).toMatch(/MACs\s+10\.85M \(10848704\)/);
    expect(r.stdout).toMatch(/input\s+input: float \[batch,1,28,28\]/);
  });
});
