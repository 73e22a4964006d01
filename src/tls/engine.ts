/**
 * What the TLS client and server share: the QUIC-facing boundary (handshake
 * bytes in and out per encryption level, an event whenever a traffic secret
 * is installed; RFC 9001 section 4.1), handshake message framing with size
 * bounds, the event queue, error handling, and configuration helpers.
 *
 * The engine is sans-IO: it never touches sockets, timers or the clock
 * (time arrives as `now`, in milliseconds), and its randomness is injectable.
 */
import type { KeyObject } from "node:crypto";
import { randomBytesFast } from "../crypto/random.js";
import { CIPHER_SUITES, findCipherSuite, type CipherSuite, type CipherSuiteName } from "../crypto/suites.js";
import { loadCertificateChain, loadPrivateKey } from "../pki/pem.js";
import { loadTrustStore, verifyCertificateChain, type TrustStore } from "../pki/verify.js";
import { DecodeError, TsquicError } from "../util/errors.js";
import { toHex } from "../util/bytes.js";
import { AlertDescription, TlsAlertError } from "./alerts.js";
import {
  DEFAULT_SIGNATURE_SCHEMES,
  HandshakeType,
  SIGNATURE_SCHEMES,
  SUPPORTED_GROUPS,
  handshakeTypeName,
  type GroupName,
  type SignatureSchemeName,
} from "./constants.js";
import type { RandomSource } from "./key-exchange.js";
import { KeySchedule, Transcript, nextTrafficSecret } from "./key-schedule.js";
import { HANDSHAKE_HEADER_LENGTH, decodeKeyUpdate, encodeKeyUpdate } from "./messages.js";

/** The empty input buffer, shared. */
const NO_BYTES = new Uint8Array(0);
import type { SessionTicket } from "./ticket.js";

/** QUIC encryption levels (RFC 9001 section 4; "epochs" in some stacks). */
export type EncryptionLevel = "initial" | "zeroRtt" | "handshake" | "oneRtt";

/** Output of the engine, drained with `poll()`. */
export type TlsEvent =
  /** Handshake bytes to send in CRYPTO frames (or TLS records) at `level`. */
  | { type: "data"; level: EncryptionLevel; data: Uint8Array }
  /** A traffic secret to install for `level` and `direction` (RFC 9001 section 4.1.4). */
  | { type: "secret"; level: EncryptionLevel; direction: "read" | "write"; suite: CipherSuite; secret: Uint8Array }
  /** Client: Finished sent. Server: client Finished verified (RFC 9001 section 4.1.1). */
  | { type: "handshakeComplete" }
  /**
   * Client: the 0-RTT write secret must not be used any more: a
   * HelloRetryRequest ended the early data attempt (RFC 8446 section 4.2.10).
   */
  | { type: "earlyDataRejected" }
  /** Client: a NewSessionTicket arrived; keep `ticket` to resume. */
  | { type: "sessionTicket"; ticket: SessionTicket }
  /** An NSS key log line (SSLKEYLOGFILE format) for Wireshark and friends. */
  | { type: "keylog"; line: string };

/** Certificate or key input: PEM text or DER bytes. */
export type PemOrDer = string | Uint8Array;

