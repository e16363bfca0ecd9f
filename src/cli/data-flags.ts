// The data flags shared by eval, compare, quantize --calib and search (CLI.md "Data").
import type { Command } from 'commander';
import type { Dataset } from '../data/dataset.js';
import { EdgefitError } from '../errors.js';
import { type DataOptions, openDataset } from '../node/data-files.js';
import { loadModel } from '../node/model-io.js';

export function addDataFlags(cmd: Command): Command {
  return cmd
    .option('--labels <file>', 'labels for .npy or IDX data (.npy or IDX file)')
    .option('--scale <x>', 'multiply pixels by this before mean/std (IDX, images; images default 1/255)')
    .option('--mean <list>', 'per-channel mean subtracted after scaling, e.g. 0.2860 or 0.485,0.456,0.406')
    .option('--std <list>', 'per-channel std to divide by, e.g. 0.3530')
    .option('--size <n>', 'image side length for image folders (default: the model input size)')
    .option('--layout <nchw|nhwc>', 'tensor layout for images', 'nchw')
    .option('--limit <n>', 'use only the first N samples');
}

function numberList(text: string | undefined, flag: string): number[] | undefined {
  if (text === undefined) return undefined;
  const parts = String(text).split(',').map(Number);
  if (parts.some((x) => !Number.isFinite(x)))
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `${flag} "${text}" is not a number list`,
      'write it like 0.5 or 0.485,0.456,0.406',
    );
  return parts;
}

export function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `${flag} must be a positive integer, not "${text}"`,
      `for example ${flag} 10`,
    );
  return n;
}

export function dataOptions(o: Record<string, string | undefined>): DataOptions {
  const scale = numberList(o.scale, '--scale');
  const layout = o.layout ?? 'nchw';
  if (layout !== 'nchw' && layout !== 'nhwc')
    throw new EdgefitError('BAD_ARGUMENT', `--layout must be nchw or nhwc, not "${layout}"`);
  const out: DataOptions = { layout };
  if (o.labels) out.labels = o.labels;
  if (scale) out.scale = scale[0]!;
  const mean = numberList(o.mean, '--mean');
  const std = numberList(o.std, '--std');
  if (mean) out.mean = mean;
  if (std) {
    if (std.some((s) => s === 0)) throw new EdgefitError('BAD_ARGUMENT', '--std must not be 0');
    out.std = std;
  }
  const size = positiveInt(o.size, '--size');
  if (size) out.size = size;
  const limit = positiveInt(o.limit, '--limit');
  if (limit) out.limit = limit;
  return out;
}

/** The --calib dataset of a transform command (none when not given or when only printing the recipe). */
export async function calibrationData(
  input: string,
  flags: { calib?: string | undefined; printRecipe?: boolean | undefined },
): Promise<Dataset | undefined> {
  if (!flags.calib || flags.printRecipe) return undefined;
  return openDataset(
    loadModel(input),
    flags.calib,
    dataOptions(flags as unknown as Record<string, string | undefined>),
  );
}
