// Preloaded into a child process (node --import): at exit, write its peak RSS in KiB (VmHWM, this
// process only) to $EDGEFIT_RSS_FILE. bench/hostile.ts and the hostile tests read it.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.EDGEFIT_RSS_FILE;
if (file)
  process.on('exit', () => {
    let kib = process.resourceUsage().maxRSS;
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) kib = Number(m[1]);
    } catch {
      // not Linux: maxRSS
    }
    try {
      writeFileSync(file, String(kib));
    } catch {
      // an unwritable folder: no figure
    }
  });
