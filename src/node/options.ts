/**
 * Options of the Node-style API (seed 001) and their translation to the
 * core's {@link ConnectionConfig}. Every option name is checked: the ones
 * this stack cannot honour (OpenSSL engines, bit masks, PFX...) throw
 * ERR_QUIC_OPTION_UNSUPPORTED, misspelt or unknown ones throw
 * ERR_QUIC_OPTION_UNKNOWN, so no setting is silently ignored.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import type { LookupAddress } from "node:dns";
import { isIP } from "node:net";
import type { ConnectionConfig, TransportSettings } from "../quic/config.js";
import type { CipherSuiteName } from "../crypto/suites.js";
import type { GroupName } from "../tls/constants.js";
import type { H3ConnectionOptions } from "../h3/connection.js";
import type { PreferredAddressConfig } from "../quic/path/preferred.js";
import type { SocketAddress } from "../quic/types.js";
import { QuicOptionError } from "./errors.js";
import type { QlogSetting } from "./qlog.js";

/** Certificates: PEM text (one or more blocks), DER bytes, or a list of them. */
export type CertInput = string | Uint8Array | Array<string | Uint8Array>;
/** A private key: PEM, DER, a KeyObject, or (Node's form) a list holding one of those or `{ pem, passphrase }`. */
export type KeyInput = string | Uint8Array | KeyObject | Array<string | Uint8Array | KeyObject | { pem: string | Uint8Array; passphrase?: string }>;

/** A custom DNS lookup (seed 001, "Custom DNS lookup functions"). */
export type LookupFunction = (address: string | undefined, family: 4 | 6) => Promise<LookupAddress | { address: string; family: number }>;

/** An address object as Node reports them. */
export interface AddressInfo {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
}

/**
 * The credentials a server uses for a handshake: what `clientHelloHandler`
 * returns in place of Node's `tls.SecureContext` (make one with
 * {@link createSecureContext}, or return a plain `{ cert, key }`).
 */
export interface SecureContext {
  readonly cert: CertInput;
  /** The decrypted private key. */
  readonly key: KeyObject;
  /** CA certificates (to verify client certificates). */
  readonly ca?: CertInput;
}

/** Inputs of {@link createSecureContext}. */
export interface SecureContextOptions {
  cert: CertInput;
  key: KeyInput;
  passphrase?: string;
  ca?: CertInput;
}

/** The options of HTTP/3 sessions (`h3` in listen/connect). */
export interface H3Options {
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204 section 5). */
  qpackMaxTableCapacity?: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204 section 5). */
  qpackBlockedStreams?: number;
  /** SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 section 7.2.4.1). */
  maxHeaderListSize?: number;
  /** Server push is not offered: only 0 is accepted. */
  maxPushes?: number;
}

/** Transport parameters and congestion control, common to listen() and connect(). */
export interface TransportOptions {
  /** initial_max_data, bytes. */
  maxData?: number;
  /** initial_max_stream_data_bidi_local, bytes. */
  maxStreamDataBidiLocal?: number;
  /** initial_max_stream_data_bidi_remote, bytes. */
  maxStreamDataBidiRemote?: number;
  /** initial_max_stream_data_uni, bytes. */
  maxStreamDataUni?: number;
  /** initial_max_streams_bidi. */
  maxStreamsBidi?: number;
  /** initial_max_streams_uni. */
  maxStreamsUni?: number;
  /** max_idle_timeout in milliseconds (0 disables). */
  idleTimeout?: number;
  /** max_ack_delay in milliseconds. */
  maxAckDelay?: number;
  /** max_udp_payload_size we accept, bytes (1200..65527). */
  maxUdpPayloadSize?: number;
  /** active_connection_id_limit, 2..8. */
  activeConnectionIdLimit?: number;
  /** "reno" (default) or "cubic". */
  congestionAlgorithm?: "reno" | "cubic";
}

