/**
 * Loading certificates and private keys from PEM (RFC 7468) or DER, the way
 * users hand them to a server or client configuration.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { TsquicError } from "../util/errors.js";
import { DerReader, Tag } from "./der.js";

/** A PEM block: its label ("CERTIFICATE", "PRIVATE KEY", ...), any RFC 1421 headers, the decoded bytes and the block's own text. */
export interface PemBlock {
  readonly label: string;
  readonly headers: string;
  readonly der: Uint8Array;
  readonly text: string;
}

const BEGIN = "-----BEGIN ";
const DASHES = "-----";

function invalidPem(message: string): TsquicError {
  return new TsquicError("ERR_PKI_INVALID_PEM", message);
}

/**
 * Every PEM block in `text`, in order. Text outside blocks is ignored
 * (RFC 7468 section 2 allows explanatory text around them). Throws
 * {@link TsquicError} `ERR_PKI_INVALID_PEM` for a block without its matching
 * END line or whose body is not base64. The scan is a single forward pass.
 */
export function decodePem(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  let pos = 0;
  for (;;) {
    const begin = text.indexOf(BEGIN, pos);
    if (begin < 0) return out;
    const labelEnd = text.indexOf(DASHES, begin + BEGIN.length);
    const label = labelEnd < 0 ? "" : text.slice(begin + BEGIN.length, labelEnd);
    // RFC 7468 section 3: a label is printable ASCII other than "-".
    if (!/^[\x20-\x2c\x2e-\x7e]{1,64}$/.test(label)) throw invalidPem("PEM BEGIN line with an invalid label");
    const endLine = `-----END ${label}-----`;
    const end = text.indexOf(endLine, labelEnd + DASHES.length);
    if (end < 0) throw invalidPem(`PEM block "${label}" has no "END ${label}" line`);
    let body = text.slice(labelEnd + DASHES.length, end);
    pos = end + endLine.length;
    // RFC 1421 encapsulated headers (legacy encrypted keys: "Proc-Type: 4,ENCRYPTED") end at a blank line.
    let headers = "";
    if (/^\s*[A-Za-z][A-Za-z0-9-]*:/.test(body)) {
      const blank = body.search(/\r?\n[ \t]*\r?\n/);
      if (blank < 0) throw invalidPem(`PEM block "${label}" has headers but no blank line after them`);
      headers = body.slice(0, blank).trim();
      body = body.slice(blank);
    }
    const clean = body.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) {
      throw invalidPem(`PEM block "${label}" is not valid base64`);
    }
    out.push({ label, headers, der: new Uint8Array(Buffer.from(clean, "base64")), text: text.slice(begin, pos) });
  }
}

