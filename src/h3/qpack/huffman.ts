/**
 * The HPACK Huffman code (RFC 7541 Appendix B), which QPACK string literals
 * use unmodified (RFC 9204 section 4.1.2).
 *
 * Decoding is a byte-at-a-time state machine: a state is an internal node
 * of the code tree (256 of them), and a 256x256 table built once, on first
 * use, gives for each state and input byte the next state, the 0 to 2
 * symbols completed, whether EOS was hit, and whether the bits pending in
 * the next state are acceptable padding. One table read per input byte.
 */
import { H3Error, H3ErrorCode } from "../errors.js";
import { bytesToLatin1, notAByte } from "./latin1.js";

/**
 * RFC 7541 Appendix B: for symbols 0..256 (256 is EOS), the code as an
 * LSB-aligned integer, then its length in bits.
 */
// prettier-ignore
const CODE_TABLE: readonly number[] = [
  0x1ff8, 13, 0x7fffd8, 23, 0xfffffe2, 28, 0xfffffe3, 28, 0xfffffe4, 28, 0xfffffe5, 28, 0xfffffe6, 28, 0xfffffe7, 28, // 0-7
  0xfffffe8, 28, 0xffffea, 24, 0x3ffffffc, 30, 0xfffffe9, 28, 0xfffffea, 28, 0x3ffffffd, 30, 0xfffffeb, 28, 0xfffffec, 28, // 8-15
  0xfffffed, 28, 0xfffffee, 28, 0xfffffef, 28, 0xffffff0, 28, 0xffffff1, 28, 0xffffff2, 28, 0x3ffffffe, 30, 0xffffff3, 28, // 16-23
  0xffffff4, 28, 0xffffff5, 28, 0xffffff6, 28, 0xffffff7, 28, 0xffffff8, 28, 0xffffff9, 28, 0xffffffa, 28, 0xffffffb, 28, // 24-31
  0x14, 6, 0x3f8, 10, 0x3f9, 10, 0xffa, 12, 0x1ff9, 13, 0x15, 6, 0xf8, 8, 0x7fa, 11, // 32-39
  0x3fa, 10, 0x3fb, 10, 0xf9, 8, 0x7fb, 11, 0xfa, 8, 0x16, 6, 0x17, 6, 0x18, 6, // 40-47
  0x0, 5, 0x1, 5, 0x2, 5, 0x19, 6, 0x1a, 6, 0x1b, 6, 0x1c, 6, 0x1d, 6, // 48-55
  0x1e, 6, 0x1f, 6, 0x5c, 7, 0xfb, 8, 0x7ffc, 15, 0x20, 6, 0xffb, 12, 0x3fc, 10, // 56-63
  0x1ffa, 13, 0x21, 6, 0x5d, 7, 0x5e, 7, 0x5f, 7, 0x60, 7, 0x61, 7, 0x62, 7, // 64-71
  0x63, 7, 0x64, 7, 0x65, 7, 0x66, 7, 0x67, 7, 0x68, 7, 0x69, 7, 0x6a, 7, // 72-79
  0x6b, 7, 0x6c, 7, 0x6d, 7, 0x6e, 7, 0x6f, 7, 0x70, 7, 0x71, 7, 0x72, 7, // 80-87
  0xfc, 8, 0x73, 7, 0xfd, 8, 0x1ffb, 13, 0x7fff0, 19, 0x1ffc, 13, 0x3ffc, 14, 0x22, 6, // 88-95
  0x7ffd, 15, 0x3, 5, 0x23, 6, 0x4, 5, 0x24, 6, 0x5, 5, 0x25, 6, 0x26, 6, // 96-103
  0x27, 6, 0x6, 5, 0x74, 7, 0x75, 7, 0x28, 6, 0x29, 6, 0x2a, 6, 0x7, 5, // 104-111
  0x2b, 6, 0x76, 7, 0x2c, 6, 0x8, 5, 0x9, 5, 0x2d, 6, 0x77, 7, 0x78, 7, // 112-119
  0x79, 7, 0x7a, 7, 0x7b, 7, 0x7ffe, 15, 0x7fc, 11, 0x3ffd, 14, 0x1ffd, 13, 0xffffffc, 28, // 120-127
  0xfffe6, 20, 0x3fffd2, 22, 0xfffe7, 20, 0xfffe8, 20, 0x3fffd3, 22, 0x3fffd4, 22, 0x3fffd5, 22, 0x7fffd9, 23, // 128-135
  0x3fffd6, 22, 0x7fffda, 23, 0x7fffdb, 23, 0x7fffdc, 23, 0x7fffdd, 23, 0x7fffde, 23, 0xffffeb, 24, 0x7fffdf, 23, // 136-143
  0xffffec, 24, 0xffffed, 24, 0x3fffd7, 22, 0x7fffe0, 23, 0xffffee, 24, 0x7fffe1, 23, 0x7fffe2, 23, 0x7fffe3, 23, // 144-151
  0x7fffe4, 23, 0x1fffdc, 21, 0x3fffd8, 22, 0x7fffe5, 23, 0x3fffd9, 22, 0x7fffe6, 23, 0x7fffe7, 23, 0xffffef, 24, // 152-159
  0x3fffda, 22, 0x1fffdd, 21, 0xfffe9, 20, 0x3fffdb, 22, 0x3fffdc, 22, 0x7fffe8, 23, 0x7fffe9, 23, 0x1fffde, 21, // 160-167
  0x7fffea, 23, 0x3fffdd, 22, 0x3fffde, 22, 0xfffff0, 24, 0x1fffdf, 21, 0x3fffdf, 22, 0x7fffeb, 23, 0x7fffec, 23, // 168-175
  0x1fffe0, 21, 0x1fffe1, 21, 0x3fffe0, 22, 0x1fffe2, 21, 0x7fffed, 23, 0x3fffe1, 22, 0x7fffee, 23, 0x7fffef, 23, // 176-183
  0xfffea, 20, 0x3fffe2, 22, 0x3fffe3, 22, 0x3fffe4, 22, 0x7ffff0, 23, 0x3fffe5, 22, 0x3fffe6, 22, 0x7ffff1, 23, // 184-191
  0x3ffffe0, 26, 0x3ffffe1, 26, 0xfffeb, 20, 0x7fff1, 19, 0x3fffe7, 22, 0x7ffff2, 23, 0x3fffe8, 22, 0x1ffffec, 25, // 192-199
  0x3ffffe2, 26, 0x3ffffe3, 26, 0x3ffffe4, 26, 0x7ffffde, 27, 0x7ffffdf, 27, 0x3ffffe5, 26, 0xfffff1, 24, 0x1ffffed, 25, // 200-207
  0x7fff2, 19, 0x1fffe3, 21, 0x3ffffe6, 26, 0x7ffffe0, 27, 0x7ffffe1, 27, 0x3ffffe7, 26, 0x7ffffe2, 27, 0xfffff2, 24, // 208-215
  0x1fffe4, 21, 0x1fffe5, 21, 0x3ffffe8, 26, 0x3ffffe9, 26, 0xffffffd, 28, 0x7ffffe3, 27, 0x7ffffe4, 27, 0x7ffffe5, 27, // 216-223
  0xfffec, 20, 0xfffff3, 24, 0xfffed, 20, 0x1fffe6, 21, 0x3fffe9, 22, 0x1fffe7, 21, 0x1fffe8, 21, 0x7ffff3, 23, // 224-231
  0x3fffea, 22, 0x3fffeb, 22, 0x1ffffee, 25, 0x1ffffef, 25, 0xfffff4, 24, 0xfffff5, 24, 0x3ffffea, 26, 0x7ffff4, 23, // 232-239
  0x3ffffeb, 26, 0x7ffffe6, 27, 0x3ffffec, 26, 0x3ffffed, 26, 0x7ffffe7, 27, 0x7ffffe8, 27, 0x7ffffe9, 27, 0x7ffffea, 27, // 240-247
  0x7ffffeb, 27, 0xffffffe, 28, 0x7ffffec, 27, 0x7ffffed, 27, 0x7ffffee, 27, 0x7ffffef, 27, 0x7fffff0, 27, 0x3ffffee, 26, // 248-255
  0x3fffffff, 30, // 256-256
];

