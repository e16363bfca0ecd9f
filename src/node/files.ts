// What the Node shell adds to the core's commands: files. Paths are checked (the output never
// overlaps anything the input reads, compared as real paths after symlinks), models are loaded with
// their external data, results saved atomically, and both sides measured as the files on disk.

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { ModelSink } from '../commands/transform.js';
import { sideCounts } from '../commands/transform.js';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import type { SideCounts } from '../report/schema.js';
import { fileError, loadModel, saveModelAsync } from './model-io.js';
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
  const read = (f: string) => {
    try {
      return readFileSync(f);
    } catch (e) {
      throw fileError(e, 'read', f, 'check the file is readable');
    }
  };
  const total = files.reduce((s, f) => s + statSync(f).size, 0);
  const bytes =
    total <= 256 * 1024 * 1024 ? new Uint8Array(Buffer.concat(files.map(read))) : new Uint8Array(read(path));
  return { ...transportSizes(bytes), bytes: total };
}

export function fileCounts(model: Model, path: string): SideCounts {
  const s = fileSizes(model, path);
  return sideCounts(model, s.bytes, s.brotliBytes);
}

/** A file as the file system knows it: its real path (symlinks resolved) and, when it exists, dev+ino. */
interface FileId {
  path: string;
  real: string;
  dev?: number;
  ino?: number;
  folder?: boolean;
}

/** The real path of a file that may not exist yet (its folder's real path + its name), and its inode. */
function identify(path: string): FileId {
  const full = resolve(path);
  let real = full;
  try {
    real = realpathSync(full);
  } catch {
    // missing (or a dangling symlink): the folder's real path + the name
    const dir = dirname(full);
    try {
      real = join(realpathSync(dir), basename(full));
    } catch {
      // the folder is missing too: saving will say so
    }
  }
  try {
    const st = statSync(real);
    return { path, real, dev: st.dev, ino: st.ino, folder: st.isDirectory() };
  } catch {
    return { path, real };
  }
}

/** `w` is `r`, or lies inside `r` when `r` is a folder (an image-folder data set). */
function overlaps(w: FileId, r: FileId): boolean {
  if (r.folder) return w.real === r.real || w.real.startsWith(r.real.endsWith(sep) ? r.real : r.real + sep);
  return w.real === r.real || (r.ino !== undefined && w.ino === r.ino && w.dev === r.dev);
}

export interface OutputCheckOptions {
  force?: boolean | undefined;
  externalData?: boolean | undefined;
  /** other files the command reads (recipe, data, labels): the output must not overwrite them either */
  reads?: readonly (string | undefined)[] | undefined;
}

/**
 * The output path of a transform, checked: given, and neither it nor its external-data file (`OUT.data`)
 * is the input, a file the input reads (its external data) or another file the command reads —
 * compared as real paths after symlinks, and by device and inode (hard links) — whatever --force
 * says; and not an existing file without --force.
 */
export function checkOutput(
  input: string,
  model: Model,
  output: string,
  options: OutputCheckOptions,
): string {
  const reads = [
    identify(input),
    ...externalFiles(model, input).map(identify),
    ...(options.reads ?? []).filter((p): p is string => !!p).map(identify),
  ];
  const writes = [output, `${output}.data`].map(identify);
  for (const w of writes)
    for (const r of reads) {
      if (!overlaps(w, r)) continue;
      const what = w.path === output ? `the output ${output}` : `the output's data file ${w.path}`;
      const hard = w.real === r.real ? '' : ' (a hard link to it)';
      throw new EdgefitError(
        'BAD_ARGUMENT',
        r.folder
          ? `${what} is inside ${r.path}, which this command reads`
          : r === reads[0]
            ? `${what} is the input file${hard}`
            : `${what} would overwrite ${r.path}${hard}, which this command reads`,
        'edgefit never overwrites its input or anything else it reads, even with --force; choose another -o',
      );
    }
  if (existsSync(output) && statSync(output).isDirectory())
    throw new EdgefitError('IO', `the output ${output} is a folder`, 'give a file path to -o');
  if (existsSync(output) && !options.force)
    throw new EdgefitError('IO', `${output} already exists`, 'choose another -o or pass --force');
  return output;
}

/** A sink that writes the result to `output` (atomically) and measures the files written. */
export function fileSink(
  input: string,
  model: Model,
  output: string,
  options: { force?: boolean | undefined; externalData?: boolean | undefined },
): ModelSink {
  return {
    input,
    output,
    before: fileCounts(model, input),
    inputSource: input,
    async save(result) {
      const saved = await saveModelAsync(result, output, {
        force: options.force,
        externalData: options.externalData ? true : 'auto',
      });
      // re-read lazily (external data stays on disk) so the files are measured as written
      return { after: fileCounts(loadModel(saved.path), saved.path), source: saved.path };
    },
  };
}
