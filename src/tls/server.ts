/**
 * The TLS 1.3 server state machine (RFC 8446 section 2, A.2), one handler
 * per state:
 *
 *   WAIT_CLIENT_HELLO ─(HelloRetryRequest, once)─▶ WAIT_CLIENT_HELLO
 *     ─(ServerHello, EncryptedExtensions, [CertificateRequest, Certificate,
 *       CertificateVerify], Finished)─▶ [WAIT_END_OF_EARLY_DATA (TLS mode)]
 *     ▶ [WAIT_CLIENT_CERTIFICATE ▶ WAIT_CLIENT_CERTIFICATE_VERIFY]
 *     ▶ WAIT_CLIENT_FINISHED ▶ CONNECTED (sendSessionTicket)
 *
 * Every check on the ClientHello runs before the first byte of output, so a
 * rejected ClientHello leaves nothing half-sent.
 */
import type { KeyObject } from "node:crypto";
import { findCipherSuite, type CipherSuite } from "../crypto/suites.js";
import { equalBytes } from "../util/bytes.js";
import { TsquicError } from "../util/errors.js";
import {
  HELLO_RETRY_REQUEST_RANDOM,
  ExtensionType,
  HandshakeType,
  MAX_TICKET_LIFETIME_SECONDS,
  PskKeyExchangeMode,
  QUIC_MAX_EARLY_DATA,
  TLS13,
  groupCode,
  signatureSchemeCode,
  type GroupName,
  type SignatureSchemeName,
} from "./constants.js";
import {
  QUIC_PROTOCOL_VIOLATION,
  TlsEngine,
  alert,
  loadLocalCertificate,
  resolveAlpn,
  resolveGroups,
  resolveSignatureSchemes,
  resolveSuites,
  trustStoreFor,
  verifyChain,
  type LocalCertificate,
  type PemOrDer,
  type TlsCommonConfig,
} from "./engine.js";
import { generateKeyShare, type RandomSource } from "./key-exchange.js";
import { KeySchedule, finishedVerifyData, resumptionPsk } from "./key-schedule.js";
import {
  bindersLength,
  decodeCertificate,
  decodeCertificateVerify,
  decodeClientHello,
  decodeFinished,
  encodeCertificate,
  encodeCertificateRequest,
  encodeCertificateStatus,
  encodeCertificateVerify,
  encodeEncryptedExtensions,
  encodeFinished,
  encodeNewSessionTicket,
  encodeServerHello,
  type DecodedClientHello,
  type EncryptedExtensions,
  type KeyShareEntry,
} from "./messages.js";
import { certificatePublicKey, certificateVerifyContent, checkCertificateVerify, schemesForKey, signContent } from "./signature.js";
import { TicketProtector, type TicketState } from "./ticket.js";

/** A certificate chain and key, as returned by {@link TlsServerConfig.selectCertificate}. */
export interface ServerCertificate {
  /** Chain, leaf first (PEM or DER, one or many). */
  cert: PemOrDer | PemOrDer[];
  /** Private key (PEM, DER or KeyObject). */
  key: PemOrDer | KeyObject;
  /** Passphrase of an encrypted key. */
  passphrase?: string;
  /** A DER OCSP response to staple when the client asks (status_request, RFC 8446 section 4.4.2.1). */
  ocspResponse?: Uint8Array;
}

/** What {@link TlsServerConfig.selectCertificate} learns of the ClientHello besides the server name. */
export interface ClientHelloInfo {
  /** ALPN protocols offered, in the client's order. */
  readonly alpnProtocols: readonly string[];
  /** TLS 1.3 cipher suites offered that we know, by name, in the client's order. */
  readonly cipherSuites: readonly string[];
  /** The client asked for a stapled OCSP response (status_request). */
  readonly statusRequest: boolean;
}

/** What {@link TlsServerConfig.acceptEarlyData} is told about a 0-RTT attempt. */
export interface EarlyDataRequest {
  /** SNI of this connection. */
  readonly serverName: string | undefined;
  /** Negotiated ALPN (equal to the ticket's). */
  readonly alpnProtocol: string | undefined;
  /** Application data stored in the ticket by {@link TlsServer.sendSessionTicket}. */
  readonly appData: Uint8Array | undefined;
  /** The PSK binder: a unique value for ClientHello recording (RFC 8446 section 8.2). */
  readonly binder: Uint8Array;
  /** The client's ticket age in ms, de-obfuscated. */
  readonly ticketAge: number;
  /** The ticket offered (the PSK identity): unique per ticket, for single-use tickets (RFC 8446 section 8.1). */
  readonly identity: Uint8Array;
  /** When the ticket expires, ms. */
  readonly expiresAt: number;
  /** The time of the ClientHello, ms. */
  readonly now: number;
}