/** Options shared by {@link TlsClientConfig} and {@link TlsServerConfig}. */
export interface TlsCommonConfig {
  /**
   * "quic" (default): TLS inside QUIC (RFC 9001). "tls": TLS over a byte
   * stream, for tests against TLS peers: transport parameters optional,
   * legacy_session_id echoed (middlebox compatibility, RFC 8446 Appendix D.4),
   * EndOfEarlyData sent and expected, KeyUpdate honoured.
   */
  mode?: "quic" | "tls";
  /** ALPN protocols (RFC 7301), in preference order. */
  alpnProtocols?: string[];
  /** Our encoded QUIC transport parameters (RFC 9000 section 18), sent in extension 0x39. Required in QUIC mode. */
  quicTransportParameters?: Uint8Array;
  /** Cipher suites in preference order (default: all three, AES-128-GCM first). */
  cipherSuites?: Array<CipherSuiteName | CipherSuite>;
  /** Key-exchange groups in preference order (default x25519, secp256r1, secp384r1). */
  groups?: GroupName[];
  /** CertificateVerify schemes accepted and offered, in preference order. */
  signatureAlgorithms?: SignatureSchemeName[];
  /** Trust anchors for verifying the peer (PEM/DER, one or many); replaces the platform root store. */
  ca?: PemOrDer | PemOrDer[];
  /**
   * Verify the peer's certificate chain (default true). false turns chain
   * verification off explicitly; CertificateVerify is still checked.
   */
  rejectUnauthorized?: boolean;
  /** Our certificate chain, leaf first (PEM with one or more blocks, DER, or an array). */
  cert?: PemOrDer | PemOrDer[];
  /** Our private key (PEM, DER or KeyObject). */
  key?: PemOrDer | KeyObject;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string;
  /** Random source (default: the CSPRNG through a small pool); inject for deterministic tests. */
  random?: RandomSource;
  /** Largest handshake message accepted, certificates excepted (default 65536 bytes). */
  maxHandshakeMessageSize?: number;
  /** Largest Certificate message accepted (default 65536 bytes). */
  maxCertificateMessageSize?: number;
  /** Emit `keylog` events (default true). */
  keyLog?: boolean;
}

/** Default bound on buffered handshake messages. */
export const DEFAULT_MAX_HANDSHAKE_MESSAGE_SIZE = 65536;

const defaultRandom: RandomSource = randomBytesFast;

/** Resolves configured suite names to suite objects (RFC 8446 Appendix B.4). */
export function resolveSuites(list: Array<CipherSuiteName | CipherSuite> | undefined): CipherSuite[] {
  if (!list) return [...CIPHER_SUITES];
  const out = list.map((s) => {
    const suite = typeof s === "string" ? findCipherSuite(s) : findCipherSuite(s.id);
    if (!suite) throw new TsquicError("ERR_TLS_CONFIG", `unsupported cipher suite ${String(typeof s === "string" ? s : s.name)}`);
    return suite;
  });
  if (out.length === 0) throw new TsquicError("ERR_TLS_CONFIG", "cipherSuites is empty");
  return out;
}

/** Validates the configured groups. */
export function resolveGroups(list: GroupName[] | undefined): GroupName[] {
  if (!list) return [...SUPPORTED_GROUPS];
  for (const g of list) if (!SUPPORTED_GROUPS.includes(g)) throw new TsquicError("ERR_TLS_CONFIG", `unsupported group ${g}`);
  if (list.length === 0) throw new TsquicError("ERR_TLS_CONFIG", "groups is empty");
  return [...list];
}

/** Validates the configured signature schemes. */
export function resolveSignatureSchemes(list: SignatureSchemeName[] | undefined): SignatureSchemeName[] {
  if (!list) return [...DEFAULT_SIGNATURE_SCHEMES];
  for (const s of list) if (!SIGNATURE_SCHEMES.includes(s)) throw new TsquicError("ERR_TLS_CONFIG", `unsupported signature scheme ${s}`);
  if (list.length === 0) throw new TsquicError("ERR_TLS_CONFIG", "signatureAlgorithms is empty");
  return [...list];
}

/** Validates ALPN names: 1..255 bytes of Latin-1 each (RFC 7301 section 3.1). */
export function resolveAlpn(list: string[] | undefined): string[] {
  for (const p of list ?? []) {
    if (p.length === 0 || p.length > 255 || /[^\x00-\xff]/.test(p)) throw new TsquicError("ERR_TLS_CONFIG", `invalid ALPN protocol ${JSON.stringify(p)}`);
  }
  return [...(list ?? [])];
}

