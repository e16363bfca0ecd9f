// Minimal protobuf wire helpers for framing large length-delimited fields by hand. The encoder uses
// them to append big raw_data fields as separate chunks instead of copying them into one buffer.

/** bytes a varint of `n` takes (n < 2^53) */
export function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** tag + length prefix of a length-delimited field (wire type 2) */
export function lengthDelimitedHeader(fieldNumber: number, length: number): Uint8Array {
  const out: number[] = [];
  let tag = fieldNumber * 8 + 2;
  while (tag >= 128) {
    out.push((tag % 128) | 128);
    tag = Math.floor(tag / 128);
  }
  out.push(tag);
  let n = length;
  while (n >= 128) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

export function totalLength(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(totalLength(chunks));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** protobuf's hard limit for one message */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;