/** Server configuration. */
export interface TlsServerConfig extends TlsCommonConfig {
  /**
   * Called with the client's quic_transport_parameters before any key is
   * derived; may return the transport parameters to send instead of
   * `quicTransportParameters` (QUIC compatible version negotiation decides
   * the version, and so our version_information, from the client's,
   * RFC 9368 section 2.3). Errors it throws end the handshake.
   */
  onClientTransportParameters?: (params: Uint8Array) => Uint8Array | undefined;
  /**
   * Picks a certificate by SNI; undefined falls back to `cert` / `key`.
   * Return the same object for the same certificate: parsed keys are cached
   * per returned object. It may answer with a promise: the handshake then
   * waits (see {@link TlsServer.pendingSelection} and {@link TlsServer.resume}).
   * Not called on resumption, which needs no certificate.
   */
  selectCertificate?: (serverName: string | undefined, hello: ClientHelloInfo) => ServerCertificate | undefined | Promise<ServerCertificate | undefined>;
  /** Send a CertificateRequest on full handshakes (RFC 8446 section 4.3.2); verified against `ca`. */
  requestClientCertificate?: boolean;
  /** With requestClientCertificate: fail with certificate_required when none is sent (default true). */
  requireClientCertificate?: boolean;
  /**
   * Secrets (16+ bytes) protecting session tickets; share them between
   * servers so any of them can resume. The first encrypts, all decrypt.
   * Default: a random secret per config object.
   */
  ticketKeys?: Uint8Array | Uint8Array[];
  /** ticket_lifetime in seconds (default 7200; at most 604800, RFC 8446 section 4.6.1). */
  ticketLifetime?: number;
  /** Issue tickets that allow 0-RTT and accept early data on resumption. */
  earlyData?: boolean;
  /** max_early_data_size in TLS mode (default 16384). QUIC always uses 0xffffffff (RFC 9001 section 4.6.1). */
  maxEarlyDataSize?: number;
  /** Largest disagreement between the client's and our ticket age before 0-RTT is refused (ms, default 10000; RFC 8446 section 8.3). */
  earlyDataAgeTolerance?: number;
  /**
   * Last word on a 0-RTT attempt that passed every protocol check: anti-replay
   * (RFC 8446 section 8) and QUIC's check of remembered transport parameters
   * (RFC 9001 section 4.6.2) belong here. Returning false falls back to 1-RTT.
   */
  acceptEarlyData?: (request: EarlyDataRequest) => boolean;
}

type ServerState =
  | "WAIT_CLIENT_HELLO"
  | "WAIT_CERTIFICATE_SELECTION"
  | "WAIT_END_OF_EARLY_DATA"
  | "WAIT_CLIENT_CERTIFICATE"
  | "WAIT_CLIENT_CERTIFICATE_VERIFY"
  | "WAIT_CLIENT_FINISHED"
  | "CONNECTED";

const DEFAULT_TICKET_LIFETIME = 7200;
const DEFAULT_TLS_MAX_EARLY_DATA = 16384;
const DEFAULT_AGE_TOLERANCE_MS = 10000;

// Ticket protectors per config object, so connections sharing a config share keys.
const protectors = new WeakMap<TlsServerConfig, { keys: unknown; protector: TicketProtector }>();

function protectorFor(config: TlsServerConfig, random: RandomSource): TicketProtector {
  const cached = protectors.get(config);
  if (cached && cached.keys === config.ticketKeys) return cached.protector;
  const keys = config.ticketKeys === undefined ? [random(32)] : Array.isArray(config.ticketKeys) ? config.ticketKeys : [config.ticketKeys];
  const protector = new TicketProtector(keys);
  protectors.set(config, { keys: config.ticketKeys, protector });
  return protector;
}

interface AcceptedTicket {
  readonly index: number;
  readonly state: TicketState;
}

/**
 * A TLS 1.3 server for one connection. Feed the client's handshake bytes
 * with {@link receive}, drain {@link poll}, and call
 * {@link sendSessionTicket} after completion to let the client resume.
 */
