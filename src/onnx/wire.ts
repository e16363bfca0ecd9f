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

/**
 * The number of nodes in a serialized ModelProto's graph and every subgraph (If/Loop/Scan bodies),
 * read from the wire without decoding anything else (about 0.25 s per million nodes), so a model too
 * big to handle can be refused before it is decoded. Undefined when the bytes are not a well-formed
 * message (the decoder then says what is wrong).
 */
export function countModelNodes(bytes: Uint8Array): number | undefined {
  let p = 0;
  let end = bytes.length;
  let nodes = 0;
  const varint = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (p >= end) throw new RangeError('truncated varint');
      const b = bytes[p++]!;
      v += (b & 127) * scale;
      if (b < 128) return v;
      scale *= 128;
      if (scale > 2 ** 63) throw new RangeError('varint too long');
    }
  };
  // walk the fields of the message in [p, end); `visit` gets each length-delimited field with p at
  // its start and end at its end, and must leave p where it found it or at the field's end
  const fields = (visit: (field: number, len: number) => void): void => {
    while (p < end) {
      const tag = varint();
      const wire = tag & 7;
      const field = tag >>> 3;
      if (wire === 0) varint();
      else if (wire === 1) p += 8;
      else if (wire === 5) p += 4;
      else if (wire === 2) {
        const len = varint();
        const stop = p + len;
        if (stop > end) throw new RangeError('field past the end');
        visit(field, len);
        p = stop;
      } else throw new RangeError(`wire type ${wire}`);
      if (p > end) throw new RangeError('field past the end');
    }
  };
  const inside = (len: number, visit: (field: number, len: number) => void): void => {
    const outer = end;
    end = p + len;
    fields(visit);
    end = outer;
  };
  const attribute = (field: number, len: number): void => {
    if (field === 6 || field === 11) inside(len, graph); // AttributeProto.g / .graphs
  };
  const node = (field: number, len: number): void => {
    if (field === 5) inside(len, attribute); // NodeProto.attribute
  };
  const graph = (field: number, len: number): void => {
    if (field !== 1) return; // GraphProto.node
    nodes++;
    inside(len, node);
  };
  try {
    fields((field, len) => {
      if (field === 7) inside(len, graph); // ModelProto.graph
    });
    return nodes;
  } catch {
    return undefined;
  }
}
