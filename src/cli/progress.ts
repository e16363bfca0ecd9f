// A progress bar on stderr, drawn only when stderr is a terminal (never in pipes, logs or CI).

export function progressBar(label: string): ((done: number, total: number) => void) & { finish(): void } {
  const tty = process.stderr.isTTY === true;
  let last = -1;
  const update = (done: number, total: number) => {
    if (!tty || total <= 0) return;
    const pct = Math.floor((100 * done) / total);
    if (pct === last) return;
    last = pct;
    const width = 30;
    const fill = Math.round((width * done) / total);
    process.stderr.write(
      `\r${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${pct}% ${done}/${total}`,
    );
  };
  return Object.assign(update, {
    finish() {
      if (tty && last >= 0) process.stderr.write('\r\x1b[2K');
    },
  });
}