export class TlsServer extends TlsEngine {
  private state: ServerState = "WAIT_CLIENT_HELLO";
  private readonly config: TlsServerConfig;
  /** The quic_transport_parameters we send: the configured ones, or those onClientTransportParameters returned. */
  private ownTransportParameters: Uint8Array | undefined;
  private readonly suites: CipherSuite[];
  private readonly groups: GroupName[];
  private readonly schemes: SignatureSchemeName[];
  private readonly alpn: string[];
  private firstHello: DecodedClientHello | undefined;
  private helloRetried = false;
  private hrrGroup: GroupName | undefined;
  private hrrSuite: CipherSuite | undefined;
  private clientHandshakeSecret: Uint8Array | undefined;
  private clientAppSecret: Uint8Array | undefined;
  private resumptionMasterSecret: Uint8Array | undefined;
  private clientPublicKey: KeyObject | undefined;
  private requestedCertificate = false;
  private clientAllowsTickets = false;
  private ticketCount = 0;
  /** The certificate choice: pending while an asynchronous selectCertificate runs. */
  private selection: { settled: boolean; value?: ServerCertificate | undefined; error?: unknown } | undefined;
  /** The ClientHello handled again once the selection settles. */
  private parkedHello: { body: Uint8Array; message: Uint8Array } | undefined;
  /**
   * Set while the handshake waits for an asynchronous certificate choice;
   * it settles (never rejects) when {@link resume} can go on.
   */
  pendingSelection: Promise<void> | undefined;

  constructor(config: TlsServerConfig) {
    super(false, config);
    this.config = config;
    this.ownTransportParameters = config.quicTransportParameters;
    this.suites = resolveSuites(config.cipherSuites);
    this.groups = resolveGroups(config.groups);
    this.schemes = resolveSignatureSchemes(config.signatureAlgorithms);
    this.alpn = resolveAlpn(config.alpnProtocols);
    if (this.mode === "quic" && !config.quicTransportParameters)
      throw new TsquicError("ERR_TLS_CONFIG", "quicTransportParameters is required in QUIC mode (RFC 9001 section 8.2)");
  }

  protected handleMessage(type: number, body: Uint8Array, message: Uint8Array, now: number): void {
    switch (this.state) {
      case "WAIT_CLIENT_HELLO":
        if (type !== HandshakeType.client_hello) throw this.unexpected(type, this.state);
        return this.onClientHello(body, message, now);
      case "WAIT_CERTIFICATE_SELECTION":
        // The client sends nothing more before our flight.
        throw this.unexpected(type, this.state);
      case "WAIT_END_OF_EARLY_DATA":
        if (type !== HandshakeType.end_of_early_data) throw this.unexpected(type, this.state);
        return this.onEndOfEarlyData(body, message);
      case "WAIT_CLIENT_CERTIFICATE":
        if (type !== HandshakeType.certificate) throw this.unexpected(type, this.state);
        return this.onCertificate(body, message, now);
      case "WAIT_CLIENT_CERTIFICATE_VERIFY":
        if (type !== HandshakeType.certificate_verify) throw this.unexpected(type, this.state);
        return this.onCertificateVerify(body, message);
      case "WAIT_CLIENT_FINISHED":
        if (type !== HandshakeType.finished) throw this.unexpected(type, this.state);
        return this.onFinished(body, message);
      case "CONNECTED":
        if (type === HandshakeType.key_update) return this.handleKeyUpdate(body);
        throw this.unexpected(type, this.state);
    }
  }

  // -------------------------------------------------------------------------
  // ClientHello

