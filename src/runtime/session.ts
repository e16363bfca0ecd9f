// Session lifetime helpers over any Runtime: open, use, always release.

import type { HostTensor } from '../ir/host-tensor.js';
import type { Runtime, Session, SessionOptions } from './types.js';

/** Open a session of `model`, hand it to `use`, and release it whatever happens. */
export async function withSession<T>(
  runtime: Runtime,
  model: Uint8Array | string,
  options: SessionOptions,
  use: (session: Session) => Promise<T>,
): Promise<T> {
  const session = await runtime.createSession(model, options);
  try {
    return await use(session);
  } finally {
    await session.release();
  }
}

/** One session of `model` (one thread unless `options` say otherwise), run on each feed in turn. */
export function runEach(
  runtime: Runtime,
  model: Uint8Array | string,
  feedsList: readonly Record<string, HostTensor>[],
  options: SessionOptions = {},
): Promise<Record<string, HostTensor>[]> {
  return withSession(runtime, model, { threads: 1, ...options }, async (session) => {
    const out: Record<string, HostTensor>[] = [];
    for (const feeds of feedsList) out.push(await session.run(feeds));
    return out;
  });
}
