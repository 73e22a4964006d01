/**
 * The request line of "hq-interop", the HTTP/0.9-style application protocol
 * of the QUIC interop runner (https://github.com/quic-interop/quic-interop-runner):
 * on a client-initiated bidirectional stream the client sends
 * `GET <target>\r\n` and FIN; the server answers with the file's bytes and
 * FIN, with no status line and no headers.
 *
 * The parser is strict because its output names a file on disk: the target
 * must be an RFC 3986 absolute path (section 3.3) of ASCII characters, its
 * percent-encodings (section 2.1) must decode to UTF-8, and no decoded
 * segment may be "." or "..", contain a path separator, NUL or another
 * control character. Whatever passes maps under a root directory with
 * {@link resolveUnderRoot}, which checks the result again.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";
import { TsquicError } from "../util/errors.js";

/** The ALPN token of the interop runner's HTTP/0.9 protocol. */
export const HQ_ALPN = "hq-interop";

/** Default bound on a request line, CRLF included: interop paths are short, and the bound caps what a peer can make us buffer. */
export const DEFAULT_MAX_REQUEST_LINE = 4096;

/** Why a request line was refused. */
export type HqRequestErrorReason =
  /** Longer than the configured bound (before or after its CRLF arrived). */
  | "too-long"
  /** No terminating CRLF (the stream ended first). */
  | "incomplete"
  /** Not exactly "GET" followed by one space. */
  | "method"
  /** The target is not an absolute path of allowed characters, or holds a control character, space or non-ASCII byte. */
  | "target"
  /** A percent-encoding is malformed or decodes to bytes that are not UTF-8. */
  | "encoding"
  /** A segment is empty, "." or "..", or decodes to a separator or control character: it could leave the root. */
  | "unsafe-path"
  /** Bytes followed the CRLF: a request is exactly one line. */
  | "trailing-data";

/** A request line that is not acceptable; `reason` says which rule it broke. */
export class HqRequestError extends TsquicError {
  /** The rule the request broke. */
  readonly reason: HqRequestErrorReason;

  constructor(reason: HqRequestErrorReason, message: string) {
    super("ERR_HQ_BAD_REQUEST", message);
    this.reason = reason;
  }
}

/** A parsed request. */
export interface HqRequest {
  /** The only method hq-interop has. */
  readonly method: "GET";
  /** The target exactly as sent (still percent-encoded). */
  readonly target: string;
  /** The decoded path segments; empty for "/". None is empty, "." or "..", or holds "/", "\\" or a control character. */
  readonly segments: readonly string[];
}

/** Options of the parser. */
export interface RequestLineOptions {
  /** Longest accepted line in bytes, CRLF included. Default {@link DEFAULT_MAX_REQUEST_LINE}. */
  maxLength?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const METHOD = "GET ";

// RFC 3986 section 3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@", and "/" between segments.
// "?" and "#" are excluded: hq-interop targets are plain paths and a query would not name a file.
const PATH_CHAR = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@%/") PATH_CHAR[c.charCodeAt(0)] = 1;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Decodes one segment's percent-encodings (RFC 3986 section 2.1) and checks the result is a safe file name. */
function decodeSegment(raw: string): string {
  if (raw.length === 0) throw new HqRequestError("unsafe-path", "empty path segment (\"//\" or a trailing \"/\") does not name a file");
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 0x25) {
      bytes[n++] = c;
      continue;
    }
    const hi = i + 2 < raw.length ? hexValue(raw.charCodeAt(i + 1)) : -1;
    const lo = hi >= 0 ? hexValue(raw.charCodeAt(i + 2)) : -1;
    if (lo < 0) throw new HqRequestError("encoding", `malformed percent-encoding in segment "${raw}"`);
    bytes[n++] = (hi << 4) | lo;
    i += 2;
  }
  let decoded: string;
  try {
    decoded = utf8.decode(bytes.subarray(0, n));
  } catch {
    throw new HqRequestError("encoding", `segment "${raw}" does not decode to UTF-8`);
  }
  // Dot segments walk the hierarchy (RFC 3986 section 3.3); refuse them rather than normalise, so "/a/../b" is never a file.
  if (decoded === "." || decoded === "..") throw new HqRequestError("unsafe-path", `dot segment "${raw}" refused`);
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    // An encoded separator would let one segment span directories; NUL truncates paths in C APIs; other controls have no place in a name.
    if (c === 0x2f || c === 0x5c) throw new HqRequestError("unsafe-path", `segment "${raw}" decodes to a path separator`);
    if (c < 0x20 || c === 0x7f) throw new HqRequestError("unsafe-path", `segment "${raw}" decodes to a control character`);
  }
  return decoded;
}

