// What the Node shell adds to the core's commands: files. Paths are checked (the output never
// overlaps anything the input reads, compared as real paths after symlinks), models are loaded with
// their external data, results saved atomically, and both sides measured as the files on disk.

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ModelSink } from '../commands/transform.js';
import { sideCounts } from '../commands/transform.js';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import type { SideCounts } from '../report/schema.js';
import { loadModel, saveModel } from './model-io.js';
import { type SizeResult, transportSizes } from './sizes.js';

/** The external data files a model refers to, as paths beside it. */
export function externalFiles(model: Model, path: string): string[] {
  const out = new Set<string>();
  for (const g of model.graph.allGraphs())
    for (const v of g.initializers) {
      const loc = v.initializer!.external?.location;
      if (loc) out.add(join(dirname(resolve(path)), loc));
    }
  return [...out];
}

/** File, gzip and brotli bytes of a model file plus its external data (brotli up to 256 MiB). */
export function fileSizes(model: Model, path: string): SizeResult {
  const files = [path, ...externalFiles(model, path)];
  const total = files.reduce((s, f) => s + statSync(f).size, 0);
  const bytes =
    total <= 256 * 1024 * 1024
      ? new Uint8Array(Buffer.concat(files.map((f) => readFileSync(f))))
      : new Uint8Array(readFileSync(path));
  return { ...transportSizes(bytes), bytes: total };
}

export function fileCounts(model: Model, path: string): SideCounts {
  const s = fileSizes(model, path);
  return sideCounts(model, s.bytes, s.brotliBytes);
}

/** The real path of a file that may not exist yet (its folder's real path + its name). */
function realTarget(path: string): string {
  const full = resolve(path);
  if (existsSync(full)) return realpathSync(full);
  const dir = dirname(full);
  return join(existsSync(dir) ? realpathSync(dir) : dir, basename(full));
}

/**
 * The output path of a transform, checked: given, not the input nor any file the input reads
 * (its external data), and not an existing file without --force.
 */
export function checkOutput(
  input: string,
  model: Model,
  output: string,
  options: { force?: boolean; externalData?: boolean },
): string {
  const reads = [input, ...externalFiles(model, input)].map(realTarget);
  const writes = [output, `${output}.data`].map(realTarget);
  for (const w of writes)
    if (reads.includes(w))
      throw new EdgefitError(
        'BAD_ARGUMENT',
        w === reads[0]
          ? `the output path ${output} is the input file`
          : `the output ${output} would overwrite ${w}, which the input reads`,
        'edgefit never overwrites its input; choose another -o',
      );
  if (existsSync(output) && !options.force)
    throw new EdgefitError('IO', `${output} already exists`, 'choose another -o or pass --force');
  return output;
}

/** A sink that writes the result to `output` (atomically) and measures the files written. */
export function fileSink(
  input: string,
  model: Model,
  output: string,
  options: { force?: boolean; externalData?: boolean },
): ModelSink {
  return {
    input,
    output,
    before: fileCounts(model, input),
    inputSource: input,
    async save(result) {
      const saved = saveModel(result, output, {
        force: options.force,
        externalData: options.externalData ? true : 'auto',
      });
      // re-read lazily (external data stays on disk) so the files are measured as written
      return { after: fileCounts(loadModel(saved.path), saved.path), source: saved.path };
    },
  };
}