/** The EOS symbol (RFC 7541 section 5.2: decoding it is an error). */
const EOS = 256;

/** Code of each symbol, LSB-aligned. */
const CODES = new Uint32Array(257);
/** Code length of each symbol, in bits (5 to 30). */
const LENGTHS = new Uint8Array(257);
for (let i = 0; i < 257; i++) {
  CODES[i] = CODE_TABLE[2 * i]!;
  LENGTHS[i] = CODE_TABLE[2 * i + 1]!;
}

// Decode table entry layout (32 bits):
//   bits 0-7   next state
//   bits 8-15  first symbol completed by this byte
//   bits 16-23 second symbol
//   bits 24-25 number of symbols completed (0, 1 or 2)
//   bit  26    EOS was decoded: the input is malformed
//   bit  27    the next state is a valid end: its pending bits are at most
//              7 and all ones, i.e. a prefix of EOS (RFC 7541 section 5.2)
const FAIL = 1 << 26;
const ACCEPT = 1 << 27;

let decodeTable: Uint32Array | undefined;

function buildDecodeTable(): Uint32Array {
  // The code tree: children of internal node k are child[2k] (bit 0) and
  // child[2k+1] (bit 1); a value >= 0 is an internal node, -1 - sym a leaf.
  const child = new Int32Array(2 * 256).fill(-1 - 0x7fff);
  const accepting = new Uint8Array(256);
  let nodes = 1;
  accepting[0] = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = CODES[sym]!;
    const len = LENGTHS[sym]!;
    let node = 0;
    let allOnes = true;
    for (let i = len - 1; i > 0; i--) {
      const bit = (code >>> i) & 1;
      allOnes &&= bit === 1;
      let next = child[2 * node + bit]!;
      if (next === -1 - 0x7fff) {
        next = nodes++;
        child[2 * node + bit] = next;
        // Padding is the most significant bits of EOS, at most 7 of them.
        if (allOnes && len - i <= 7) accepting[next] = 1;
      }
      if (next < 0) throw new Error("Huffman table is not prefix-free");
      node = next;
    }
    child[2 * node + (code & 1)] = -1 - sym;
  }
  // A complete prefix code (Kraft sum 1) over 257 symbols has 256 internal
  // nodes, each with two children: check, so a typo in the table cannot
  // leave a hole the decoder would fall into.
  if (nodes !== 256 || child.includes(-1 - 0x7fff)) throw new Error("Huffman table is not a complete prefix code");

  const table = new Uint32Array(256 * 256);
  for (let state = 0; state < 256; state++) {
    for (let byte = 0; byte < 256; byte++) {
      let node = state;
      let count = 0;
      let syms = 0;
      let failed = false;
      for (let bit = 7; bit >= 0; bit--) {
        const next = child[2 * node + ((byte >> bit) & 1)]!;
        if (next >= 0) {
          node = next;
          continue;
        }
        const sym = -1 - next;
        if (sym === EOS) {
          failed = true;
          break;
        }
        // Codes are at least 5 bits long, so a byte completes at most two.
        syms |= sym << (8 * count);
        count++;
        node = 0;
      }
      table[(state << 8) | byte] = failed ? FAIL : (node | (syms << 8) | (count << 24) | (accepting[node] ? ACCEPT : 0)) >>> 0;
    }
  }
  return table;
}

