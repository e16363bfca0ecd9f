// An image folder as data, in the worker (docs/CLI.md "Data", as the CLI reads one): one subfolder per
// class, classes numbered in sorted order; each image decoded with createImageBitmap, resized to the
// model's input side with "cover" (centre crop), grey or RGB as the input's channels, then
// x = (pixel / 255 - mean) / std. The resampling is the browser's, not sharp's: the same folder gives
// close, not bit-identical, tensors to the CLI's. Which input is fed, at what side, and the data set
// itself come from the core's src/data/images.ts, as for the CLI.

import { type Dataset, EdgefitError, imageDataset, imageInput, type Model } from '../../src/index.js';

const IMAGE = /\.(jpe?g|png|webp|bmp|gif)$/i;

export interface ImageFile {
  file: Blob;
  /** the path below the picked folder: root/class/name.png */
  path: string;
}

export async function imageFolder(
  model: Model,
  files: ImageFile[],
  o: { mean: number[]; std: number[] },
): Promise<Dataset> {
  const items = files
    .map((f) => ({ ...f, parts: f.path.split('/') }))
    .filter((f) => f.parts.length >= 3 && IMAGE.test(f.path))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const classes = [...new Set(items.map((f) => f.parts.at(-2)!))].sort();
  if (items.length === 0)
    throw new EdgefitError(
      'BAD_DATA',
      'the folder holds no images in class subfolders',
      'pick FOLDER with FOLDER/<class>/*.png|jpg',
    );
  const { input: v, channels, size: side } = imageInput(model);
  const per = channels * side * side;
  const data = new Float32Array(items.length * per);
  const canvas = new OffscreenCanvas(side, side);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  for (let i = 0; i < items.length; i++) {
    let bmp: ImageBitmap;
    try {
      bmp = await createImageBitmap(items[i]!.file);
    } catch {
      throw new EdgefitError(
        'BAD_DATA',
        `${items[i]!.path} cannot be decoded as an image`,
        'remove or replace the file',
      );
    }
    const s = Math.min(bmp.width, bmp.height);
    ctx.drawImage(bmp, (bmp.width - s) / 2, (bmp.height - s) / 2, s, s, 0, 0, side, side);
    bmp.close();
    const px = ctx.getImageData(0, 0, side, side).data;
    for (let p = 0; p < side * side; p++)
      for (let c = 0; c < channels; c++) {
        const raw =
          channels === 1
            ? 0.2126 * px[4 * p]! + 0.7152 * px[4 * p + 1]! + 0.0722 * px[4 * p + 2]!
            : px[4 * p + c]!;
        data[i * per + c * side * side + p] =
          (raw / 255 - o.mean[c % o.mean.length]!) / o.std[c % o.std.length]!;
      }
  }
  const labels = Int32Array.from(items, (f) => classes.indexOf(f.parts.at(-2)!));
  const dims = [items.length, channels, side, side];
  return imageDataset(model, v, dims, data, labels, `${items[0]!.parts[0]}/ (${classes.length} classes)`);
}
