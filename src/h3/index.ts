/**
 * HTTP/3 codecs: error codes (RFC 9114 section 8.1, RFC 9204 section 6),
 * frames (RFC 9114 section 7) and QPACK (RFC 9204).
 */
export * from "./errors.js";
export * from "./frames.js";
export { QpackDecoder, DEFAULT_MAX_FIELD_SECTION_SIZE, type QpackDecoderOptions, type FieldSectionResult, type UnblockedSection } from "./qpack/decoder.js";
export { QpackEncoder, DEFAULT_INDEXED_NAMES, defaultShouldIndex, defaultIsSensitive, type QpackEncoderOptions, type QpackPeerSettings } from "./qpack/encoder.js";
export { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./qpack/huffman.js";
export { STATIC_TABLE } from "./qpack/static-table.js";
export { type Header } from "./qpack/primitives.js";
export { bytesToLatin1, latin1ToBytes } from "./qpack/latin1.js";
export { type EncoderInstruction, type DecoderInstruction, encodeEncoderInstruction, encodeDecoderInstruction } from "./qpack/instructions.js";