  private onClientHello(body: Uint8Array, message: Uint8Array, now: number): void {
    const ch = decodeClientHello(body);
    this.checkClientHello(ch);
    if (this.helloRetried) this.checkSecondClientHello(ch);
    else this.clientRandom = ch.random;

    const alpnProtocol = this.selectAlpn(ch);
    const ticket = this.findTicket(ch, now);
    const suite = this.hrrSuite ?? this.selectSuite(ch, ticket);
    const { group, share } = this.selectGroup(ch);
    if (!share) return this.sendHelloRetryRequest(ch, message, group, suite);

    // PSK: validate the binder of the one identity we picked (RFC 8446 section 4.2.11).
    let psk: AcceptedTicket | undefined;
    if (ticket && ticket.state.suite.hash === suite.hash) {
      this.verifyBinder(ch, message, ticket.index, suite, ticket.state.psk);
      psk = ticket;
    }
    if (!psk && !ch.signatureAlgorithms) throw alert("missing_extension", "ClientHello without signature_algorithms (RFC 8446 section 9.2)");
    this.clientAllowsTickets = !!ch.pskKeyExchangeModes?.includes(PskKeyExchangeMode.psk_dhe_ke);

    // Certificate and signature scheme are chosen before any output.
    let credentials: LocalCertificate | undefined;
    let scheme: SignatureSchemeName | undefined;
    if (!psk) {
      // Everything above is free of side effects, so a parked ClientHello is simply handled again on resume.
      if (this.awaitSelection(ch, body, message)) return;
      credentials = this.selectCredentials();
      const offered = ch.signatureAlgorithms!;
      scheme = schemesForKey(credentials.key, this.schemes).find((s) => offered.includes(signatureSchemeCode(s)));
      if (!scheme) throw alert("handshake_failure", "no signature scheme in common for our certificate");
    }
    const earlyData = psk ? this.decideEarlyData(ch, psk, suite, alpnProtocol, now) : false;

    // Random first, then our key share: the order RFC 8448's traces are written in.
    const serverRandom = this.random(32);
    const keyShare = generateKeyShare(group, this.random);
    const shared = keyShare.computeSecret(share.keyExchange);

    this.cipherSuite = suite;
    this.group = group;
    this.alpnProtocol = alpnProtocol;
    this.serverName = ch.serverName;
    this.peerTransportParameters = ch.quicTransportParameters;
    if (ch.quicTransportParameters && this.config.onClientTransportParameters) {
      this.ownTransportParameters = this.config.onClientTransportParameters(ch.quicTransportParameters) ?? this.ownTransportParameters;
    }
    this.resumed = !!psk;
    this.earlyDataAccepted = earlyData;

    this.transcript.add(message);
    const schedule = (this.schedule = new KeySchedule(suite));
    schedule.extractEarly(psk?.state.psk);
    if (earlyData) this.installSecret("zeroRtt", "read", schedule.clientEarlyTrafficSecret(this.transcript.hash(suite.hash)), suite);

    const sh = {
      random: serverRandom,
      legacySessionIdEcho: ch.legacySessionId,
      cipherSuite: suite.id,
      keyShare: { group: groupCode(group), keyExchange: keyShare.publicKey },
      supportedVersion: TLS13,
      ...(psk ? { selectedIdentity: psk.index } : {}),
    };
    this.send("initial", encodeServerHello(sh));
    schedule.extractHandshake(shared);
    const hs = schedule.handshakeTrafficSecrets(this.transcript.hash(suite.hash));
    this.clientHandshakeSecret = hs.client;
    this.installSecret("handshake", "write", hs.server, suite);
    this.installSecret("handshake", "read", hs.client, suite);

    const ee: EncryptedExtensions = {};
    if (alpnProtocol !== undefined) ee.alpnProtocols = [alpnProtocol];
    if (this.ownTransportParameters) ee.quicTransportParameters = this.ownTransportParameters;
    if (earlyData) ee.earlyData = true;
    // RFC 6066 section 3: acknowledge the name we used to pick the certificate.
    if (ch.serverName !== undefined && !psk) ee.serverNameAck = true;
    this.send("handshake", encodeEncryptedExtensions(ee));

    if (credentials) {
      if (this.config.requestClientCertificate) {
        this.requestedCertificate = true;
        this.send("handshake", encodeCertificateRequest({ requestContext: new Uint8Array(0), signatureAlgorithms: this.schemes.map(signatureSchemeCode) }));
      }
      // An OCSP response rides in the leaf's CertificateEntry, only when asked for (RFC 8446 section 4.4.2.1).
      const ocsp = ch.statusRequest ? this.selection?.value?.ocspResponse : undefined;
      const entries = credentials.chain.map((data, i) => ({
        data,
        extensions: i === 0 && ocsp ? [{ type: ExtensionType.status_request, data: encodeCertificateStatus(ocsp) }] : [],
      }));
      this.send("handshake", encodeCertificate({ requestContext: new Uint8Array(0), entries }));
      this.localCertificates = credentials.chain;
      const content = certificateVerifyContent(true, this.transcript.hash(suite.hash));
      this.send("handshake", encodeCertificateVerify({ scheme: signatureSchemeCode(scheme!), signature: signContent(scheme!, credentials.key, content) }));
      this.signatureScheme = scheme;
    }
    this.send("handshake", encodeFinished(finishedVerifyData(suite.hash, hs.server, this.transcript.hash(suite.hash))));

    schedule.extractMaster();
    const app = schedule.applicationTrafficSecrets(this.transcript.hash(suite.hash));
    this.clientAppSecret = app.client;
    // 0.5-RTT: the server may write 1-RTT data now; reading waits for the client Finished (RFC 9001 section 5.7).
    this.installSecret("oneRtt", "write", app.server, suite);
    this.logExporterSecret(app.exporter);

    if (earlyData && this.mode === "tls") {
      this.readLevel = "zeroRtt";
      this.state = "WAIT_END_OF_EARLY_DATA";
    } else {
      this.readLevel = "handshake";
      this.state = this.requestedCertificate ? "WAIT_CLIENT_CERTIFICATE" : "WAIT_CLIENT_FINISHED";
    }
  }

