/**
 * Byte strings: field names and values are JS strings with one byte per
 * character (latin1, the WHATWG "ByteString"), so any byte sequence
 * round-trips and a string's length is its size in bytes.
 */

/** The latin1 string of `buf[start, end)`. */
export function bytesToLatin1(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return "";
  if (n <= 20) {
    // Short strings (most names and values): cheaper than creating a Buffer.
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
    return s;
  }
  return Buffer.from(buf.buffer, buf.byteOffset + start, n).toString("latin1");
}

/** The bytes of a byte string; a character above 0xff is a TypeError (it is not a byte). */
export function latin1ToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch > 0xff) throw notAByte(i);
    out[i] = ch;
  }
  return out;
}

/** The error for a character that is not a byte, at index `i`. */
export function notAByte(i: number): TypeError {
  return new TypeError(`field string has a character above 0xff at index ${i}: field names and values are byte strings (encode text as UTF-8 bytes, one character per byte)`);
}
