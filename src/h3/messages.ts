/**
 * HTTP message rules of RFC 9114 section 4: which header sections are well
 * formed (pseudo-header fields, field names and values, connection-specific
 * fields, Content-Length), checked on every section received. A violation
 * is a {@link MessageError}: the connection turns it into a stream error of
 * type H3_MESSAGE_ERROR (RFC 9114 section 4.1.2).
 */
import type { Header } from "./qpack/primitives.js";

/** A malformed request or response (RFC 9114 section 4.1.2); `message` says which rule was broken. */
export class MessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MessageError";
  }
}

/** The control data of a well-formed request. */
export interface RequestHead {
  method: string;
  /** Absent only for CONNECT (RFC 9114 section 4.4). */
  scheme: string | undefined;
  /** :authority, or the Host field when :authority is absent. */
  authority: string | undefined;
  /** Absent only for CONNECT. */
  path: string | undefined;
  /** Declared Content-Length, when present. */
  contentLength: number | undefined;
}

/** The control data of a well-formed response. */
export interface ResponseHead {
  status: number;
  contentLength: number | undefined;
}

// RFC 9110 section 5.6.2: tchar. Uppercase letters are excluded on purpose
// (RFC 9114 section 4.2: uppercase field names are malformed).
const NAME_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

/**
 * Connection-specific fields, which HTTP/3 messages must not carry
 * (RFC 9114 section 4.2; RFC 9110 section 7.6.1). TE is handled apart.
 */
export const CONNECTION_SPECIFIC_FIELDS: ReadonlySet<string> = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/** RFC 9114 section 4.2 / RFC 9110 section 5.1: a non-empty lowercase token. */
export function isValidFieldName(name: string): boolean {
  const n = name.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_CHAR[c] === 0) return false;
  }
  return true;
}

/** RFC 9110 section 5.5: NUL, CR and LF are never allowed in a field value (nor characters beyond a byte). */
export function isValidFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d || c > 0xff) return false;
  }
  return true;
}

/** Checks one regular field line; returns its name for the caller's bookkeeping. */
function checkField(name: string, value: string, request: boolean): void {
  if (!isValidFieldName(name)) throw new MessageError(/[A-Z]/.test(name) ? `uppercase field name "${name}"` : `invalid field name "${printable(name)}"`);
  if (!isValidFieldValue(value)) throw new MessageError(`invalid character in the value of "${name}"`);
  if (CONNECTION_SPECIFIC_FIELDS.has(name)) throw new MessageError(`connection-specific field "${name}"`);
  // RFC 9114 section 4.2: TE is allowed in requests, with "trailers" only.
  if (name === "te" && (!request || value.trim().toLowerCase() !== "trailers")) throw new MessageError(`TE field with value "${printable(value)}"`);
}

function printable(s: string): string {
  const t = s.length > 40 ? s.slice(0, 40) + "..." : s;
  return t.replace(/[^\x20-\x7e]/g, "?");
}

/**
 * Parses Content-Length (RFC 9110 section 8.6): digits, possibly repeated
 * as a list of identical values; anything else is malformed.
 */
function parseContentLength(value: string, previous: number | undefined): number {
  let result: number | undefined = previous;
  for (const part of value.split(",")) {
    const v = part.trim();
    if (!/^\d{1,15}$/.test(v)) throw new MessageError(`invalid content-length "${printable(value)}"`);
    const n = Number(v);
    if (result !== undefined && result !== n) throw new MessageError("conflicting content-length values");
    result = n;
  }
  return result!;
}

/**
 * Validates a request header section (RFC 9114 sections 4.2, 4.3 and
 * 4.3.1, and 4.4 for CONNECT) and returns its control data. Throws
 * {@link MessageError} when the request is malformed.
 */
