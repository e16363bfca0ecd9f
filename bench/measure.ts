// Measurement helpers shared by bench/large-model.ts and bench/huge-model.ts.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';

const MB = 1024 * 1024;

/**
 * Peak RSS in KiB. On Linux VmHWM from /proc/self/status: getrusage's maxRSS (what
 * process.resourceUsage().maxRSS returns) survives execve, so a child spawned by a big parent reports
 * the parent's RSS at fork time as its own peak. Elsewhere maxRSS is all there is.
 */
export function peakRss(): { kib: number; source: string } {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return { kib: Number(m[1]), source: 'VmHWM' };
  } catch {
    // not Linux
  }
  return { kib: process.resourceUsage().maxRSS, source: 'maxRSS' };
}

/** byte-for-byte comparison of two (possibly huge) files, in 32 MiB pieces */
export function filesIdentical(a: string, b: string): boolean {
  if (statSync(a).size !== statSync(b).size) return false;
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  const ba = Buffer.allocUnsafe(32 * MB);
  const bb = Buffer.allocUnsafe(32 * MB);
  try {
    let pos = 0;
    for (;;) {
      const na = readSync(fa, ba, 0, ba.length, pos);
      const nb = readSync(fb, bb, 0, bb.length, pos);
      if (na !== nb) return false;
      if (na === 0) return true;
      if (ba.subarray(0, na).compare(bb.subarray(0, nb)) !== 0) return false;
      pos += na;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}