// Trust stores are costly to build (the platform store parses ~150 roots), so
// they are cached per `ca` value: one for the default, and by identity for
// buffers, arrays and strings.
let defaultTrust: TrustStore | undefined;
const trustByObject = new WeakMap<object, TrustStore>();
const trustByString = new Map<string, TrustStore>();

/** The trust store for a `ca` option (cached). */
export function trustStoreFor(ca: PemOrDer | PemOrDer[] | undefined): TrustStore {
  if (ca === undefined) return (defaultTrust ??= loadTrustStore());
  if (typeof ca === "string") {
    let t = trustByString.get(ca);
    if (!t) {
      t = loadTrustStore(ca);
      if (trustByString.size >= 32) trustByString.delete(trustByString.keys().next().value!);
      trustByString.set(ca, t);
    }
    return t;
  }
  let t = trustByObject.get(ca);
  if (!t) {
    t = loadTrustStore(ca);
    trustByObject.set(ca, t);
  }
  return t;
}

/** A certificate chain with its private key. */
export interface LocalCertificate {
  /** DER certificates, leaf first. */
  readonly chain: Uint8Array[];
  /** The leaf's private key. */
  readonly key: KeyObject;
}

/**
 * Loaded credentials by the identity of the `cert` value (a PEM string, a
 * buffer or an array): servers build a fresh TLS config object per
 * connection from one shared configuration, so keying by the config object
 * would parse the certificate and key again for every handshake.
 */
const credentialCache = new Map<unknown, { key: unknown; passphrase: string | undefined; value: LocalCertificate }>();
const CREDENTIAL_CACHE_LIMIT = 64;

/**
 * Loads a certificate chain and key (cached while the same `cert`, `key`
 * and passphrase values are used). Load failures are configuration errors.
 */
export function loadLocalCertificate(owner: { cert?: PemOrDer | PemOrDer[]; key?: PemOrDer | KeyObject; passphrase?: string }): LocalCertificate | undefined {
  if (owner.cert === undefined || owner.key === undefined) return undefined;
  const cached = credentialCache.get(owner.cert);
  if (cached && cached.key === owner.key && cached.passphrase === owner.passphrase) return cached.value;
  const value = { chain: loadCertificateChain(owner.cert), key: loadPrivateKey(owner.key, owner.passphrase) };
  // A bounded cache: a process with many certificates (SNI) reloads the older ones.
  if (credentialCache.size >= CREDENTIAL_CACHE_LIMIT) credentialCache.clear();
  credentialCache.set(owner.cert, { key: owner.key, passphrase: owner.passphrase, value });
  return value;
}

/** Turns anything thrown while handling input into the alert to report. */
export function toAlert(e: unknown): TlsAlertError {
  if (e instanceof TlsAlertError) return e;
  if (e instanceof DecodeError) return new TlsAlertError(AlertDescription.decode_error, e.message, { cause: e });
  const message = e instanceof Error ? e.message : String(e);
  return new TlsAlertError(AlertDescription.internal_error, `internal error: ${message}`, { cause: e });
}

/**
 * Error code marking the few rules RFC 9001 wants reported as the QUIC
 * transport error PROTOCOL_VIOLATION rather than CRYPTO_ERROR(alert): a
 * non-empty legacy_session_id (section 8.4) and a max_early_data_size other
 * than 0xffffffff (section 4.6.1). The alert is still set for TLS use.
 */
export const QUIC_PROTOCOL_VIOLATION = "ERR_QUIC_PROTOCOL_VIOLATION";

/** Shorthand for raising an alert; `code` overrides the default ERR_TLS_ALERT. */
export function alert(name: keyof typeof AlertDescription, reason: string, code?: string): TlsAlertError {
  return new TlsAlertError(AlertDescription[name], reason, code ? { code } : undefined);
}