/** Scratch output for decoding, grown as needed and reused. */
let scratch = new Uint8Array(256);

/**
 * Decodes `src[start, end)` into the scratch buffer; returns the decoded
 * length. Rejects EOS, padding longer than 7 bits and padding that is not
 * all ones (RFC 7541 section 5.2) with `errorCode`.
 */
function decodeToScratch(src: Uint8Array, start: number, end: number, errorCode: number): number {
  const table = (decodeTable ??= buildDecodeTable());
  // At most 8/5 symbols per input byte (the shortest code is 5 bits).
  // (+2: both symbol slots are written on every step, see below.)
  const maxOut = Math.ceil(((end - start) * 8) / 5) + 2;
  if (scratch.length < maxOut) scratch = new Uint8Array(Math.max(maxOut, scratch.length * 2));
  const out = scratch;
  let o = 0;
  let state = 0;
  let e = ACCEPT;
  for (let i = start; i < end; i++) {
    e = table[(state << 8) | src[i]!]!;
    if (e & FAIL) throw new H3Error(errorCode, "Huffman string contains EOS");
    // Branch-free: write both symbol slots, keep as many as were completed.
    out[o] = e >>> 8;
    out[o + 1] = e >>> 16;
    o += (e >>> 24) & 3;
    state = e & 0xff;
  }
  if ((e & ACCEPT) === 0) throw new H3Error(errorCode, "Huffman string has invalid padding");
  return o;
}