/** Options shared by listen() and connect(). */
export interface SessionOptions extends TransportOptions {
  /** The ALPN protocol identifier (required). "h3" turns on the headers API of streams. */
  alpn?: string;
  ca?: CertInput;
  cert?: CertInput;
  key?: KeyInput;
  /** Passphrase of an encrypted key (decrypted with node:crypto createPrivateKey). */
  passphrase?: string;
  /** TLS 1.3 suites, colon separated: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256. */
  ciphers?: string;
  /** "auto" or colon-separated groups: X25519, P-256 (prime256v1), P-384 (secp384r1). */
  ecdhCurve?: string;
  /** Streams' buffer size before write() returns false. Default 16384. */
  highWaterMark?: number;
  /** Streams' default string encoding. Default "utf8". */
  defaultEncoding?: BufferEncoding;
  /** HTTP/3 settings (ALPN "h3"). */
  h3?: H3Options;
  /** Trace sessions in qlog: `true` gives each a stream.Readable (`session.qlog`), `{ dir }` writes a `.sqlog` file per connection. */
  qlog?: QlogSetting;
  /**
   * 0-RTT (RFC 9001 section 4.6). listen: accept early data (default
   * false: it can be replayed; each ticket allows it once, see
   * src/quic/early-data.ts). connect: send streams opened before `secure`
   * in 0-RTT when resuming with a ticket that allows it (default true).
   */
  earlyData?: boolean;
  lookup?: LookupFunction;
}

/** What clientHelloHandler may return. */
export type ClientHelloResult = SecureContext | SecureContextOptions | undefined;

/** Options of {@link QuicSocket.listen}. */
export interface ListenOptions extends SessionOptions {
  /** Request a client certificate (verified against `ca`). */
  requestCert?: boolean;
  /** With requestCert: refuse clients without a valid certificate. Default true. */
  rejectUnauthorized?: boolean;
  /** Picks the credentials by server name at the start of each handshake (seed 001, "Handling client hello"). */
  clientHelloHandler?: (alpn: string | undefined, servername: string | undefined, ciphers: string[]) => ClientHelloResult | Promise<ClientHelloResult>;
  /** Supplies the OCSP response to staple: `(type: 'request', { servername, context }) => { data, context? }` (seed 001, "OCSP"). */
  ocspHandler?: (type: "request", options: { servername: string | undefined; context: SecureContext }) => OcspAnswer | Promise<OcspAnswer>;
  /**
   * An address to offer clients in preferred_address (RFC 9000 section
   * 9.6): `{ address, port, type }` as in the Node documentation (port 0
   * picks a free one), or `{ ipv4, ipv6 }` with one of each family. A
   * socket is bound there on the first endpoint.
   */
  preferredAddress?: PreferredAddressOption;
}

/** A preferred address: one (Node's form) or one per family. */
export type PreferredAddressOption = { address: string; port?: number; type?: "udp4" | "udp6" } | { ipv4?: { address: string; port?: number }; ipv6?: { address: string; port?: number } };

/** What a server's ocspHandler returns. */
export type OcspAnswer = { data?: Uint8Array | string; context?: SecureContext | SecureContextOptions } | undefined;

/** Options of {@link QuicSocket.connect}. */
export interface ConnectOptions extends SessionOptions {
  /** The server's host name or IP address. Default "localhost". */
  address?: string;
  /** The server's port. */
  port?: number;
  /** Address family to resolve: "udp4" (default) or "udp6". */
  type?: "udp4" | "udp6";
  /** SNI and the name the certificate is verified against. Default: `address`. */
  servername?: string;
  /** Verify the server's certificate (default true). */
  rejectUnauthorized?: boolean;
  /**
   * The session of an earlier session's 'sessionTicket' event, to resume
   * (its TLS ticket, which carries the server's transport parameters for
   * 0-RTT, and the server's NEW_TOKEN token).
   */
  sessionTicket?: Uint8Array;
  /**
   * The second argument of 'sessionTicket': optional, since the session
   * carries them; when given, they replace those remembered in the ticket
   * for 0-RTT (RFC 9000 section 7.4.1).
   */
  remoteTransportParams?: Uint8Array;
  /** 'accept': move to the server's preferred address after the handshake (RFC 9000 section 9.6) and emit usePreferredAddress. Default 'reject'. */
  preferredAddressPolicy?: "accept" | "reject";
  /** Asks for a stapled OCSP response and receives it: `(type: 'response', { data }) => void`. */
  ocspHandler?: (type: "response", options: { data: Buffer }) => void | Promise<void>;
}

