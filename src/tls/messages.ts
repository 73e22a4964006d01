/**
 * TLS 1.3 handshake messages and extensions (RFC 8446 section 4): one
 * `encodeX` / `decodeX` pair per message. Encoders take typed fields and
 * return the whole handshake message (type, 24-bit length, body); decoders
 * take the body and return typed fields. Decoders throw {@link DecodeError}
 * for anything structurally malformed (the engine turns it into decode_error)
 * and {@link TlsAlertError} for the few rules with a named alert (a duplicated
 * extension). Semantic checks (which values are acceptable) are the engine's.
 */
import { ByteReader, ByteWriter } from "../util/bytes.js";
import { DecodeError } from "../util/errors.js";
import { AlertDescription, TlsAlertError } from "./alerts.js";
import { ExtensionType, HELLO_RETRY_REQUEST_RANDOM, HandshakeType, TLS12 } from "./constants.js";

/** One extension as it appeared on the wire. */
export interface Extension {
  readonly type: number;
  readonly data: Uint8Array;
}

/** KeyShareEntry (RFC 8446 section 4.2.8). */
export interface KeyShareEntry {
  readonly group: number;
  readonly keyExchange: Uint8Array;
}

/** PskIdentity (RFC 8446 section 4.2.11). */
export interface PskIdentity {
  readonly identity: Uint8Array;
  readonly obfuscatedTicketAge: number;
}

/** OfferedPsks (RFC 8446 section 4.2.11). */
export interface OfferedPsks {
  readonly identities: PskIdentity[];
  readonly binders: Uint8Array[];
}

/** ClientHello (RFC 8446 section 4.1.2) with its known extensions decoded. */
export interface ClientHello {
  random: Uint8Array;
  legacySessionId: Uint8Array;
  cipherSuites: number[];
  /** legacy_compression_methods; must be exactly [0] in TLS 1.3. Encoders always write [0]. */
  compressionMethods?: Uint8Array;
  /** Every extension in wire order (decoder output; encoders ignore it). */
  extensions?: Extension[];
  serverName?: string;
  supportedGroups?: number[];
  signatureAlgorithms?: number[];
  signatureAlgorithmsCert?: number[];
  alpnProtocols?: string[];
  keyShares?: KeyShareEntry[];
  supportedVersions?: number[];
  pskKeyExchangeModes?: number[];
  earlyData?: boolean;
  cookie?: Uint8Array;
  quicTransportParameters?: Uint8Array;
  /** status_request asking for an OCSP response (RFC 6066 section 8; RFC 8446 section 4.4.2.1). */
  statusRequest?: boolean;
  /** Always written last (RFC 8446 section 4.2.11). */
  preSharedKey?: OfferedPsks;
  /** Extra raw extensions to write before pre_shared_key (tests, GREASE). */
  extraExtensions?: Extension[];
}

/** ServerHello or HelloRetryRequest (RFC 8446 section 4.1.3, 4.1.4). */
export interface ServerHello {
  random: Uint8Array;
  legacySessionIdEcho: Uint8Array;
  cipherSuite: number;
  compressionMethod?: number;
  legacyVersion?: number;
  extensions?: Extension[];
  supportedVersion?: number;
  /** ServerHello key_share. */
  keyShare?: KeyShareEntry;
  /** HelloRetryRequest key_share: the group the client must use. */
  selectedGroup?: number;
  /** pre_shared_key: index of the identity the server selected. */
  selectedIdentity?: number;
  cookie?: Uint8Array;
}

/** EncryptedExtensions (RFC 8446 section 4.3.1). */
export interface EncryptedExtensions {
  extensions?: Extension[];
  /** The server used the client's server_name (empty extension, RFC 6066 section 3). */
  serverNameAck?: boolean;
  alpnProtocols?: string[];
  earlyData?: boolean;
  quicTransportParameters?: Uint8Array;
  supportedGroups?: number[];
}

/** CertificateEntry (RFC 8446 section 4.4.2). */
export interface CertificateEntry {
  readonly data: Uint8Array;
  readonly extensions: Extension[];
}

/** CertificateStatusType ocsp (RFC 6066 section 8). */
export const STATUS_TYPE_OCSP = 1;

