// Progress on stderr, drawn only when stderr is a terminal (never in pipes, logs or CI): a bar with
// the count and an ETA, for every step the core reports through its progress sink.

import type { ProgressSink } from '../node.js';

function eta(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function progressSink(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  return {
    start(label, total) {
      const tty = stream.isTTY === true;
      const t0 = performance.now();
      let last = -1;
      let drawn = false;
      return {
        update(done, note) {
          if (!tty || total <= 0) return;
          const pct = Math.floor((100 * done) / total);
          const elapsed = performance.now() - t0;
          if (pct === last || elapsed < 1000) return; // only steps longer than a second
          last = pct;
          drawn = true;
          const width = 30;
          const fill = Math.round((width * Math.min(done, total)) / total);
          const left = done > 0 ? (elapsed * (total - done)) / done : 0;
          stream.write(
            `\r${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${pct}% ${done}/${total} ETA ${eta(left)}${note ? ` ${note}` : ''}\x1b[K`,
          );
        },
        done() {
          if (drawn) stream.write('\r\x1b[2K');
        },
      };
    },
  };
}
