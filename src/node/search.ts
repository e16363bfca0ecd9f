// edgefit/node's search: data from files, a folder cache of evaluations, the chosen model written
// atomically (plus its recipe beside it, reusable with `optimize --recipe`), the report returned.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseOptions } from '../commands/schema.js';
import { type SearchOptions, searchCore, searchOptions } from '../commands/search.js';
import { datasetView, holdoutSize } from '../data/dataset.js';
import { encodeModel } from '../ir/serialize.js';
import { assertValid } from '../ir/verify.js';
import type { SearchReport } from '../report/schema.js';
import { nodeRuntime } from '../runtime/node.js';
import type { EvalCache } from '../search/evaluator.js';
import type { Hooks } from './commands.js';
import { openDataset } from './data-files.js';
import { PoolEvaluator } from './eval-pool.js';
import { checkOutput } from './files.js';
import { loadModel, saveModel } from './model-io.js';
import { writeReportHtml } from './report.js';
import { transportSizes } from './sizes.js';

/** One small JSON file per evaluation, named by its content hash. */
export function folderCache(dir: string): EvalCache {
  return {
    async get(key) {
      const f = join(dir, `${key}.json`);
      return existsSync(f) ? readFileSync(f, 'utf8') : undefined;
    },
    async set(key, value) {
      mkdirSync(dir, { recursive: true });
      const f = join(dir, `${key}.json`);
      writeFileSync(`${f}.tmp-${process.pid}`, value);
      renameSync(`${f}.tmp-${process.pid}`, f);
    },
  };
}

export async function search(model: string, options: SearchOptions, hooks?: Hooks): Promise<SearchReport> {
  const o = parseOptions(searchOptions, options, 'search');
  const m = loadModel(model);
  assertValid(m);
  checkOutput(model, m, o.output, { ...o, reads: [o.data, o.calib, o.labels] });
  const dopts = {
    layout: o.layout,
    ...(o.labels ? { labels: o.labels } : {}),
    ...(o.scale !== undefined ? { scale: o.scale } : {}),
    ...(o.mean ? { mean: o.mean } : {}),
    ...(o.std ? { std: o.std } : {}),
    ...(o.size ? { size: o.size } : {}),
    ...(o.limit ? { limit: o.limit } : {}),
  };
  const opened = await openDataset(m, o.data, dopts);
  // without --calib, calibration samples are held out of --data (data/dataset.ts holdoutSize)
  const holdout = o.calib ? 0 : holdoutSize(opened.size);
  const evalData = holdout ? datasetView(opened, holdout, opened.size) : opened;
  const calibration = o.calib
    ? await openDataset(m, o.calib, dopts)
    : holdout
      ? datasetView(opened, 0, holdout)
      : opened;
  // the input as one byte string (external data inlined): the cache key and the agreement reference
  const modelBytes = encodeModel(m);
  const cache = folderCache(o.cache);
  const { report, model: chosen } = await searchCore(m, modelBytes, o, {
    runtime: nodeRuntime,
    ...hooks,
    sizer: transportSizes,
    cache,
    evalData,
    calibration,
    name: model,
    parallel: (id, agreement) =>
      new PoolEvaluator(
        id,
        { modelBytes, data: o.data, calib: o.calib, holdout, dataOptions: dopts, agreement, seed: o.seed },
        cache,
        o.workers,
      ),
  });
  const saved = saveModel(chosen, o.output, { force: o.force });
  const recipePath = `${o.output}.recipe.yaml`;
  // beside the model, atomically like it (temp file, then rename)
  writeFileSync(`${recipePath}.tmp-${process.pid}`, stringify(report.chosen.recipe));
  renameSync(`${recipePath}.tmp-${process.pid}`, recipePath);
  report.output = saved.path;
  report.chosen.metrics.bytes = saved.bytes + (saved.dataBytes ?? 0);
  if (o.report) writeReportHtml(report, o.report, { force: o.force });
  return report;
}