/** Label of a traffic secret in the NSS key log format. */
function keyLogLabel(level: EncryptionLevel, fromClient: boolean, generation: number): string | undefined {
  switch (level) {
    case "zeroRtt":
      return fromClient ? "CLIENT_EARLY_TRAFFIC_SECRET" : undefined;
    case "handshake":
      return fromClient ? "CLIENT_HANDSHAKE_TRAFFIC_SECRET" : "SERVER_HANDSHAKE_TRAFFIC_SECRET";
    case "oneRtt":
      return `${fromClient ? "CLIENT" : "SERVER"}_TRAFFIC_SECRET_${generation}`;
    default:
      return undefined;
  }
}

/**
 * The machinery common to {@link TlsClient} and {@link TlsServer}. Subclasses
 * implement {@link handleMessage}, a dispatch on their state.
 */
export abstract class TlsEngine {
  /** Negotiated ALPN protocol. */
  alpnProtocol: string | undefined;
  /** The peer's quic_transport_parameters bytes, available as soon as they are received. */
  peerTransportParameters: Uint8Array | undefined;
  /** Negotiated cipher suite. */
  cipherSuite: CipherSuite | undefined;
  /** Negotiated key-exchange group. */
  group: GroupName | undefined;
  /** Scheme of the server's CertificateVerify (undefined when resumed). */
  signatureScheme: SignatureSchemeName | undefined;
  /** Scheme of the client's CertificateVerify, when the client authenticated. */
  clientSignatureScheme: SignatureSchemeName | undefined;
  /** Client: the SNI sent. Server: the SNI received. */
  serverName: string | undefined;
  /**
   * The peer's certificate chain (DER, leaf first); empty when the peer sent
   * none. A resumed client reports the chain stored in its ticket; a resumed
   * server has none (tickets do not carry client certificates).
   */
  peerCertificates: Uint8Array[] = [];
  /** The certificate chain we sent (DER, leaf first); empty when we sent none. */
  localCertificates: Uint8Array[] = [];
  /** Client: the OCSP response the server stapled to its certificate (RFC 8446 section 4.4.2.1), when it sent one. */
  ocspResponse: Uint8Array | undefined;
  /** True when the handshake resumed a session with a PSK. */
  resumed = false;
  /** True when the server accepted 0-RTT. */
  earlyDataAccepted = false;
  /** True once the handshake is complete (see the handshakeComplete event). */
  handshakeComplete = false;
  /** The alert that ended the connection, if one did. */
  error: TlsAlertError | undefined;

  protected readonly mode: "quic" | "tls";
  protected readonly random: RandomSource;
  protected readonly transcript = new Transcript();
  protected schedule: KeySchedule | undefined;
  /** Level at which we expect the peer's next handshake bytes. */
  protected readLevel: EncryptionLevel = "initial";
  /** client_random, for key log lines. */
  protected clientRandom: Uint8Array = new Uint8Array(32);
  /** Current 1-RTT secrets (for KeyUpdate in TLS mode). */
  protected appReadSecret: Uint8Array | undefined;
  protected appWriteSecret: Uint8Array | undefined;
  private appReadGeneration = 0;
  private appWriteGeneration = 0;

  private readonly events: TlsEvent[] = [];
  private inBuffer = NO_BYTES;
  private inStart = 0;
  private inEnd = 0;
  private readonly maxMessage: number;
  private readonly maxCertificate: number;
  private readonly keyLog: boolean;

  constructor(
    protected readonly isClient: boolean,
    config: TlsCommonConfig,
  ) {
    this.mode = config.mode ?? "quic";
    if (this.mode !== "quic" && this.mode !== "tls") throw new TsquicError("ERR_TLS_CONFIG", `unknown mode ${String(this.mode)}`);
    this.random = config.random ?? defaultRandom;
    this.maxMessage = config.maxHandshakeMessageSize ?? DEFAULT_MAX_HANDSHAKE_MESSAGE_SIZE;
    this.maxCertificate = config.maxCertificateMessageSize ?? DEFAULT_MAX_HANDSHAKE_MESSAGE_SIZE;
    this.keyLog = config.keyLog ?? true;
  }

  /** True once the engine failed; every later receive() rethrows {@link error}. */
  get closed(): boolean {
    return this.error !== undefined;
  }

