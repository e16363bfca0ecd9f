// Text for the HTML report: escaping and number formats. Pure; every figure the page shows goes
// through one of these, so the page and its tooltips agree.

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for HTML/SVG element content and attribute values. */
export function esc(s: string | number | boolean): string {
  return String(s).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A number as JSON may carry it: `Infinity` becomes the string "Infinity" in edgefit's JSON. */
export type JsonNumber = number | string | null | undefined;

function num(x: JsonNumber): number {
  if (typeof x === 'number') return x;
  if (x === 'Infinity') return Number.POSITIVE_INFINITY;
  if (x === '-Infinity') return Number.NEGATIVE_INFINITY;
  return Number.NaN;
}

/** `digits` significant digits, without exponent notation for everyday magnitudes. */
export function fmtSig(x: JsonNumber, digits = 3): string {
  const v = num(x);
  if (Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 10 ** digits) return Math.round(v).toLocaleString('en-US');
  if (a < 1e-4) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

export function fmtBytes(x: JsonNumber): string {
  const n = num(x);
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a < 1024) return `${n} B`;
  if (a < 1024 ** 2) return `${fmtSig(n / 1024)} KiB`;
  if (a < 1024 ** 3) return `${fmtSig(n / 1024 ** 2)} MiB`;
  return `${fmtSig(n / 1024 ** 3)} GiB`;
}

export function fmtCount(x: JsonNumber): string {
  const n = num(x);
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a < 1e3) return fmtSig(n);
  if (a < 1e6) return `${fmtSig(n / 1e3)}K`;
  if (a < 1e9) return `${fmtSig(n / 1e6)}M`;
  return `${fmtSig(n / 1e9)}G`;
}

/** A fraction as a percentage: 0.9321 → "93.21%". */
export function fmtPct(x: JsonNumber, decimals = 2): string {
  const v = num(x);
  return Number.isFinite(v) ? `${(100 * v).toFixed(decimals)}%` : '–';
}

/** Percentage points, signed when asked: 0.25 → "+0.25 pt". */
export function fmtPt(x: JsonNumber, signed = false): string {
  const v = num(x);
  if (!Number.isFinite(v)) return '–';
  const s = v.toFixed(2);
  return `${signed && v > 0 ? '+' : ''}${s === '-0.00' ? '0.00' : s} pt`;
}

export function fmtMs(x: JsonNumber): string {
  const v = num(x);
  return Number.isFinite(v) ? `${fmtSig(v, 3)} ms` : '–';
}

/** How many times smaller `after` is than `before`: "31.4×". */
export function fmtRatio(before: JsonNumber, after: JsonNumber): string {
  const b = num(before);
  const a = num(after);
  return b > 0 && a > 0 ? `${fmtSig(b / a, 3)}×` : '–';
}

/** The binary unit byte figures up to `max` read best in (for round axis ticks). */
export function byteUnit(max: number): number {
  return max >= 4 * 1024 ** 3 ? 1024 ** 3 : max >= 4 * 1024 ** 2 ? 1024 ** 2 : max >= 4 * 1024 ? 1024 : 1;
}

/** "3.2× smaller", "1.4× larger" or "unchanged" (within 0.5%). */
export function fmtShrink(before: JsonNumber, after: JsonNumber): string {
  const b = num(before);
  const a = num(after);
  if (!(b > 0 && a > 0)) return '–';
  if (Math.abs(a / b - 1) < 0.005) return 'unchanged';
  return a < b ? `${fmtRatio(b, a)} smaller` : `${fmtRatio(a, b)} larger`;
}