  /** Structural rules every ClientHello must meet. */
  private checkClientHello(ch: DecodedClientHello): void {
    // RFC 8446 section 4.2.1: without 0x0304 in supported_versions this is not TLS 1.3.
    if (!ch.supportedVersions?.includes(TLS13)) throw alert("protocol_version", "client does not offer TLS 1.3");
    // RFC 8446 section 4.1.2: legacy_compression_methods is exactly [null].
    if (ch.compressionMethods.length !== 1 || ch.compressionMethods[0] !== 0) throw alert("illegal_parameter", "legacy_compression_methods must be [0]");
    // RFC 9001 section 8.4: no middlebox compatibility mode in QUIC.
    if (this.mode === "quic" && ch.legacySessionId.length !== 0) throw alert("illegal_parameter", "non-empty legacy_session_id in QUIC", QUIC_PROTOCOL_VIOLATION);
    if (ch.preSharedKey) {
      // RFC 8446 section 4.2.11: pre_shared_key last; one binder per identity. Section 4.2.9: needs psk_key_exchange_modes.
      if (!ch.pskIsLast) throw alert("illegal_parameter", "pre_shared_key is not the last extension");
      if (ch.preSharedKey.identities.length !== ch.preSharedKey.binders.length) throw alert("illegal_parameter", "PSK identities and binders differ in number");
      if (!ch.pskKeyExchangeModes) throw alert("missing_extension", "pre_shared_key without psk_key_exchange_modes");
    } else if (!ch.supportedGroups || !ch.signatureAlgorithms) {
      throw alert("missing_extension", "ClientHello without supported_groups or signature_algorithms (RFC 8446 section 9.2)");
    }
    // RFC 8446 section 9.2: supported_groups and key_share come together.
    if (!ch.supportedGroups !== !ch.keyShares) throw alert("missing_extension", "supported_groups and key_share must be sent together");
    if (this.mode === "quic" && !ch.quicTransportParameters) throw alert("missing_extension", "quic_transport_parameters missing (RFC 9001 section 8.2)");
    // RFC 8446 section 4.2.8: one share per group, each for a listed group.
    const seen = new Set<number>();
    for (const ks of ch.keyShares ?? []) {
      if (seen.has(ks.group)) throw alert("illegal_parameter", `two key shares for group 0x${ks.group.toString(16)}`);
      if (!ch.supportedGroups!.includes(ks.group)) throw alert("illegal_parameter", `key share for unlisted group 0x${ks.group.toString(16)}`);
      seen.add(ks.group);
    }
  }

  /** ClientHello2 may change only what RFC 8446 section 4.1.2 allows. */
  private checkSecondClientHello(ch: DecodedClientHello): void {
    const first = this.firstHello!;
    const sameSuites = ch.cipherSuites.length === first.cipherSuites.length && ch.cipherSuites.every((s, i) => s === first.cipherSuites[i]);
    if (!equalBytes(ch.random, first.random) || !equalBytes(ch.legacySessionId, first.legacySessionId) || !sameSuites)
      throw alert("illegal_parameter", "second ClientHello changed random, session id or cipher suites");
    const code = groupCode(this.hrrGroup!);
    if (ch.keyShares?.length !== 1 || ch.keyShares[0]!.group !== code)
      throw alert("illegal_parameter", "second ClientHello lacks exactly one key share for the requested group");
    if (ch.earlyData) throw alert("illegal_parameter", "early_data after HelloRetryRequest");
    if (ch.cookie) throw alert("illegal_parameter", "cookie we did not send");
  }

  /** Server-preference ALPN (RFC 7301 section 3.2; RFC 9001 section 8.1). */
  private selectAlpn(ch: DecodedClientHello): string | undefined {
    const offered = ch.alpnProtocols;
    if (offered && this.alpn.length) {
      const pick = this.alpn.find((p) => offered.includes(p));
      if (pick === undefined) throw alert("no_application_protocol", `no ALPN protocol in common (client offered ${offered.join(", ")})`);
      return pick;
    }
    if (this.mode === "quic" && (offered || this.alpn.length)) throw alert("no_application_protocol", "QUIC requires ALPN on both sides");
    return undefined;
  }