/**
 * Checks a request target's syntax: an absolute path ("/" first) of the
 * characters RFC 3986 allows in a path (section 3.3), within `maxLength`
 * bytes for the whole line. It does not decode the target, so clients may
 * send targets that servers refuse (a test of those servers).
 */
export function checkTargetSyntax(target: string, maxLength = DEFAULT_MAX_REQUEST_LINE): void {
  if (METHOD.length + target.length + 2 > maxLength) throw new HqRequestError("too-long", `request line longer than ${maxLength} bytes`);
  if (target.charCodeAt(0) !== 0x2f) throw new HqRequestError("target", "the target must start with \"/\"");
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c >= 128 || PATH_CHAR[c] !== 1) {
      const shown = c < 0x20 || c >= 0x7f ? `0x${c.toString(16).padStart(2, "0")}` : `"${String.fromCharCode(c)}"`;
      throw new HqRequestError("target", `character ${shown} at offset ${i} is not allowed in a target`);
    }
  }
}

/** Decodes a syntactically valid target into its segments, refusing anything that could leave a root directory. */
export function decodeTarget(target: string): string[] {
  if (target === "/") return [];
  return target.slice(1).split("/").map(decodeSegment);
}

/**
 * Parses one complete request: `GET <target>\r\n`, nothing before, nothing
 * after. Returns the request or throws {@link HqRequestError}; never
 * another exception.
 */
export function parseRequestLine(input: Uint8Array | string, options: RequestLineOptions = {}): HqRequest {
  const maxLength = options.maxLength ?? DEFAULT_MAX_REQUEST_LINE;
  const bytes = typeof input === "string" ? utf8Encoder.encode(input) : input;
  if (bytes.length > maxLength) throw new HqRequestError("too-long", `request line longer than ${maxLength} bytes`);
  const end = indexOfCrlf(bytes);
  if (end < 0) {
    // A lone CR or LF is not a terminator: report it as a bad character, not as a truncated line.
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === LF || (b === CR && i + 1 < bytes.length)) throw new HqRequestError("target", `bare ${b === CR ? "CR" : "LF"} at offset ${i}`);
    }
    throw new HqRequestError("incomplete", "the request line has no CRLF");
  }
  if (end + 2 !== bytes.length) throw new HqRequestError("trailing-data", `${bytes.length - end - 2} bytes follow the request line`);
  for (let i = 0; i < METHOD.length; i++) {
    if (bytes[i] !== METHOD.charCodeAt(i)) throw new HqRequestError("method", "the request must start with \"GET \" (hq-interop has no other method)");
  }
  // Bytes of the target are checked one by one before becoming a string, so no decoding step can hide a non-ASCII byte.
  let target = "";
  for (let i = METHOD.length; i < end; i++) {
    const b = bytes[i]!;
    if (b >= 128 || PATH_CHAR[b] !== 1) {
      if (i === METHOD.length && b !== 0x2f) break; // reported below as a target that does not start with "/"
      const shown = b < 0x20 || b >= 0x7f ? `0x${b.toString(16).padStart(2, "0")}` : `"${String.fromCharCode(b)}"`;
      throw new HqRequestError("target", `byte ${shown} at offset ${i} is not allowed in a target`);
    }
    target += String.fromCharCode(b);
  }
  if (target.charCodeAt(0) !== 0x2f) throw new HqRequestError("target", "the target must start with \"/\"");
  return { method: "GET", target, segments: decodeTarget(target) };
}

function indexOfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === CR && bytes[i + 1] === LF) return i;
  return -1;
}

/**
 * Builds the bytes a client sends for `target` (`GET <target>\r\n`). The
 * target's syntax is checked ({@link checkTargetSyntax}); its segments are
 * not decoded, so a test can send a target a server must refuse.
 */
export function formatRequestLine(target: string, maxLength = DEFAULT_MAX_REQUEST_LINE): Uint8Array {
  checkTargetSyntax(target, maxLength);
  return utf8Encoder.encode(`${METHOD}${target}\r\n`);
}

/** Percent-encodes decoded segments into a target ("/" for none); the inverse of {@link decodeTarget} for safe segments. */
export function encodeTarget(segments: readonly string[]): string {
  // encodeURIComponent leaves only unreserved characters and "!'()*" bare, all of them pchars.
  return "/" + segments.map((s) => encodeURIComponent(s)).join("/");
}

/**
 * Accumulates a request line as stream data arrives. `push` returns the
 * request once its CRLF is in, undefined before; it throws
 * {@link HqRequestError} as soon as the line is too long or malformed, so a
 * peer cannot make us buffer more than the bound.
 */
export class RequestLineBuffer {
  private readonly maxLength: number;
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  private lastByte = -1;
  private result: HqRequest | undefined;

  constructor(options: RequestLineOptions = {}) {
    this.maxLength = options.maxLength ?? DEFAULT_MAX_REQUEST_LINE;
  }

  /** The parsed request, once complete. */
  get request(): HqRequest | undefined {
    return this.result;
  }

  /** Adds received bytes; returns the request when the line is complete. */
  push(chunk: Uint8Array): HqRequest | undefined {
    if (this.result) {
      if (chunk.length > 0) throw new HqRequestError("trailing-data", `${chunk.length} bytes follow the request line`);
      return this.result;
    }
    if (chunk.length === 0) return undefined;
    this.chunks.push(chunk);
    this.size += chunk.length;
    // The CRLF may straddle two chunks: look from the byte before this chunk.
    let lf = -1;
    if (this.lastByte === CR && chunk[0] === LF) lf = this.size - chunk.length;
    else {
      for (let i = 1; i < chunk.length; i++) {
        if (chunk[i] === LF && chunk[i - 1] === CR) {
          lf = this.size - chunk.length + i;
          break;
        }
      }
    }
    this.lastByte = chunk[chunk.length - 1]!;
    if (lf < 0) {
      if (this.size >= this.maxLength) throw new HqRequestError("too-long", `request line longer than ${this.maxLength} bytes`);
      return undefined;
    }
    const all = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      all.set(c, o);
      o += c.length;
    }
    this.chunks.length = 0;
    this.result = parseRequestLine(all, { maxLength: this.maxLength });
    return this.result;
  }

  /** Called when the stream ended (FIN): throws when the line never completed. */
  finish(): HqRequest {
    if (this.result) return this.result;
    throw new HqRequestError("incomplete", "the stream ended before the request line's CRLF");
  }
}

/**
 * Maps decoded segments under `root` and returns the absolute path. Throws
 * {@link HqRequestError} ("unsafe-path") if the result is not strictly
 * inside `root`, a second line of defence after {@link decodeTarget}.
 * Symbolic links are not resolved here: a server that must not follow
 * links out of its root compares real paths as well.
 */
export function resolveUnderRoot(root: string, segments: readonly string[]): string {
  const base = resolve(root);
  const full = resolve(base, ...segments);
  if (!isInside(base, full)) throw new HqRequestError("unsafe-path", "the path leaves the root directory");
  return full;
}

/** True when `child` is `parent` itself or below it (both absolute, normalised). */
export function isInside(parent: string, child: string): boolean {
  if (child === parent) return true;
  const rel = relative(parent, child);
  return rel !== "" && !rel.startsWith(".." + sep) && rel !== ".." && !isAbsolute(rel);
}