/** Local binding of a {@link QuicEndpoint}. */
export interface EndpointOptions {
  /** Local address or host name. Default: any address of the family. */
  address?: string;
  /** Local port; 0 (default) picks one. */
  port?: number;
  /** "udp4" (default), "udp6", or "udp6-only" (no IPv4-mapped traffic). */
  type?: "udp4" | "udp6" | "udp6-only";
  lookup?: LookupFunction;
}

/** Options of {@link createQuicSocket}. */
export interface QuicSocketOptions {
  /** The first local binding. */
  endpoint?: EndpointOptions;
  /** Defaults for connect(). */
  client?: ConnectOptions;
  /** Defaults for listen(). */
  server?: ListenOptions;
  /** Do not send stateless resets (RFC 9000 section 10.3). */
  disableStatelessReset?: boolean;
  lookup?: LookupFunction;
  /** Most inbound connections at once; further ones are refused with CONNECTION_REFUSED. */
  maxConnections?: number;
  /** Most inbound connections per remote IP address. Default 100. */
  maxConnectionsPerHost?: number;
  /** Default `qlog` of the sessions listen() accepts (see {@link SessionOptions.qlog}). */
  qlog?: QlogSetting;
  /** How long a Retry token stays valid, seconds. Default 10. */
  retryTokenTimeout?: number;
  /** Secret (16+ bytes) for stateless reset tokens; share it across restarts. Default random. */
  statelessResetSecret?: Uint8Array;
  /** Validate client addresses with a Retry round trip (RFC 9000 section 8.1.2). */
  validateAddress?: boolean;
}

/** Options of the Node documentation this stack cannot honour, by where they appear. */
const UNSUPPORTED: Record<string, string> = {
  pfx: "PKCS#12 is not parsed by node:crypto; pass cert and key",
  clientCertEngine: "OpenSSL engines do not exist here",
  privateKeyEngine: "OpenSSL engines do not exist here",
  privateKeyIdentifier: "OpenSSL engines do not exist here",
  secureOptions: "OpenSSL SSL_OP_* bit masks do not apply to this TLS 1.3 implementation",
  dhparam: "TLS 1.3 has no finite-field DHE parameters to set",
  honorCipherOrder: "the server always picks by its own preference (TLS 1.3, RFC 8446 section 4.1.1)",
  crl: "certificate revocation lists are not checked",
  sessionIdContext: "session tickets are bound to the listen() configuration already",
  maxStatelessResetsPerHost: "stateless resets are rate-limited per socket, not per host",
};

const TRANSPORT_KEYS = [
  "maxData",
  "maxStreamDataBidiLocal",
  "maxStreamDataBidiRemote",
  "maxStreamDataUni",
  "maxStreamsBidi",
  "maxStreamsUni",
  "idleTimeout",
  "maxAckDelay",
  "maxUdpPayloadSize",
  "activeConnectionIdLimit",
  "congestionAlgorithm",
];
const SESSION_KEYS = [...TRANSPORT_KEYS, "alpn", "ca", "cert", "key", "passphrase", "ciphers", "ecdhCurve", "highWaterMark", "defaultEncoding", "h3", "qlog", "earlyData", "lookup"];
const KNOWN = {
  listen: new Set([...SESSION_KEYS, "requestCert", "rejectUnauthorized", "clientHelloHandler", "ocspHandler", "preferredAddress"]),
  connect: new Set([...SESSION_KEYS, "address", "port", "type", "servername", "rejectUnauthorized", "sessionTicket", "remoteTransportParams", "preferredAddressPolicy", "ocspHandler"]),
  endpoint: new Set(["address", "port", "type", "lookup"]),
  socket: new Set([
    "endpoint",
    "client",
    "server",
    "disableStatelessReset",
    "lookup",
    "maxConnections",
    "maxConnectionsPerHost",
    "qlog",
    "retryTokenTimeout",
    "statelessResetSecret",
    "validateAddress",
  ]),
  h3: new Set(["qpackMaxTableCapacity", "qpackBlockedStreams", "maxHeaderListSize", "maxPushes"]),
};