/** PEM text for DER bytes, 64 base64 characters a line (RFC 7468 section 2). */
export function derToPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}${lines.length ? "\n" : ""}-----END ${label}-----\n`;
}

function looksLikeDer(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === Tag.SEQUENCE;
}

/** Splits concatenated DER certificates (each one a top-level SEQUENCE). */
function splitDer(bytes: Uint8Array): Uint8Array[] {
  const r = new DerReader(bytes);
  const out: Uint8Array[] = [];
  while (!r.done) out.push(new Uint8Array(r.expect(Tag.SEQUENCE, "Certificate").encoded)); // a plain copy, even from a Buffer
  return out;
}

function checkCertificate(der: Uint8Array, index: number): Uint8Array {
  try {
    new X509Certificate(der);
  } catch (cause) {
    throw new TsquicError("ERR_PKI_INVALID_CERTIFICATE", `certificate ${index + 1} could not be parsed`, { cause });
  }
  return der;
}

/**
 * The DER certificates in `input`, leaf first as given. Accepts PEM text
 * with one or more CERTIFICATE blocks (other blocks, such as a key in the
 * same file, are skipped), DER bytes (one certificate or several
 * concatenated), PEM as bytes, or an array of any of these. Each certificate
 * is parsed once to catch errors at load time; a failure is a
 * {@link TsquicError} (`ERR_PKI_INVALID_CERTIFICATE` or `ERR_PKI_INVALID_PEM`).
 */
export function loadCertificateChain(input: string | Uint8Array | Array<string | Uint8Array>): Uint8Array[] {
  const items = Array.isArray(input) ? input : [input];
  const ders: Uint8Array[] = [];
  for (const item of items) {
    if (typeof item !== "string" && !(item instanceof Uint8Array)) {
      throw new TsquicError("ERR_PKI_INVALID_CERTIFICATE", "a certificate must be PEM text or DER bytes");
    }
    if (item instanceof Uint8Array && looksLikeDer(item)) {
      try {
        ders.push(...splitDer(item));
      } catch (cause) {
        throw new TsquicError("ERR_PKI_INVALID_CERTIFICATE", "DER certificate data is malformed", { cause });
      }
      continue;
    }
    const text = typeof item === "string" ? item : Buffer.from(item.buffer, item.byteOffset, item.byteLength).toString("latin1");
    const blocks = decodePem(text).filter((b) => b.label === "CERTIFICATE");
    if (blocks.length === 0) throw new TsquicError("ERR_PKI_INVALID_CERTIFICATE", "no CERTIFICATE block found in PEM input");
    ders.push(...blocks.map((b) => b.der));
  }
  if (ders.length === 0) throw new TsquicError("ERR_PKI_INVALID_CERTIFICATE", "no certificate given");
  return ders.map(checkCertificate);
}

/** Labels of PEM private keys node:crypto understands: PKCS#8, encrypted PKCS#8, SEC1 (RFC 5915) and PKCS#1 (RFC 8017). */
const KEY_LABELS = new Set(["PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"]);

/**
 * A private key from PEM (PKCS#8, encrypted PKCS#8, SEC1 "EC PRIVATE KEY",
 * PKCS#1 "RSA PRIVATE KEY", including legacy `Proc-Type: 4,ENCRYPTED`
 * ones), DER (PKCS#8, encrypted PKCS#8, SEC1 or PKCS#1), or an existing
 * private KeyObject. An encrypted key needs `passphrase`; a missing one gives
 * `ERR_PKI_KEY_PASSPHRASE_REQUIRED` and a wrong one
 * `ERR_PKI_KEY_BAD_PASSPHRASE`. Anything else unreadable is
 * `ERR_PKI_INVALID_KEY`.
 */
export function loadPrivateKey(key: string | Uint8Array | KeyObject, passphrase?: string): KeyObject {
  if (typeof key === "object" && !(key instanceof Uint8Array)) {
    if (key?.type !== "private") throw new TsquicError("ERR_PKI_INVALID_KEY", `expected a private key, got a ${key?.type ?? typeof key} key`);
    return key;
  }
  if (typeof key !== "string" && !(key instanceof Uint8Array)) {
    throw new TsquicError("ERR_PKI_INVALID_KEY", "a private key must be PEM text, DER bytes or a KeyObject");
  }
  if (key instanceof Uint8Array && looksLikeDer(key)) return loadDerKey(key, passphrase);
  const text = typeof key === "string" ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
  let block: PemBlock | undefined;
  try {
    block = decodePem(text).find((b) => KEY_LABELS.has(b.label));
  } catch (cause) {
    throw new TsquicError("ERR_PKI_INVALID_KEY", "the private key PEM is malformed", { cause });
  }
  if (!block) throw new TsquicError("ERR_PKI_INVALID_KEY", "no private key block (PRIVATE KEY, EC PRIVATE KEY, RSA PRIVATE KEY) found in PEM input");
  const encrypted = block.label === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,\s*ENCRYPTED/i.test(block.headers);
  // Hand node:crypto just this block, headers included (legacy encrypted keys need them).
  const pem = block.text;
  return importKey(() => createPrivateKey({ key: pem, format: "pem", ...(passphrase !== undefined && { passphrase }) }), encrypted, passphrase);
}

/**
 * EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }
 * (RFC 5958 section 3), unlike PrivateKeyInfo, which starts with a version INTEGER.
 */
function isEncryptedPkcs8(der: Uint8Array): boolean {
  try {
    const r = new DerReader(new DerReader(der).expect(Tag.SEQUENCE, "key").content);
    r.expect(Tag.SEQUENCE, "encryptionAlgorithm");
    r.expect(Tag.OCTET_STRING, "encryptedData");
    return r.done;
  } catch {
    return false;
  }
}

function loadDerKey(der: Uint8Array, passphrase: string | undefined): KeyObject {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  if (isEncryptedPkcs8(der)) {
    return importKey(() => createPrivateKey({ key: buf, format: "der", type: "pkcs8", ...(passphrase !== undefined && { passphrase }) }), true, passphrase);
  }
  let firstError: unknown;
  for (const type of ["pkcs8", "sec1", "pkcs1"] as const) {
    try {
      return createPrivateKey({ key: buf, format: "der", type });
    } catch (e) {
      firstError ??= e;
    }
  }
  throw new TsquicError("ERR_PKI_INVALID_KEY", "DER private key is not PKCS#8, SEC1 or PKCS#1", { cause: firstError });
}

function importKey(load: () => KeyObject, encrypted: boolean, passphrase: string | undefined): KeyObject {
  if (encrypted && passphrase === undefined) {
    throw new TsquicError("ERR_PKI_KEY_PASSPHRASE_REQUIRED", "the private key is encrypted and no passphrase was given");
  }
  try {
    return load();
  } catch (cause) {
    // A wrong passphrase usually fails the padding check, but 1 time in ~256 the
    // padding looks right and the garbage fails to parse instead: both mean the same.
    if (encrypted) throw new TsquicError("ERR_PKI_KEY_BAD_PASSPHRASE", "could not decrypt the private key: wrong passphrase (or a corrupted key)", { cause });
    throw new TsquicError("ERR_PKI_INVALID_KEY", "the private key could not be parsed", { cause });
  }
}