/**
 * Decodes a Huffman-coded string literal at `src[start, end)` into a byte
 * string (one character per byte). Output longer than `maxLen` is rejected
 * with `errorCode`, as is any malformed code.
 */
export function huffmanDecodeString(src: Uint8Array, start: number, end: number, maxLen: number, errorCode: number): string {
  const n = decodeToScratch(src, start, end, errorCode);
  if (n > maxLen) throw new H3Error(errorCode, `Huffman string decodes to ${n} bytes, more than the limit of ${maxLen}`);
  return bytesToLatin1(scratch, 0, n);
}

/**
 * Decodes Huffman-coded bytes (RFC 7541 Appendix B). Malformed input raises
 * an {@link H3Error} with QPACK_DECOMPRESSION_FAILED.
 */
export function huffmanDecode(src: Uint8Array): Uint8Array {
  const n = decodeToScratch(src, 0, src.length, H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  return scratch.slice(0, n);
}

/** Length in bytes of the Huffman coding of byte string `s` (padding included). */
export function huffmanEncodedLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch > 0xff) throw notAByte(i);
    bits += LENGTHS[ch]!;
  }
  return Math.ceil(bits / 8);
}

/**
 * Writes the Huffman coding of byte string `s` into `out` at `offset`
 * (which must have room for {@link huffmanEncodedLength} bytes); returns the
 * offset after it. The last byte is padded with the most significant bits
 * of EOS, all ones (RFC 7541 section 5.2).
 */
export function huffmanEncodeInto(s: string, out: Uint8Array, offset: number): number {
  let o = offset;
  // `acc` holds `n` < 8 pending bits between symbols; adding up to 24 more
  // keeps it within 31 bits, so longer codes go in two steps.
  let acc = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch > 0xff) throw notAByte(i);
    let code = CODES[ch]!;
    let len = LENGTHS[ch]!;
    if (len > 24) {
      acc = (acc << (len - 16)) | (code >>> 16);
      n += len - 16;
      while (n >= 8) {
        n -= 8;
        out[o++] = acc >>> n;
      }
      acc &= (1 << n) - 1;
      code &= 0xffff;
      len = 16;
    }
    acc = (acc << len) | code;
    n += len;
    while (n >= 8) {
      n -= 8;
      out[o++] = acc >>> n;
    }
    acc &= (1 << n) - 1;
  }
  if (n > 0) out[o++] = (acc << (8 - n)) | (0xff >>> n);
  return o;
}

/** The Huffman coding of `src` (bytes, or a byte string). */
export function huffmanEncode(src: Uint8Array | string): Uint8Array {
  const s = typeof src === "string" ? src : bytesToLatin1(src, 0, src.length);
  const out = new Uint8Array(huffmanEncodedLength(s));
  huffmanEncodeInto(s, out, 0);
  return out;
}