/** Rejects unsupported and unknown option names of `where` ("listen", "connect"...). */
export function checkOptionNames(where: keyof typeof KNOWN, o: object | undefined): void {
  if (o === undefined || o === null) return;
  if (typeof o !== "object") throw new QuicOptionError("ERR_INVALID_ARG_TYPE", where, `${where} options must be an object`);
  for (const [name, value] of Object.entries(o)) {
    if (KNOWN[where].has(name)) continue;
    if (value === undefined) continue;
    const why = UNSUPPORTED[name];
    if (why) throw new QuicOptionError("ERR_QUIC_OPTION_UNSUPPORTED", `${where}.${name}`, `${where}.${name} is not supported: ${why}`);
    throw new QuicOptionError("ERR_QUIC_OPTION_UNKNOWN", `${where}.${name}`, `unknown option ${where}.${name}`);
  }
}

function invalid(option: string, message: string): never {
  throw new QuicOptionError("ERR_INVALID_ARG_VALUE", option, `${option} ${message}`);
}

function checkInteger(option: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) invalid(option, `must be an integer in ${min}..${max}, got ${String(v)}`);
  return v;
}

const VARINT_MAX = 2 ** 62 - 1; // RFC 9000 section 16
const STREAMS_MAX = 2 ** 60; // RFC 9000 section 4.6

/** The transport parameters of listen/connect options (RFC 9000 section 18.2). */
export function transportSettings(where: string, o: TransportOptions): Partial<TransportSettings> {
  const t: Partial<TransportSettings> = {};
  const set = <K extends keyof TransportSettings>(k: K, v: number | undefined): void => {
    if (v !== undefined) t[k] = v as TransportSettings[K];
  };
  set("initialMaxData", checkInteger(`${where}.maxData`, o.maxData, 0, VARINT_MAX));
  set("initialMaxStreamDataBidiLocal", checkInteger(`${where}.maxStreamDataBidiLocal`, o.maxStreamDataBidiLocal, 0, VARINT_MAX));
  set("initialMaxStreamDataBidiRemote", checkInteger(`${where}.maxStreamDataBidiRemote`, o.maxStreamDataBidiRemote, 0, VARINT_MAX));
  set("initialMaxStreamDataUni", checkInteger(`${where}.maxStreamDataUni`, o.maxStreamDataUni, 0, VARINT_MAX));
  set("initialMaxStreamsBidi", checkInteger(`${where}.maxStreamsBidi`, o.maxStreamsBidi, 0, STREAMS_MAX));
  set("initialMaxStreamsUni", checkInteger(`${where}.maxStreamsUni`, o.maxStreamsUni, 0, STREAMS_MAX));
  set("maxIdleTimeout", checkInteger(`${where}.idleTimeout`, o.idleTimeout, 0, VARINT_MAX));
  // max_ack_delay below 2^14 ms (RFC 9000 section 18.2).
  set("maxAckDelay", checkInteger(`${where}.maxAckDelay`, o.maxAckDelay, 0, 2 ** 14 - 1));
  set("maxUdpPayloadSize", checkInteger(`${where}.maxUdpPayloadSize`, o.maxUdpPayloadSize, 1200, 65527));
  // The Node documentation bounds it to 2..8; RFC 9000 section 18.2 asks for at least 2.
  set("activeConnectionIdLimit", checkInteger(`${where}.activeConnectionIdLimit`, o.activeConnectionIdLimit, 2, 8));
  return t;
}

/** "reno" or "cubic". */
export function congestionAlgorithm(where: string, v: unknown): "reno" | "cubic" | undefined {
  if (v === undefined) return undefined;
  if (v !== "reno" && v !== "cubic") invalid(`${where}.congestionAlgorithm`, `must be 'reno' or 'cubic', got ${String(v)}`);
  return v;
}