  /**
   * Feeds handshake bytes received at `level`. Accepts any fragmentation:
   * partial messages are buffered, several messages may arrive at once.
   * Throws {@link TlsAlertError} (and only that) when the handshake fails;
   * the engine is then closed.
   */
  receive(level: EncryptionLevel, data: Uint8Array, now: number): void {
    if (this.error) throw this.error;
    try {
      if (data.length === 0) return;
      if (level !== this.readLevel) {
        // RFC 9001 section 4.1.3 / RFC 8446 section 5.1: handshake data must arrive at the level the handshake is at.
        throw alert("unexpected_message", `handshake data at ${level} level while expecting ${this.readLevel}`);
      }
      this.append(data);
      this.drain(now);
      // After the handshake, messages are rare (tickets, key updates): an idle connection keeps no buffer.
      if (this.handshakeComplete && this.inStart === this.inEnd) this.inBuffer = NO_BYTES;
    } catch (e) {
      throw this.fail(e);
    }
  }

  /** The next output event, or undefined when there is none. */
  poll(): TlsEvent | undefined {
    return this.events.shift();
  }

  /**
   * Sends a KeyUpdate (TLS mode only; QUIC has its own key update, RFC 9001
   * section 6) and installs the next write secret (RFC 8446 section 4.6.3).
   */
  sendKeyUpdate(requestPeerUpdate: boolean): void {
    if (this.error) throw this.error;
    if (this.mode !== "tls") throw new TsquicError("ERR_TLS_STATE", "KeyUpdate is not used with QUIC (RFC 9001 section 6)");
    if (!this.handshakeComplete || !this.appWriteSecret) throw new TsquicError("ERR_TLS_STATE", "handshake not complete");
    this.send("oneRtt", encodeKeyUpdate(requestPeerUpdate), false);
    this.updateWriteSecret();
  }

  /** Handles one complete handshake message. `message` includes the 4-byte header. */
  protected abstract handleMessage(type: number, body: Uint8Array, message: Uint8Array, now: number): void;

  /** Records `e`, drops pending output, and returns the alert to throw. */
  protected fail(e: unknown): TlsAlertError {
    const err = toAlert(e);
    this.error ??= err;
    this.events.length = 0;
    return this.error;
  }

  private append(data: Uint8Array): void {
    if (this.inStart === this.inEnd) this.inStart = this.inEnd = 0;
    const pending = this.inEnd - this.inStart;
    if (this.inBuffer.length - this.inEnd < data.length) {
      // Compact and grow geometrically so byte-by-byte input stays linear.
      const need = pending + data.length;
      const next = need <= this.inBuffer.length ? this.inBuffer : new Uint8Array(Math.max(need, this.inBuffer.length * 2, 1024));
      if (next === this.inBuffer) this.inBuffer.copyWithin(0, this.inStart, this.inEnd);
      else next.set(this.inBuffer.subarray(this.inStart, this.inEnd));
      this.inBuffer = next;
      this.inStart = 0;
      this.inEnd = pending;
    }
    this.inBuffer.set(data, this.inEnd);
    this.inEnd += data.length;
  }

  private drain(now: number): void {
    while (this.inEnd - this.inStart >= HANDSHAKE_HEADER_LENGTH) {
      const b = this.inBuffer;
      const s = this.inStart;
      const type = b[s]!;
      const length = (b[s + 1]! << 16) | (b[s + 2]! << 8) | b[s + 3]!;
      // Bound the message before buffering it.
      const limit = type === HandshakeType.certificate ? this.maxCertificate : this.maxMessage;
      if (length > limit) throw alert("decode_error", `${handshakeTypeName(type)} of ${length} bytes exceeds the ${limit}-byte limit`);
      if (this.inEnd - s < HANDSHAKE_HEADER_LENGTH + length) return;
      const message = b.slice(s, s + HANDSHAKE_HEADER_LENGTH + length);
      this.inStart = s + HANDSHAKE_HEADER_LENGTH + length;
      const levelBefore = this.readLevel;
      this.handleMessage(type, message.subarray(HANDSHAKE_HEADER_LENGTH), message, now);
      if (this.error) return;
      if (this.readLevel !== levelBefore && this.inEnd > this.inStart) {
        // RFC 8446 section 5.1: handshake messages must not span a key change.
        throw alert("unexpected_message", "handshake data continues past a key change");
      }
    }
  }