  /** The first offered ticket we can decrypt and use (RFC 8446 section 4.2.11, 4.6.1). */
  private findTicket(ch: DecodedClientHello, now: number): AcceptedTicket | undefined {
    if (!ch.preSharedKey || !ch.pskKeyExchangeModes?.includes(PskKeyExchangeMode.psk_dhe_ke)) return undefined;
    const protector = protectorFor(this.config, this.random);
    const offered = this.suites.filter((s) => ch.cipherSuites.includes(s.id));
    for (let index = 0; index < ch.preSharedKey.identities.length; index++) {
      const state = protector.open(ch.preSharedKey.identities[index]!.identity);
      if (!state) continue;
      if (now > state.issuedAt + state.lifetime * 1000) continue;
      if (state.serverName !== ch.serverName) continue;
      if (!offered.some((s) => s.hash === state.suite.hash)) continue;
      return { index, state };
    }
    return undefined;
  }

  /** Server-preference suite, preferring the ticket's (RFC 8446 section 4.1.1). */
  private selectSuite(ch: DecodedClientHello, ticket: AcceptedTicket | undefined): CipherSuite {
    const candidates = this.suites.filter((s) => ch.cipherSuites.includes(s.id));
    if (ticket) {
      if (candidates.includes(ticket.state.suite)) return ticket.state.suite;
      const same = candidates.find((s) => s.hash === ticket.state.suite.hash);
      if (same) return same;
    }
    if (!candidates[0]) throw alert("handshake_failure", "no cipher suite in common");
    return candidates[0];
  }

  /**
   * Server-preference group among those the client listed, preferring one it
   * sent a share for; without any share, the group to ask for in a
   * HelloRetryRequest (RFC 8446 section 4.1.1, 4.1.4).
   */
  private selectGroup(ch: DecodedClientHello): { group: GroupName; share?: KeyShareEntry } {
    const listed = ch.supportedGroups ?? [];
    const candidates = this.groups.filter((g) => listed.includes(groupCode(g)));
    if (candidates.length === 0) throw alert("handshake_failure", "no key exchange group in common");
    for (const g of candidates) {
      const share = ch.keyShares?.find((k) => k.group === groupCode(g));
      if (share) return { group: g, share };
    }
    if (this.helloRetried) throw alert("illegal_parameter", "no usable key share after HelloRetryRequest");
    return { group: candidates[0]! };
  }

  private sendHelloRetryRequest(ch: DecodedClientHello, message: Uint8Array, group: GroupName, suite: CipherSuite): void {
    this.firstHello = ch;
    this.helloRetried = true;
    this.hrrGroup = group;
    this.hrrSuite = suite;
    // RFC 8446 section 4.4.1: ClientHello1 becomes message_hash in the transcript.
    this.transcript.add(message);
    this.transcript.replaceWithMessageHash(suite.hash);
    const hrr = encodeServerHello({
      random: HELLO_RETRY_REQUEST_RANDOM,
      legacySessionIdEcho: ch.legacySessionId,
      cipherSuite: suite.id,
      selectedGroup: groupCode(group),
      supportedVersion: TLS13,
    });
    this.send("initial", hrr);
  }

  /** Checks the binder of identity `index` (RFC 8446 section 4.2.11.2); decrypt_error when wrong. */
  private verifyBinder(ch: DecodedClientHello, message: Uint8Array, index: number, suite: CipherSuite, psk: Uint8Array): void {
    const offered = ch.preSharedKey!;
    const binder = offered.binders[index]!;
    const truncated = message.subarray(0, message.length - bindersLength(offered));
    const schedule = new KeySchedule(suite);
    schedule.extractEarly(psk);
    const expected = finishedVerifyData(suite.hash, schedule.binderKey(true), this.transcript.hash(suite.hash, truncated));
    if (!equalBytes(binder, expected)) throw alert("decrypt_error", "PSK binder does not verify");
  }