const SUITES: ReadonlySet<string> = new Set(["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]);
const CURVES: Record<string, GroupName> = {
  x25519: "x25519",
  "p-256": "secp256r1",
  prime256v1: "secp256r1",
  secp256r1: "secp256r1",
  "p-384": "secp384r1",
  secp384r1: "secp384r1",
};

/** TLS suites from Node's colon-separated `ciphers`; only TLS 1.3 suites exist here. */
export function cipherSuites(where: string, v: unknown): CipherSuiteName[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string") invalid(`${where}.ciphers`, "must be a string");
  const names = v.split(":").filter((s) => s.length > 0);
  for (const n of names) if (!SUITES.has(n)) invalid(`${where}.ciphers`, `names ${n}; only the TLS 1.3 suites ${[...SUITES].join(", ")} exist here`);
  if (names.length === 0) invalid(`${where}.ciphers`, "lists no suite");
  return names as CipherSuiteName[];
}

/** Key-exchange groups from Node's `ecdhCurve` ("auto" keeps the defaults). */
export function groups(where: string, v: unknown): GroupName[] | undefined {
  if (v === undefined || v === "auto") return undefined;
  if (typeof v !== "string") invalid(`${where}.ecdhCurve`, "must be a string");
  return v.split(":").map((n) => CURVES[n.toLowerCase()] ?? invalid(`${where}.ecdhCurve`, `names ${n}; supported: X25519, P-256, P-384`));
}

/** Decrypts and parses a private key (Node's `key` forms); a wrong passphrase fails here, naming the option. */
export function privateKey(where: string, key: KeyInput, passphrase: string | undefined): KeyObject {
  let k: unknown = key;
  let pass = passphrase;
  if (Array.isArray(key)) {
    if (key.length !== 1) invalid(`${where}.key`, "must hold exactly one key (one certificate chain per listen() here)");
    k = key[0];
    if (k && typeof k === "object" && "pem" in k) {
      pass = (k as { passphrase?: string }).passphrase ?? passphrase;
      k = (k as { pem: unknown }).pem;
    }
  }
  if (k && typeof k === "object" && (k as KeyObject).type === "private") return k as KeyObject;
  try {
    if (typeof k === "string") return createPrivateKey({ key: k, format: "pem", ...(pass !== undefined ? { passphrase: pass } : {}) });
    if (k instanceof Uint8Array) {
      const text = Buffer.from(k.buffer, k.byteOffset, k.byteLength);
      // PEM in a buffer, or DER (PKCS#8).
      if (text.includes("-----BEGIN")) return createPrivateKey({ key: text.toString("latin1"), format: "pem", ...(pass !== undefined ? { passphrase: pass } : {}) });
      return createPrivateKey({ key: text, format: "der", type: "pkcs8", ...(pass !== undefined ? { passphrase: pass } : {}) });
    }
  } catch (e) {
    throw new QuicOptionError("ERR_INVALID_ARG_VALUE", `${where}.key`, `${where}.key cannot be loaded${pass !== undefined ? " with the passphrase given" : ""}: ${(e as Error).message}`);
  }
  return invalid(`${where}.key`, "must be PEM text, DER bytes or a KeyObject");
}

const CONTEXT = Symbol("tsquic.SecureContext");

/**
 * Makes the credentials object `clientHelloHandler` returns (tsquic's
 * stand-in for `tls.createSecureContext`): the key is decrypted now.
 */
export function createSecureContext(options: SecureContextOptions): SecureContext {
  if (!options?.cert || !options.key) invalid("createSecureContext", "needs cert and key");
  const ctx = { cert: options.cert, key: privateKey("createSecureContext", options.key, options.passphrase), ...(options.ca !== undefined ? { ca: options.ca } : {}) };
  Object.defineProperty(ctx, CONTEXT, { value: true });
  return Object.freeze(ctx);
}

/** A {@link SecureContext} from what a handler returned; undefined keeps the default. */
export function toSecureContext(where: string, v: unknown): SecureContext | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "object" && (v as Record<symbol, unknown>)[CONTEXT]) return v as SecureContext;
  if (typeof v === "object" && "cert" in v && "key" in v) return createSecureContext(v as SecureContextOptions);
  return invalid(where, "must return undefined, a SecureContext from createSecureContext(), or { cert, key }");
}

/** The HTTP/3 settings of the `h3` option. */
export function h3Options(where: string, v: H3Options | undefined): H3ConnectionOptions {
  if (v === undefined) return {};
  checkOptionNames("h3", v);
  if (v.maxPushes !== undefined && v.maxPushes !== 0)
    throw new QuicOptionError("ERR_QUIC_OPTION_UNSUPPORTED", `${where}.h3.maxPushes`, `${where}.h3.maxPushes is not supported: HTTP/3 server push is not offered`);
  const o: H3ConnectionOptions = {};
  const cap = checkInteger(`${where}.h3.qpackMaxTableCapacity`, v.qpackMaxTableCapacity, 0, 2 ** 30);
  if (cap !== undefined) o.qpackMaxTableCapacity = cap;
  const blocked = checkInteger(`${where}.h3.qpackBlockedStreams`, v.qpackBlockedStreams, 0, 2 ** 16);
  if (blocked !== undefined) o.qpackBlockedStreams = blocked;
  const size = checkInteger(`${where}.h3.maxHeaderListSize`, v.maxHeaderListSize, 1, 2 ** 30);
  if (size !== undefined) o.maxFieldSectionSize = size;
  return o;
}