  /** Queues handshake bytes for `level`, adding them to the transcript unless told otherwise. */
  protected send(level: EncryptionLevel, message: Uint8Array, addToTranscript = true): void {
    if (addToTranscript) this.transcript.add(message);
    const last = this.events[this.events.length - 1];
    if (last && last.type === "data" && last.level === level) {
      const merged = new Uint8Array(last.data.length + message.length);
      merged.set(last.data);
      merged.set(message, last.data.length);
      last.data = merged;
    } else this.events.push({ type: "data", level, data: message });
  }

  /** Queues a non-data event. */
  protected emit(event: TlsEvent): void {
    this.events.push(event);
  }

  /** Announces a traffic secret and its key log line. */
  protected installSecret(level: EncryptionLevel, direction: "read" | "write", secret: Uint8Array, suite: CipherSuite): void {
    this.events.push({ type: "secret", level, direction, suite, secret });
    const fromClient = (direction === "write") === this.isClient;
    if (level === "oneRtt") {
      if (direction === "read") this.appReadSecret = secret;
      else this.appWriteSecret = secret;
    }
    if (this.keyLog) {
      const generation = direction === "read" ? this.appReadGeneration : this.appWriteGeneration;
      const label = keyLogLabel(level, fromClient, generation);
      if (label) this.events.push({ type: "keylog", line: `${label} ${toHex(this.clientRandom)} ${toHex(secret)}` });
    }
  }

  /** Emits the exporter secret key log line. */
  protected logExporterSecret(secret: Uint8Array): void {
    if (this.keyLog) this.events.push({ type: "keylog", line: `EXPORTER_SECRET ${toHex(this.clientRandom)} ${toHex(secret)}` });
  }

  private updateWriteSecret(): void {
    this.appWriteGeneration++;
    this.installSecret("oneRtt", "write", nextTrafficSecret(this.cipherSuite!.hash, this.appWriteSecret!), this.cipherSuite!);
  }

  /**
   * A post-handshake KeyUpdate (RFC 8446 section 4.6.3). QUIC forbids it
   * (RFC 9001 section 6: unexpected_message); over TLS the read secret moves
   * on and, if asked, we answer with our own KeyUpdate.
   */
  protected handleKeyUpdate(body: Uint8Array): void {
    if (this.mode === "quic") throw alert("unexpected_message", "KeyUpdate is not allowed in QUIC (RFC 9001 section 6)");
    const requested = decodeKeyUpdate(body);
    this.appReadGeneration++;
    this.installSecret("oneRtt", "read", nextTrafficSecret(this.cipherSuite!.hash, this.appReadSecret!), this.cipherSuite!);
    if (requested) {
      this.send("oneRtt", encodeKeyUpdate(false), false);
      this.updateWriteSecret();
    }
  }

  /** Rejects a message type not allowed in the current state. */
  protected unexpected(type: number, state: string): TlsAlertError {
    return alert("unexpected_message", `${handshakeTypeName(type)} not expected in state ${state}`);
  }
}

/**
 * Runs the PKI verifier; anything it throws that is not already an alert
 * becomes bad_certificate so receive() only ever throws TlsAlertError.
 */
export function verifyChain(chain: Uint8Array[], options: Parameters<typeof verifyCertificateChain>[1]): void {
  try {
    verifyCertificateChain(chain, options);
  } catch (e) {
    if (e instanceof TlsAlertError) throw e;
    throw alert("bad_certificate", `certificate verification failed: ${(e as Error)?.message ?? String(e)}`);
  }
}