  /** 0-RTT acceptance (RFC 8446 section 4.2.10; RFC 9001 section 4.6). */
  private decideEarlyData(ch: DecodedClientHello, psk: AcceptedTicket, suite: CipherSuite, alpnProtocol: string | undefined, now: number): boolean {
    const t = psk.state;
    if (!this.config.earlyData || !ch.earlyData || this.helloRetried) return false;
    // Only the first identity, same suite and ALPN as the ticket.
    if (psk.index !== 0 || t.maxEarlyDataSize === 0 || t.suite !== suite || t.alpnProtocol !== alpnProtocol) return false;
    // Freshness: the client's view of the ticket age must match ours (RFC 8446 section 8.3).
    const ticketAge = (ch.preSharedKey!.identities[0]!.obfuscatedTicketAge - t.ageAdd) >>> 0;
    const tolerance = this.config.earlyDataAgeTolerance ?? DEFAULT_AGE_TOLERANCE_MS;
    if (Math.abs(ticketAge - (now - t.issuedAt)) > tolerance) return false;
    const hook = this.config.acceptEarlyData;
    if (hook) {
      let ok = false;
      try {
        ok = hook({
          serverName: ch.serverName,
          alpnProtocol,
          appData: t.appData,
          binder: ch.preSharedKey!.binders[0]!,
          ticketAge,
          identity: ch.preSharedKey!.identities[0]!.identity,
          expiresAt: t.issuedAt + t.lifetime * 1000,
          now,
        });
      } catch {
        ok = false;
      }
      if (!ok) return false;
    }
    return true;
  }

  /**
   * Runs selectCertificate once per handshake. Returns true when it answered
   * with a promise: the ClientHello is parked until {@link resume}.
   */
  private awaitSelection(ch: DecodedClientHello, body: Uint8Array, message: Uint8Array): boolean {
    if (this.selection) return false;
    const hook = this.config.selectCertificate;
    if (!hook) {
      this.selection = { settled: true };
      return false;
    }
    let picked: ReturnType<typeof hook>;
    try {
      picked = hook(ch.serverName, {
        alpnProtocols: ch.alpnProtocols ?? [],
        cipherSuites: ch.cipherSuites.flatMap((id) => findCipherSuite(id)?.name ?? []),
        statusRequest: !!ch.statusRequest,
      });
    } catch (e) {
      throw alert("internal_error", `certificate selection failed: ${(e as Error)?.message ?? String(e)}`);
    }
    if (!picked || typeof (picked as Promise<unknown>).then !== "function") {
      this.selection = { settled: true, value: picked as ServerCertificate | undefined };
      return false;
    }
    const selection: NonNullable<TlsServer["selection"]> = (this.selection = { settled: false });
    this.parkedHello = { body, message };
    this.state = "WAIT_CERTIFICATE_SELECTION";
    this.pendingSelection = (picked as Promise<ServerCertificate | undefined>).then(
      (value) => {
        selection.settled = true;
        selection.value = value;
      },
      (error: unknown) => {
        selection.settled = true;
        selection.error = error ?? new Error("rejected");
      },
    );
    return true;
  }

  /**
   * Goes on with a ClientHello parked for an asynchronous certificate
   * choice once {@link pendingSelection} settled; does nothing otherwise.
   * Throws {@link TlsAlertError} like {@link receive} (internal_error when
   * the selection failed).
   */
  resume(now: number): void {
    const parked = this.parkedHello;
    if (this.error) throw this.error;
    if (this.state !== "WAIT_CERTIFICATE_SELECTION" || !parked || !this.selection?.settled) return;
    this.parkedHello = undefined;
    this.pendingSelection = undefined;
    this.state = "WAIT_CLIENT_HELLO";
    try {
      const failure = this.selection.error;
      if (failure !== undefined) throw alert("internal_error", `certificate selection failed: ${(failure as Error)?.message ?? String(failure)}`);
      this.onClientHello(parked.body, parked.message, now);
    } catch (e) {
      throw this.fail(e);
    }
  }

  private selectCredentials(): LocalCertificate {
    let local: LocalCertificate | undefined;
    try {
      local = loadLocalCertificate(this.selection?.value ?? this.config);
    } catch (e) {
      throw alert("internal_error", `cannot load the server certificate: ${(e as Error)?.message ?? String(e)}`);
    }
    if (!local) throw alert("internal_error", "no server certificate configured");
    return local;
  }

  // -------------------------------------------------------------------------
  // Client's second flight

  private onEndOfEarlyData(body: Uint8Array, message: Uint8Array): void {
    if (body.length !== 0) throw alert("decode_error", "EndOfEarlyData with a body");
    this.transcript.add(message);
    this.readLevel = "handshake";
    this.state = this.requestedCertificate ? "WAIT_CLIENT_CERTIFICATE" : "WAIT_CLIENT_FINISHED";
  }