/** Per-stream defaults taken from listen/connect options (Node's defaults: 16 KiB, utf8). */
export interface StreamDefaults {
  highWaterMark: number;
  defaultEncoding: BufferEncoding;
}

/** The stream defaults of listen/connect options. */
export function streamDefaults(where: string, o: SessionOptions): StreamDefaults {
  const hwm = checkInteger(`${where}.highWaterMark`, o.highWaterMark, 0, 2 ** 31) ?? 16384;
  const enc = o.defaultEncoding ?? "utf8";
  if (!Buffer.isEncoding(enc)) invalid(`${where}.defaultEncoding`, `is not an encoding: ${String(enc)}`);
  return { highWaterMark: hwm, defaultEncoding: enc };
}

/** The ALPN identifier; required (QUIC has no default application, RFC 9001 section 8.1). */
export function alpnOf(where: string, v: unknown): string {
  if (typeof v !== "string" || v.length === 0 || v.length > 255) invalid(`${where}.alpn`, "is required: a protocol identifier of 1..255 characters");
  return v;
}

/** The ConnectionConfig fields common to both roles. */
export function commonConfig(where: string, o: SessionOptions): Pick<ConnectionConfig, "transport" | "congestionControl"> & { cipherSuites?: CipherSuiteName[]; groups?: GroupName[] } {
  const cc = congestionAlgorithm(where, o.congestionAlgorithm);
  const suites = cipherSuites(where, o.ciphers);
  const g = groups(where, o.ecdhCurve);
  return {
    transport: transportSettings(where, o),
    ...(cc ? { congestionControl: cc } : {}),
    ...(suites ? { cipherSuites: suites } : {}),
    ...(g ? { groups: g } : {}),
  };
}

/**
 * The preferred address of listen options, one per family; a port of 0
 * means "bind a free one". Host names are not taken: the address goes into
 * the transport parameter as is (RFC 9000 section 18.2).
 */
export function preferredAddressOption(where: string, v: PreferredAddressOption | undefined): PreferredAddressConfig | undefined {
  if (v === undefined) return undefined;
  const option = `${where}.preferredAddress`;
  if (typeof v !== "object" || v === null) invalid(option, "must be { address, port } or { ipv4, ipv6 }");
  const one = (name: string, a: { address?: unknown; port?: unknown } | undefined, family: 4 | 6): SocketAddress | undefined => {
    if (a === undefined) return undefined;
    if (typeof a.address !== "string" || isIP(a.address) !== family) invalid(`${option}${name}.address`, `must be an IPv${family} address literal, got ${String(a.address)}`);
    // An unspecified address tells the client nothing it could reach.
    if (a.address === "0.0.0.0" || /^[0:]+$/.test(a.address)) invalid(`${option}${name}.address`, "must be a specific address, not the unspecified one");
    return { address: a.address, port: checkInteger(`${option}${name}.port`, a.port, 0, 65535) ?? 0 };
  };
  if ("address" in v) {
    const family = v.type === "udp6" || (v.type === undefined && isIP(v.address) === 6) ? 6 : 4;
    if (v.type !== undefined && v.type !== "udp4" && v.type !== "udp6") invalid(`${option}.type`, "must be 'udp4' or 'udp6'");
    const a = one("", v, family)!;
    return family === 4 ? { ipv4: a } : { ipv6: a };
  }
  const ipv4 = one(".ipv4", v.ipv4, 4);
  const ipv6 = one(".ipv6", v.ipv6, 6);
  if (!ipv4 && !ipv6) invalid(option, "needs an address");
  return { ...(ipv4 ? { ipv4 } : {}), ...(ipv6 ? { ipv6 } : {}) };
}

/** Node's address object for an IP literal and port. */
export function addressInfo(address: string, port: number): AddressInfo {
  return { address, family: address.includes(":") ? "IPv6" : "IPv4", port };
}