/**
 * Reads a ClientHello status_request (RFC 6066 section 8): true when it
 * asks for OCSP. Other status types are ignored, as the RFC asks.
 */
function readStatusRequest(d: Uint8Array): boolean {
  const r = new ByteReader(d);
  const type = r.u8();
  if (type !== STATUS_TYPE_OCSP) return false;
  r.vec16(); // responder_id_list: we staple whatever response we have
  r.vec16(); // request_extensions
  r.expectEnd("status_request");
  return true;
}

/** A CertificateStatus carrying an OCSP response (RFC 6066 section 8), the body of a CertificateEntry's status_request extension (RFC 8446 section 4.4.2.1). */
export function encodeCertificateStatus(ocspResponse: Uint8Array): Uint8Array {
  if (ocspResponse.length === 0 || ocspResponse.length >= 1 << 24) throw new RangeError("an OCSP response is 1..2^24-1 bytes (RFC 6066 section 8)");
  return new ByteWriter(ocspResponse.length + 4).u8(STATUS_TYPE_OCSP).vec(3, ocspResponse).finish();
}

/** Decodes a CertificateStatus (RFC 6066 section 8); returns the OCSP response bytes. */
export function decodeCertificateStatus(d: Uint8Array): Uint8Array {
  const r = new ByteReader(d);
  if (r.u8() !== STATUS_TYPE_OCSP) throw new DecodeError("CertificateStatus of an unknown status_type");
  const response = r.vec24();
  if (response.length === 0) throw new DecodeError("empty OCSPResponse");
  r.expectEnd("CertificateStatus");
  return response.slice();
}

/** Certificate (RFC 8446 section 4.4.2). */
export interface Certificate {
  requestContext: Uint8Array;
  entries: CertificateEntry[];
}

/** CertificateRequest (RFC 8446 section 4.3.2). */
export interface CertificateRequest {
  requestContext: Uint8Array;
  extensions?: Extension[];
  signatureAlgorithms?: number[];
  signatureAlgorithmsCert?: number[];
}

/** CertificateVerify (RFC 8446 section 4.4.3). */
export interface CertificateVerify {
  scheme: number;
  signature: Uint8Array;
}