export function validateRequestHeaders(headers: readonly Header[]): RequestHead {
  let method: string | undefined;
  let scheme: string | undefined;
  let authority: string | undefined;
  let path: string | undefined;
  let host: string | undefined;
  let contentLength: number | undefined;
  let regular = false;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (name.charCodeAt(0) === 0x3a /* ':' */) {
      // RFC 9114 section 4.3: pseudo-header fields come first.
      if (regular) throw new MessageError(`pseudo-header field ${name} after a regular field`);
      switch (name) {
        case ":method":
          if (method !== undefined) throw new MessageError("duplicate :method");
          if (!isValidFieldName(value.toLowerCase()) || value.length === 0) throw new MessageError(`invalid :method "${printable(value)}"`);
          method = value;
          break;
        case ":scheme":
          if (scheme !== undefined) throw new MessageError("duplicate :scheme");
          if (!/^[a-zA-Z][a-zA-Z0-9+.-]*$/.test(value)) throw new MessageError(`invalid :scheme "${printable(value)}"`);
          scheme = value;
          break;
        case ":authority":
          if (authority !== undefined) throw new MessageError("duplicate :authority");
          if (!isValidFieldValue(value) || /[\s@]/.test(value)) throw new MessageError(`invalid :authority "${printable(value)}"`);
          authority = value;
          break;
        case ":path":
          if (path !== undefined) throw new MessageError("duplicate :path");
          if (!isValidFieldValue(value) || /[\s]/.test(value)) throw new MessageError(`invalid :path "${printable(value)}"`);
          path = value;
          break;
        default:
          // RFC 9114 section 4.3: undefined pseudo-header fields (and :status in a request) are malformed.
          throw new MessageError(`pseudo-header field ${name} not allowed in a request`);
      }
      continue;
    }
    regular = true;
    checkField(name, value, true);
    if (name === "content-length") contentLength = parseContentLength(value, contentLength);
    else if (name === "host") {
      if (host !== undefined) throw new MessageError("duplicate host field");
      host = value;
    }
  }
  if (method === undefined) throw new MessageError("missing :method");
  if (method === "CONNECT") {
    // RFC 9114 section 4.4: :scheme and :path omitted, :authority present.
    if (scheme !== undefined || path !== undefined) throw new MessageError("CONNECT request with :scheme or :path");
    if (!authority) throw new MessageError("CONNECT request without :authority");
    return { method, scheme, authority, path, contentLength };
  }
  if (scheme === undefined) throw new MessageError("missing :scheme");
  if (path === undefined) throw new MessageError("missing :path");
  const lower = scheme.toLowerCase();
  if (lower === "http" || lower === "https") {
    // RFC 9114 section 4.3.1: non-empty :path; an authority (either form), non-empty and consistent.
    if (path.length === 0) throw new MessageError("empty :path");
    if (path !== "*" && path.charCodeAt(0) !== 0x2f) throw new MessageError(`:path "${printable(path)}" is not absolute`);
    if (path === "*" && method !== "OPTIONS") throw new MessageError(":path * outside an OPTIONS request");
    if (authority === undefined && host === undefined) throw new MessageError("missing :authority and host");
    if (authority === "" || host === "") throw new MessageError("empty :authority or host");
    if (authority !== undefined && host !== undefined && authority !== host) throw new MessageError(":authority and host differ");
  }
  return { method, scheme, authority: authority ?? host, path, contentLength };
}

/**
 * Validates a response header section (RFC 9114 sections 4.2, 4.3 and
 * 4.3.2) and returns its control data. Throws {@link MessageError} when the
 * response is malformed.
 */
export function validateResponseHeaders(headers: readonly Header[]): ResponseHead {
  let status: number | undefined;
  let contentLength: number | undefined;
  let regular = false;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (name.charCodeAt(0) === 0x3a) {
      if (regular) throw new MessageError(`pseudo-header field ${name} after a regular field`);
      if (name !== ":status") throw new MessageError(`pseudo-header field ${name} not allowed in a response`);
      if (status !== undefined) throw new MessageError("duplicate :status");
      // RFC 9110 section 15: three digits.
      if (!/^[1-9]\d\d$/.test(value)) throw new MessageError(`invalid :status "${printable(value)}"`);
      status = Number(value);
      continue;
    }
    regular = true;
    checkField(name, value, false);
    if (name === "content-length") contentLength = parseContentLength(value, contentLength);
  }
  if (status === undefined) throw new MessageError("missing :status");
  // RFC 9114 section 4.5: HTTP/3 has no Upgrade, so no 101 (Switching Protocols).
  if (status === 101) throw new MessageError("status 101 in HTTP/3");
  return { status, contentLength };
}

/** Validates a trailer section (RFC 9114 section 4.3: no pseudo-header fields; section 4.2 field rules). */
export function validateTrailers(headers: readonly Header[], request: boolean): void {
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (name.charCodeAt(0) === 0x3a) throw new MessageError(`pseudo-header field ${name} in a trailer section`);
    checkField(name, value, request);
  }
}

/** The size of a field section as RFC 9114 section 4.2.2 counts it: names + values + 32 per field. */
export function fieldSectionSize(headers: readonly Header[]): number {
  let n = 0;
  for (let i = 0; i < headers.length; i++) n += headers[i]![0].length + headers[i]![1].length + 32;
  return n;
}