  private onCertificate(body: Uint8Array, message: Uint8Array, now: number): void {
    const cert = decodeCertificate(body);
    if (cert.requestContext.length !== 0) throw alert("illegal_parameter", "client Certificate with a wrong request context");
    for (const e of cert.entries) if (e.extensions.length) throw alert("unsupported_extension", "unsolicited CertificateEntry extension");
    this.transcript.add(message);
    if (cert.entries.length === 0) {
      // RFC 8446 section 4.4.2.4: the server may abort with certificate_required or continue.
      if (this.config.requireClientCertificate !== false) throw alert("certificate_required", "client sent no certificate");
      this.state = "WAIT_CLIENT_FINISHED";
      return;
    }
    const chain = cert.entries.map((e) => e.data);
    if (this.config.rejectUnauthorized !== false) verifyChain(chain, { trust: trustStoreFor(this.config.ca), now, usage: "client" });
    this.clientPublicKey = certificatePublicKey(chain[0]!);
    this.peerCertificates = chain;
    this.state = "WAIT_CLIENT_CERTIFICATE_VERIFY";
  }

  private onCertificateVerify(body: Uint8Array, message: Uint8Array): void {
    const cv = decodeCertificateVerify(body);
    this.clientSignatureScheme = checkCertificateVerify({
      scheme: cv.scheme,
      signature: cv.signature,
      offered: this.schemes,
      publicKey: this.clientPublicKey!,
      server: false,
      transcriptHash: this.transcript.hash(this.cipherSuite!.hash),
    });
    this.transcript.add(message);
    this.state = "WAIT_CLIENT_FINISHED";
  }

  private onFinished(body: Uint8Array, message: Uint8Array): void {
    const suite = this.cipherSuite!;
    const verifyData = decodeFinished(body, suite.hashLength);
    const expected = finishedVerifyData(suite.hash, this.clientHandshakeSecret!, this.transcript.hash(suite.hash));
    if (!equalBytes(verifyData, expected)) throw alert("decrypt_error", "client Finished does not verify");
    this.transcript.add(message);
    this.resumptionMasterSecret = this.schedule!.resumptionMasterSecret(this.transcript.hash(suite.hash));
    // The resumption secret is the transcript's last use.
    this.transcript.discard();
    this.installSecret("oneRtt", "read", this.clientAppSecret!, suite);
    this.readLevel = "oneRtt";
    this.state = "CONNECTED";
    this.handshakeComplete = true;
    this.emit({ type: "handshakeComplete" });
  }

  // -------------------------------------------------------------------------
  // Tickets

  /**
   * Issues a NewSessionTicket at the 1-RTT level (RFC 8446 section 4.6.1).
   * Returns false (sending nothing) when the client did not offer
   * psk_dhe_ke, which forbids tickets (RFC 8446 section 4.2.9). `appData`
   * is sealed into the ticket and handed to `acceptEarlyData` on resumption.
   */
  sendSessionTicket(now: number, options: { appData?: Uint8Array } = {}): boolean {
    if (this.error) throw this.error;
    if (!this.handshakeComplete) throw new TsquicError("ERR_TLS_STATE", "sendSessionTicket before the handshake completed");
    if (!this.clientAllowsTickets) return false;
    const suite = this.cipherSuite!;
    const nonce = new Uint8Array(8);
    new DataView(nonce.buffer).setUint32(4, this.ticketCount++);
    const lifetime = Math.min(this.config.ticketLifetime ?? DEFAULT_TICKET_LIFETIME, MAX_TICKET_LIFETIME_SECONDS);
    const r = this.random(4);
    const ageAdd = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;
    const maxEarlyDataSize = this.config.earlyData ? (this.mode === "quic" ? QUIC_MAX_EARLY_DATA : this.config.maxEarlyDataSize ?? DEFAULT_TLS_MAX_EARLY_DATA) : 0;
    const state: TicketState = {
      suite,
      psk: resumptionPsk(suite.hash, this.resumptionMasterSecret!, nonce),
      ageAdd,
      issuedAt: now,
      lifetime,
      maxEarlyDataSize,
      ...(this.alpnProtocol !== undefined ? { alpnProtocol: this.alpnProtocol } : {}),
      ...(this.serverName !== undefined ? { serverName: this.serverName } : {}),
      ...(options.appData ? { appData: options.appData } : {}),
    };
    const ticket = protectorFor(this.config, this.random).seal(state, this.random(12));
    this.send(
      "oneRtt",
      encodeNewSessionTicket({ lifetime, ageAdd, nonce, ticket, ...(maxEarlyDataSize ? { maxEarlyDataSize } : {}) }),
      false,
    );
    return true;
  }
}
