// A few DOM helpers so the app needs no framework: h() builds an element with attributes and
// children, and the formatters match the report's (bytes in KiB/MiB, counts with separators).

type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children)
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** The children worth appending (replaceChildren would write null as text). */
export const present = (...c: (Node | string | null | undefined | false)[]): (Node | string)[] =>
  c.filter((x): x is Node | string => x !== null && x !== undefined && x !== false);

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

export function fmtBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function fmtCount(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export const fmtPct = (x: number | undefined) => (x === undefined ? '–' : `${(100 * x).toFixed(2)}%`);

/** Offer bytes as a file download (a blob URL on a link the user, or a test, clicks). */
export function downloadLink(id: string, name: string, data: BlobPart, type: string): HTMLAnchorElement {
  const a = $<HTMLAnchorElement>(id);
  if (a.href.startsWith('blob:')) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  a.hidden = false;
  return a;
}
