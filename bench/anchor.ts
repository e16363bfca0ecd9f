// The Python anchors of bench/kmeans.ts and bench/svd.ts: Debian's /usr/bin/python3 (scikit-learn 1.2.1,
// numpy 1.24) run as a child process with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, for the anchor
// only (the env notes: they slow a current numpy; tests never unset them). A script starts with PRELUDE:
// `timed(f)` runs f once and returns (result, wall seconds, CPU seconds of all threads), `pools()` names
// the thread pools numpy and scikit-learn use; the script prints one JSON line last.

import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

export const PRELUDE = `
import json, sys, time
import numpy as np
def timed(f):
    t = time.perf_counter()
    c = time.process_time()
    out = f()
    return out, time.perf_counter() - t, time.process_time() - c
def pools():
    try:
        from threadpoolctl import threadpool_info
        return [(p["internal_api"], p["num_threads"]) for p in threadpool_info()]
    except Exception:
        return []
`;

/** Run PRELUDE + script with args; the JSON of the last line it prints. */
export function runAnchor(script: string, args: string[]): unknown {
  const r = spawnSync(PYTHON, ['-c', PRELUDE + script, ...args], {
    encoding: 'utf8',
    env: Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k !== 'OPENBLAS_CORETYPE' && k !== 'OPENBLAS_L2_SIZE'),
    ),
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`${PYTHON} failed (status ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}