/** NewSessionTicket (RFC 8446 section 4.6.1). */
export interface NewSessionTicket {
  lifetime: number;
  ageAdd: number;
  nonce: Uint8Array;
  ticket: Uint8Array;
  extensions?: Extension[];
  /** early_data extension's max_early_data_size, when present. */
  maxEarlyDataSize?: number;
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
const fromLatin1 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"));

// ---------------------------------------------------------------------------
// Framing

/** Size of the handshake message header: msg_type (1) + length (3) (RFC 8446 section 4). */
export const HANDSHAKE_HEADER_LENGTH = 4;

/** Wraps `body` in a handshake header (RFC 8446 section 4). */
export function frameHandshake(type: number, body: Uint8Array): Uint8Array {
  if (body.length > 0xffffff) throw new RangeError("handshake message too long");
  const out = new Uint8Array(4 + body.length);
  out[0] = type;
  out[1] = body.length >>> 16;
  out[2] = body.length >>> 8;
  out[3] = body.length;
  out.set(body, 4);
  return out;
}

function finishMessage(type: number, w: ByteWriter): Uint8Array {
  return frameHandshake(type, w.view());
}

// ---------------------------------------------------------------------------
// Extension blocks

/**
 * Reads an extension block `Extension extensions<0..2^16-1>`. A repeated
 * type is illegal_parameter (RFC 8446 section 4.2: "There MUST NOT be more
 * than one extension of the same type in a given extension block").
 */
export function decodeExtensions(r: ByteReader): Extension[] {
  const block = r.sub(2);
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (!block.done) {
    const type = block.u16();
    const data = block.vec16();
    if (seen.has(type)) throw new TlsAlertError(AlertDescription.illegal_parameter, `duplicate extension ${type}`);
    seen.add(type);
    out.push({ type, data });
  }
  return out;
}

function writeExtension(w: ByteWriter, type: number, body: (w: ByteWriter) => void): void {
  w.u16(type);
  const m = w.beginVec(2);
  body(w);
  w.endVec(m);
}

function readU16List(data: Uint8Array, min: number, what: string): number[] {
  const r = new ByteReader(data);
  const list = r.sub(2);
  if (list.remaining % 2 !== 0 || list.remaining < min * 2) throw new DecodeError(`malformed ${what} list`);
  const out: number[] = [];
  while (!list.done) out.push(list.u16());
  r.expectEnd(what);
  return out;
}

function writeU16List(w: ByteWriter, values: readonly number[]): void {
  const m = w.beginVec(2);
  for (const v of values) w.u16(v);
  w.endVec(m);
}

/** ProtocolNameList (RFC 7301 section 3.1): non-empty list of non-empty names. */
function readAlpn(data: Uint8Array): string[] {
  const r = new ByteReader(data);
  const list = r.sub(2);
  const out: string[] = [];
  while (!list.done) {
    const name = list.vec8();
    if (name.length === 0) throw new DecodeError("empty ALPN protocol name");
    out.push(latin1(name));
  }
  if (out.length === 0) throw new DecodeError("empty ALPN list");
  r.expectEnd("ALPN");
  return out;
}

function writeAlpn(w: ByteWriter, names: readonly string[]): void {
  const m = w.beginVec(2);
  for (const n of names) w.vec(1, fromLatin1(n));
  w.endVec(m);
}

/** ServerNameList (RFC 6066 section 3): the host_name entry, if any. */
function readServerName(data: Uint8Array): string | undefined {
  const r = new ByteReader(data);
  const list = r.sub(2);
  if (list.done) throw new DecodeError("empty server_name list");
  let host: string | undefined;
  while (!list.done) {
    const type = list.u8();
    const name = list.vec16();
    if (type !== 0) continue; // only host_name (0) is defined; others are skipped
    // RFC 6066 section 3: at most one name of each type; names are ASCII host names.
    if (host !== undefined) throw new TlsAlertError(AlertDescription.illegal_parameter, "two host_name entries in server_name");
    if (name.length === 0) throw new DecodeError("empty host_name");
    for (const c of name) if (c <= 0x20 || c >= 0x7f) throw new DecodeError("host_name is not printable ASCII");
    host = latin1(name);
  }
  r.expectEnd("server_name");
  return host;
}

function readKeyShareEntry(r: ByteReader): KeyShareEntry {
  const group = r.u16();
  const keyExchange = r.vec16();
  // key_exchange<1..2^16-1> (RFC 8446 section 4.2.8).
  if (keyExchange.length === 0) throw new DecodeError("empty key_exchange");
  return { group, keyExchange: keyExchange.slice() };
}

function readClientShares(data: Uint8Array): KeyShareEntry[] {
  const r = new ByteReader(data);
  const list = r.sub(2);
  const out: KeyShareEntry[] = [];
  while (!list.done) out.push(readKeyShareEntry(list));
  r.expectEnd("key_share");
  return out;
}

/** supported_versions in a ClientHello: versions<2..254> (RFC 8446 section 4.2.1). */
function readClientVersions(data: Uint8Array): number[] {
  const r = new ByteReader(data);
  const list = r.sub(1);
  if (list.remaining < 2 || list.remaining % 2 !== 0) throw new DecodeError("malformed supported_versions");
  const out: number[] = [];
  while (!list.done) out.push(list.u16());
  r.expectEnd("supported_versions");
  return out;
}

function readU8List(data: Uint8Array, what: string): number[] {
  const r = new ByteReader(data);
  const list = r.vec8();
  if (list.length === 0) throw new DecodeError(`empty ${what}`);
  r.expectEnd(what);
  return Array.from(list);
}

function readOfferedPsks(data: Uint8Array): OfferedPsks {
  const r = new ByteReader(data);
  const ids = r.sub(2);
  const identities: PskIdentity[] = [];
  while (!ids.done) {
    const identity = ids.vec16();
    if (identity.length === 0) throw new DecodeError("empty PSK identity");
    identities.push({ identity: identity.slice(), obfuscatedTicketAge: ids.u32() });
  }
  const bl = r.sub(2);
  const binders: Uint8Array[] = [];
  while (!bl.done) {
    const b = bl.vec8();
    // PskBinderEntry<32..255> (RFC 8446 section 4.2.11).
    if (b.length < 32) throw new DecodeError("PSK binder shorter than 32 bytes");
    binders.push(b.slice());
  }
  r.expectEnd("pre_shared_key");
  if (identities.length === 0 || binders.length === 0) throw new DecodeError("empty pre_shared_key lists");
  return { identities, binders };
}

function emptyExtension(data: Uint8Array, what: string): true {
  if (data.length !== 0) throw new DecodeError(`${what} extension must be empty`);
  return true;
}

function readU16(data: Uint8Array, what: string): number {
  const r = new ByteReader(data);
  const v = r.u16();
  r.expectEnd(what);
  return v;
}

function readU32(data: Uint8Array, what: string): number {
  const r = new ByteReader(data);
  const v = r.u32();
  r.expectEnd(what);
  return v;
}

function readVec16(data: Uint8Array, what: string, min = 0): Uint8Array {
  const r = new ByteReader(data);
  const v = r.vec16();
  if (v.length < min) throw new DecodeError(`${what} too short`);
  r.expectEnd(what);
  return v.slice();
}

// ---------------------------------------------------------------------------
// ClientHello

/** Length of the binders list (with its 2-byte prefix) at the end of an encoded ClientHello. */
export function bindersLength(psk: OfferedPsks): number {
  let n = 2;
  for (const b of psk.binders) n += 1 + b.length;
  return n;
}

/**
 * Encodes a ClientHello handshake message. Extensions are written in a fixed
 * order with pre_shared_key last (RFC 8446 section 4.2.11).
 */
export function encodeClientHello(ch: ClientHello): Uint8Array {
  const w = new ByteWriter(512);
  w.u16(TLS12); // legacy_version (RFC 8446 section 4.1.2)
  w.bytes(ch.random);
  w.vec(1, ch.legacySessionId);
  writeU16List(w, ch.cipherSuites);
  w.vec(1, ch.compressionMethods ?? Uint8Array.of(0));
  const exts = w.beginVec(2);
  if (ch.supportedVersions)
    writeExtension(w, ExtensionType.supported_versions, (w) => {
      const m = w.beginVec(1);
      for (const v of ch.supportedVersions!) w.u16(v);
      w.endVec(m);
    });
  if (ch.serverName !== undefined)
    writeExtension(w, ExtensionType.server_name, (w) => {
      const m = w.beginVec(2);
      w.u8(0); // host_name
      w.vec(2, fromLatin1(ch.serverName!));
      w.endVec(m);
    });
  if (ch.supportedGroups) writeExtension(w, ExtensionType.supported_groups, (w) => writeU16List(w, ch.supportedGroups!));
  if (ch.keyShares)
    writeExtension(w, ExtensionType.key_share, (w) => {
      const m = w.beginVec(2);
      for (const ks of ch.keyShares!) w.u16(ks.group).vec(2, ks.keyExchange);
      w.endVec(m);
    });
  if (ch.signatureAlgorithms)
    writeExtension(w, ExtensionType.signature_algorithms, (w) => writeU16List(w, ch.signatureAlgorithms!));
  if (ch.signatureAlgorithmsCert)
    writeExtension(w, ExtensionType.signature_algorithms_cert, (w) => writeU16List(w, ch.signatureAlgorithmsCert!));
  if (ch.alpnProtocols) writeExtension(w, ExtensionType.application_layer_protocol_negotiation, (w) => writeAlpn(w, ch.alpnProtocols!));
  if (ch.pskKeyExchangeModes)
    writeExtension(w, ExtensionType.psk_key_exchange_modes, (w) => w.vec(1, Uint8Array.from(ch.pskKeyExchangeModes!)));
  if (ch.earlyData) writeExtension(w, ExtensionType.early_data, () => {});
  if (ch.cookie) writeExtension(w, ExtensionType.cookie, (w) => w.vec(2, ch.cookie!));
  if (ch.quicTransportParameters)
    writeExtension(w, ExtensionType.quic_transport_parameters, (w) => w.bytes(ch.quicTransportParameters!));
  // CertificateStatusRequest: ocsp(1), empty responder_id_list and request_extensions (RFC 6066 section 8).
  if (ch.statusRequest) writeExtension(w, ExtensionType.status_request, (w) => w.u8(STATUS_TYPE_OCSP).u16(0).u16(0));
  for (const e of ch.extraExtensions ?? []) writeExtension(w, e.type, (w) => w.bytes(e.data));
  if (ch.preSharedKey)
    writeExtension(w, ExtensionType.pre_shared_key, (w) => {
      const ids = w.beginVec(2);
      for (const id of ch.preSharedKey!.identities) w.vec(2, id.identity).u32(id.obfuscatedTicketAge);
      w.endVec(ids);
      const bl = w.beginVec(2);
      for (const b of ch.preSharedKey!.binders) w.vec(1, b);
      w.endVec(bl);
    });
  w.endVec(exts);
  return finishMessage(HandshakeType.client_hello, w);
}

/** A decoded ClientHello plus what the server needs to check the PSK binders. */
export interface DecodedClientHello extends ClientHello {
  legacyVersion: number;
  compressionMethods: Uint8Array;
  extensions: Extension[];
  /** True when pre_shared_key was the last extension (RFC 8446 section 4.2.11). */
  pskIsLast: boolean;
}

/** Decodes a ClientHello body (RFC 8446 section 4.1.2). */
export function decodeClientHello(body: Uint8Array): DecodedClientHello {
  const r = new ByteReader(body);
  const legacyVersion = r.u16();
  const random = r.bytesCopy(32);
  const legacySessionId = r.vec8().slice();
  if (legacySessionId.length > 32) throw new DecodeError("legacy_session_id longer than 32 bytes");
  const suites = r.sub(2);
  // cipher_suites<2..2^16-2>
  if (suites.remaining < 2 || suites.remaining % 2 !== 0) throw new DecodeError("malformed cipher_suites");
  const cipherSuites: number[] = [];
  while (!suites.done) cipherSuites.push(suites.u16());
  const compressionMethods = r.vec8().slice();
  if (compressionMethods.length === 0) throw new DecodeError("empty legacy_compression_methods");
  // A ClientHello without extensions is TLS 1.2 or older; treat as an empty block.
  const extensions = r.done ? [] : decodeExtensions(r);
  r.expectEnd("ClientHello");
  const ch: DecodedClientHello = {
    legacyVersion,
    random,
    legacySessionId,
    cipherSuites,
    compressionMethods,
    extensions,
    pskIsLast: true,
  };
  extensions.forEach((e, i) => {
    const d = e.data;
    switch (e.type) {
      case ExtensionType.server_name: {
        const name = readServerName(d);
        if (name !== undefined) ch.serverName = name;
        break;
      }
      case ExtensionType.supported_groups:
        ch.supportedGroups = readU16List(d, 1, "supported_groups");
        break;
      case ExtensionType.signature_algorithms:
        ch.signatureAlgorithms = readU16List(d, 1, "signature_algorithms");
        break;
      case ExtensionType.signature_algorithms_cert:
        ch.signatureAlgorithmsCert = readU16List(d, 1, "signature_algorithms_cert");
        break;
      case ExtensionType.application_layer_protocol_negotiation:
        ch.alpnProtocols = readAlpn(d);
        break;
      case ExtensionType.key_share:
        ch.keyShares = readClientShares(d);
        break;
      case ExtensionType.supported_versions:
        ch.supportedVersions = readClientVersions(d);
        break;
      case ExtensionType.psk_key_exchange_modes:
        ch.pskKeyExchangeModes = readU8List(d, "psk_key_exchange_modes");
        break;
      case ExtensionType.early_data:
        ch.earlyData = emptyExtension(d, "early_data");
        break;
      case ExtensionType.cookie:
        ch.cookie = readVec16(d, "cookie", 1);
        break;
      case ExtensionType.quic_transport_parameters:
        ch.quicTransportParameters = d.slice();
        break;
      case ExtensionType.status_request:
        ch.statusRequest = readStatusRequest(d);
        break;
      case ExtensionType.pre_shared_key:
        ch.preSharedKey = readOfferedPsks(d);
        ch.pskIsLast = i === extensions.length - 1;
        break;
    }
  });
  return ch;
}

// ---------------------------------------------------------------------------
// ServerHello / HelloRetryRequest

/** True when a ServerHello random marks a HelloRetryRequest (RFC 8446 section 4.1.3). */
export function isHelloRetryRequestRandom(random: Uint8Array): boolean {
  if (random.length !== 32) return false;
  for (let i = 0; i < 32; i++) if (random[i] !== HELLO_RETRY_REQUEST_RANDOM[i]) return false;
  return true;
}

/**
 * Encodes a ServerHello, or a HelloRetryRequest when `selectedGroup` or
 * `cookie` is set (the caller passes HELLO_RETRY_REQUEST_RANDOM as random).
 * Extension order: key_share, pre_shared_key, supported_versions, cookie
 * (the order of RFC 8448's traces).
 */
export function encodeServerHello(sh: ServerHello): Uint8Array {
  const w = new ByteWriter(128);
  w.u16(TLS12);
  w.bytes(sh.random);
  w.vec(1, sh.legacySessionIdEcho);
  w.u16(sh.cipherSuite);
  w.u8(0); // legacy_compression_method
  const exts = w.beginVec(2);
  if (sh.keyShare) writeExtension(w, ExtensionType.key_share, (w) => w.u16(sh.keyShare!.group).vec(2, sh.keyShare!.keyExchange));
  if (sh.selectedGroup !== undefined) writeExtension(w, ExtensionType.key_share, (w) => w.u16(sh.selectedGroup!));
  if (sh.selectedIdentity !== undefined) writeExtension(w, ExtensionType.pre_shared_key, (w) => w.u16(sh.selectedIdentity!));
  if (sh.supportedVersion !== undefined) writeExtension(w, ExtensionType.supported_versions, (w) => w.u16(sh.supportedVersion!));
  if (sh.cookie) writeExtension(w, ExtensionType.cookie, (w) => w.vec(2, sh.cookie!));
  w.endVec(exts);
  return finishMessage(HandshakeType.server_hello, w);
}

/** A decoded ServerHello. */
export interface DecodedServerHello extends ServerHello {
  legacyVersion: number;
  compressionMethod: number;
  extensions: Extension[];
  isHelloRetryRequest: boolean;
}

/** Decodes a ServerHello or HelloRetryRequest body (RFC 8446 section 4.1.3, 4.1.4). */
export function decodeServerHello(body: Uint8Array): DecodedServerHello {
  const r = new ByteReader(body);
  const legacyVersion = r.u16();
  const random = r.bytesCopy(32);
  const legacySessionIdEcho = r.vec8().slice();
  if (legacySessionIdEcho.length > 32) throw new DecodeError("legacy_session_id_echo longer than 32 bytes");
  const cipherSuite = r.u16();
  const compressionMethod = r.u8();
  const extensions = r.done ? [] : decodeExtensions(r);
  r.expectEnd("ServerHello");
  const isHelloRetryRequest = isHelloRetryRequestRandom(random);
  const sh: DecodedServerHello = {
    legacyVersion,
    random,
    legacySessionIdEcho,
    cipherSuite,
    compressionMethod,
    extensions,
    isHelloRetryRequest,
  };
  for (const e of extensions) {
    switch (e.type) {
      case ExtensionType.supported_versions:
        sh.supportedVersion = readU16(e.data, "supported_versions");
        break;
      case ExtensionType.key_share:
        if (isHelloRetryRequest) sh.selectedGroup = readU16(e.data, "key_share");
        else {
          const kr = new ByteReader(e.data);
          sh.keyShare = readKeyShareEntry(kr);
          kr.expectEnd("key_share");
        }
        break;
      case ExtensionType.pre_shared_key:
        sh.selectedIdentity = readU16(e.data, "pre_shared_key");
        break;
      case ExtensionType.cookie:
        sh.cookie = readVec16(e.data, "cookie", 1);
        break;
    }
  }
  return sh;
}

// ---------------------------------------------------------------------------
// EncryptedExtensions

/** Encodes EncryptedExtensions (RFC 8446 section 4.3.1). */
export function encodeEncryptedExtensions(ee: EncryptedExtensions): Uint8Array {
  const w = new ByteWriter(128);
  const exts = w.beginVec(2);
  if (ee.serverNameAck) writeExtension(w, ExtensionType.server_name, () => {});
  if (ee.supportedGroups) writeExtension(w, ExtensionType.supported_groups, (w) => writeU16List(w, ee.supportedGroups!));
  if (ee.alpnProtocols) writeExtension(w, ExtensionType.application_layer_protocol_negotiation, (w) => writeAlpn(w, ee.alpnProtocols!));
  if (ee.earlyData) writeExtension(w, ExtensionType.early_data, () => {});
  if (ee.quicTransportParameters)
    writeExtension(w, ExtensionType.quic_transport_parameters, (w) => w.bytes(ee.quicTransportParameters!));
  w.endVec(exts);
  return finishMessage(HandshakeType.encrypted_extensions, w);
}

/** Decodes an EncryptedExtensions body (RFC 8446 section 4.3.1). */
export function decodeEncryptedExtensions(body: Uint8Array): EncryptedExtensions & { extensions: Extension[] } {
  const r = new ByteReader(body);
  const extensions = decodeExtensions(r);
  r.expectEnd("EncryptedExtensions");
  const ee: EncryptedExtensions & { extensions: Extension[] } = { extensions };
  for (const e of extensions) {
    switch (e.type) {
      case ExtensionType.server_name:
        ee.serverNameAck = emptyExtension(e.data, "server_name");
        break;
      case ExtensionType.supported_groups:
        ee.supportedGroups = readU16List(e.data, 1, "supported_groups");
        break;
      case ExtensionType.application_layer_protocol_negotiation:
        ee.alpnProtocols = readAlpn(e.data);
        break;
      case ExtensionType.early_data:
        ee.earlyData = emptyExtension(e.data, "early_data");
        break;
      case ExtensionType.quic_transport_parameters:
        ee.quicTransportParameters = e.data.slice();
        break;
    }
  }
  return ee;
}

// ---------------------------------------------------------------------------
// Certificate, CertificateRequest, CertificateVerify, Finished

/** Encodes a Certificate message (RFC 8446 section 4.4.2). */
export function encodeCertificate(c: Certificate): Uint8Array {
  const w = new ByteWriter(2048);
  w.vec(1, c.requestContext);
  const list = w.beginVec(3);
  for (const e of c.entries) {
    w.vec(3, e.data);
    const ex = w.beginVec(2);
    for (const x of e.extensions) writeExtension(w, x.type, (w) => w.bytes(x.data));
    w.endVec(ex);
  }
  w.endVec(list);
  return finishMessage(HandshakeType.certificate, w);
}

/** Decodes a Certificate body (RFC 8446 section 4.4.2). */
export function decodeCertificate(body: Uint8Array): Certificate {
  const r = new ByteReader(body);
  const requestContext = r.vec8().slice();
  const list = r.sub(3);
  const entries: CertificateEntry[] = [];
  while (!list.done) {
    const data = list.vec24();
    // cert_data<1..2^24-1>
    if (data.length === 0) throw new DecodeError("empty certificate entry");
    const extensions = decodeExtensions(list);
    entries.push({ data: data.slice(), extensions });
  }
  r.expectEnd("Certificate");
  return { requestContext, entries };
}

/** Encodes a CertificateRequest (RFC 8446 section 4.3.2). */
export function encodeCertificateRequest(cr: CertificateRequest): Uint8Array {
  const w = new ByteWriter(64);
  w.vec(1, cr.requestContext);
  const exts = w.beginVec(2);
  if (cr.signatureAlgorithms)
    writeExtension(w, ExtensionType.signature_algorithms, (w) => writeU16List(w, cr.signatureAlgorithms!));
  if (cr.signatureAlgorithmsCert)
    writeExtension(w, ExtensionType.signature_algorithms_cert, (w) => writeU16List(w, cr.signatureAlgorithmsCert!));
  w.endVec(exts);
  return finishMessage(HandshakeType.certificate_request, w);
}

/** Decodes a CertificateRequest body (RFC 8446 section 4.3.2). */
export function decodeCertificateRequest(body: Uint8Array): CertificateRequest & { extensions: Extension[] } {
  const r = new ByteReader(body);
  const requestContext = r.vec8().slice();
  const extensions = decodeExtensions(r);
  r.expectEnd("CertificateRequest");
  const cr: CertificateRequest & { extensions: Extension[] } = { requestContext, extensions };
  for (const e of extensions) {
    if (e.type === ExtensionType.signature_algorithms) cr.signatureAlgorithms = readU16List(e.data, 1, "signature_algorithms");
    else if (e.type === ExtensionType.signature_algorithms_cert)
      cr.signatureAlgorithmsCert = readU16List(e.data, 1, "signature_algorithms_cert");
  }
  return cr;
}

/** Encodes a CertificateVerify (RFC 8446 section 4.4.3). */
export function encodeCertificateVerify(cv: CertificateVerify): Uint8Array {
  const w = new ByteWriter(cv.signature.length + 4);
  w.u16(cv.scheme).vec(2, cv.signature);
  return finishMessage(HandshakeType.certificate_verify, w);
}

/** Decodes a CertificateVerify body (RFC 8446 section 4.4.3). */
export function decodeCertificateVerify(body: Uint8Array): CertificateVerify {
  const r = new ByteReader(body);
  const scheme = r.u16();
  const signature = r.vec16().slice();
  r.expectEnd("CertificateVerify");
  return { scheme, signature };
}

/** Encodes a Finished message (RFC 8446 section 4.4.4). */
export function encodeFinished(verifyData: Uint8Array): Uint8Array {
  return frameHandshake(HandshakeType.finished, verifyData);
}

/** Decodes a Finished body; its length must be the suite's hash length (RFC 8446 section 4.4.4). */
export function decodeFinished(body: Uint8Array, hashLength: number): Uint8Array {
  if (body.length !== hashLength) throw new DecodeError(`Finished of ${body.length} bytes, expected ${hashLength}`);
  return body.slice();
}

// ---------------------------------------------------------------------------
// Post-handshake messages

/** Encodes a NewSessionTicket (RFC 8446 section 4.6.1). */
export function encodeNewSessionTicket(t: NewSessionTicket): Uint8Array {
  const w = new ByteWriter(256);
  w.u32(t.lifetime).u32(t.ageAdd).vec(1, t.nonce).vec(2, t.ticket);
  const exts = w.beginVec(2);
  if (t.maxEarlyDataSize !== undefined) writeExtension(w, ExtensionType.early_data, (w) => w.u32(t.maxEarlyDataSize!));
  w.endVec(exts);
  return finishMessage(HandshakeType.new_session_ticket, w);
}

/** Decodes a NewSessionTicket body (RFC 8446 section 4.6.1). */
export function decodeNewSessionTicket(body: Uint8Array): NewSessionTicket & { extensions: Extension[] } {
  const r = new ByteReader(body);
  const lifetime = r.u32();
  const ageAdd = r.u32();
  const nonce = r.vec8().slice();
  const ticket = r.vec16().slice();
  // ticket<1..2^16-1>
  if (ticket.length === 0) throw new DecodeError("empty ticket");
  const extensions = decodeExtensions(r);
  r.expectEnd("NewSessionTicket");
  const t: NewSessionTicket & { extensions: Extension[] } = { lifetime, ageAdd, nonce, ticket, extensions };
  for (const e of extensions) if (e.type === ExtensionType.early_data) t.maxEarlyDataSize = readU32(e.data, "early_data");
  return t;
}

/** Encodes a KeyUpdate (RFC 8446 section 4.6.3). */
export function encodeKeyUpdate(requestUpdate: boolean): Uint8Array {
  return frameHandshake(HandshakeType.key_update, Uint8Array.of(requestUpdate ? 1 : 0));
}

/** Decodes a KeyUpdate body; returns whether the peer requested an update. */
export function decodeKeyUpdate(body: Uint8Array): boolean {
  const r = new ByteReader(body);
  const v = r.u8();
  r.expectEnd("KeyUpdate");
  // RFC 8446 section 4.6.3: any other value is illegal_parameter.
  if (v > 1) throw new TlsAlertError(AlertDescription.illegal_parameter, `KeyUpdate request_update ${v}`);
  return v === 1;
}

/** Encodes EndOfEarlyData (RFC 8446 section 4.5): an empty body. */
export function encodeEndOfEarlyData(): Uint8Array {
  return frameHandshake(HandshakeType.end_of_early_data, new Uint8Array(0));
}
