/**
 * The TLS 1.3 client state machine (RFC 8446 section 2, A.1), one handler
 * per state:
 *
 *   start() ── ClientHello ──▶ WAIT_SERVER_HELLO ─(HelloRetryRequest: ClientHello2, once)
 *     ▶ WAIT_ENCRYPTED_EXTENSIONS ▶ WAIT_CERTIFICATE_OR_REQUEST ▶ WAIT_CERTIFICATE
 *     ▶ WAIT_CERTIFICATE_VERIFY ▶ WAIT_FINISHED ─(EndOfEarlyData, Certificate,
 *       CertificateVerify, Finished)─▶ CONNECTED (NewSessionTicket, KeyUpdate)
 *
 * A resumed handshake goes from WAIT_ENCRYPTED_EXTENSIONS to WAIT_FINISHED.
 */
import { isIP } from "node:net";
import type { KeyObject } from "node:crypto";
import { findCipherSuite, type CipherSuite } from "../crypto/suites.js";
import { equalBytes } from "../util/bytes.js";
import { TsquicError } from "../util/errors.js";
import {
  ExtensionType,
  HandshakeType,
  MAX_TICKET_LIFETIME_SECONDS,
  PskKeyExchangeMode,
  QUIC_MAX_EARLY_DATA,
  SignatureScheme,
  TLS12,
  TLS13,
  groupCode,
  groupName,
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
  type TlsCommonConfig,
} from "./engine.js";
import { generateKeyShare, type KeyShare } from "./key-exchange.js";
import { KeySchedule, finishedVerifyData, resumptionPsk } from "./key-schedule.js";
import {
  bindersLength,
  decodeCertificate,
  decodeCertificateRequest,
  decodeCertificateVerify,
  decodeEncryptedExtensions,
  decodeFinished,
  decodeNewSessionTicket,
  decodeServerHello,
  encodeCertificate,
  encodeCertificateVerify,
  encodeClientHello,
  encodeEndOfEarlyData,
  encodeFinished,
  decodeCertificateStatus,
  type ClientHello,
  type Extension,
} from "./messages.js";
import { certificatePublicKey, certificateVerifyContent, checkCertificateVerify, schemesForKey, signContent } from "./signature.js";
import { decodeSessionTicket, type SessionTicket } from "./ticket.js";

/** Client configuration. */
export interface TlsClientConfig extends TlsCommonConfig {
  /** Host name to send as SNI (not sent for IP literals, RFC 6066 section 3) and to verify the certificate against. */
  serverName?: string;
  /** A ticket from an earlier connection to resume (object or its encoded bytes). */
  sessionTicket?: SessionTicket | Uint8Array;
  /** Offer 0-RTT when the ticket allows it (RFC 8446 section 4.2.10). */
  earlyData?: boolean;
  /** Ask the server to staple an OCSP response (status_request, RFC 8446 section 4.4.2.1); see `ocspResponse`. */
  requestOcsp?: boolean;
}

type ClientState =
  | "START"
  | "WAIT_SERVER_HELLO"
  | "WAIT_ENCRYPTED_EXTENSIONS"
  | "WAIT_CERTIFICATE_OR_REQUEST"
  | "WAIT_CERTIFICATE"
  | "WAIT_CERTIFICATE_VERIFY"
  | "WAIT_FINISHED"
  | "CONNECTED";

const KNOWN_EXTENSIONS = new Set<number>(Object.values(ExtensionType));
/** Extensions allowed in ServerHello (RFC 8446 section 4.2 table). */
const SERVER_HELLO_EXTENSIONS = new Set<number>([ExtensionType.supported_versions, ExtensionType.key_share, ExtensionType.pre_shared_key]);
/** Extensions allowed in HelloRetryRequest. */
const HRR_EXTENSIONS = new Set<number>([ExtensionType.supported_versions, ExtensionType.key_share, ExtensionType.cookie]);
/** Extensions allowed in EncryptedExtensions. */
const EE_EXTENSIONS = new Set<number>([
  ExtensionType.server_name,
  ExtensionType.max_fragment_length,
  ExtensionType.supported_groups,
  ExtensionType.use_srtp,
  ExtensionType.heartbeat,
  ExtensionType.application_layer_protocol_negotiation,
  ExtensionType.client_certificate_type,
  ExtensionType.server_certificate_type,
  ExtensionType.early_data,
  ExtensionType.record_size_limit,
  ExtensionType.quic_transport_parameters,
]);

/** Signature schemes we also accept in certificate chains (signature_algorithms_cert, RFC 8446 section 4.2.3). */
const CERT_CHAIN_SCHEMES = [SignatureScheme.rsa_pkcs1_sha256, SignatureScheme.rsa_pkcs1_sha384, SignatureScheme.rsa_pkcs1_sha512];

/**
 * A TLS 1.3 client. Call {@link start}, then feed the server's handshake
 * bytes with {@link receive} and drain {@link poll} after each call.
 */
export class TlsClient extends TlsEngine {
  private state: ClientState = "START";
  private readonly config: TlsClientConfig;
  private readonly suites: CipherSuite[];
  private readonly groups: GroupName[];
  private readonly schemes: SignatureSchemeName[];
  private readonly alpn: string[];
  private keyShare: KeyShare | undefined;
  private hello: ClientHello | undefined;
  private sentExtensions = new Set<number>();
  private helloRetried = false;
  private hrrSuite: CipherSuite | undefined;
  private ticket: SessionTicket | undefined;
  private ticketSuite: CipherSuite | undefined;
  private offeredEarlyData = false;
  private serverHandshakeSecret: Uint8Array | undefined;
  private clientHandshakeSecret: Uint8Array | undefined;
  private certificateRequest: { context: Uint8Array; schemes: number[] } | undefined;
  private serverPublicKey: KeyObject | undefined;
  private resumptionMasterSecret: Uint8Array | undefined;

  constructor(config: TlsClientConfig) {
    super(true, config);
    this.config = config;
    this.suites = resolveSuites(config.cipherSuites);
    this.groups = resolveGroups(config.groups);
    this.schemes = resolveSignatureSchemes(config.signatureAlgorithms);
    this.alpn = resolveAlpn(config.alpnProtocols);
    if (this.mode === "quic" && !config.quicTransportParameters)
      throw new TsquicError("ERR_TLS_CONFIG", "quicTransportParameters is required in QUIC mode (RFC 9001 section 8.2)");
    this.serverName = config.serverName;
  }

  /** Sends the ClientHello (and installs the 0-RTT write secret when early data is offered). */
  start(now: number): void {
    if (this.error) throw this.error;
    if (this.state !== "START") throw new TsquicError("ERR_TLS_STATE", "start() called twice");
    try {
      this.sendFirstClientHello(now);
    } catch (e) {
      throw this.fail(e);
    }
  }

  protected handleMessage(type: number, body: Uint8Array, message: Uint8Array, now: number): void {
    switch (this.state) {
      case "WAIT_SERVER_HELLO":
        if (type !== HandshakeType.server_hello) throw this.unexpected(type, this.state);
        return this.onServerHello(body, message, now);
      case "WAIT_ENCRYPTED_EXTENSIONS":
        if (type !== HandshakeType.encrypted_extensions) throw this.unexpected(type, this.state);
        return this.onEncryptedExtensions(body, message);
      case "WAIT_CERTIFICATE_OR_REQUEST":
        if (type === HandshakeType.certificate_request) return this.onCertificateRequest(body, message);
        if (type === HandshakeType.certificate) return this.onCertificate(body, message, now);
        throw this.unexpected(type, this.state);
      case "WAIT_CERTIFICATE":
        if (type !== HandshakeType.certificate) throw this.unexpected(type, this.state);
        return this.onCertificate(body, message, now);
      case "WAIT_CERTIFICATE_VERIFY":
        if (type !== HandshakeType.certificate_verify) throw this.unexpected(type, this.state);
        return this.onCertificateVerify(body, message);
      case "WAIT_FINISHED":
        if (type !== HandshakeType.finished) throw this.unexpected(type, this.state);
        return this.onFinished(body, message);
      case "CONNECTED":
        if (type === HandshakeType.new_session_ticket) return this.onNewSessionTicket(body, now);
        if (type === HandshakeType.key_update) return this.handleKeyUpdate(body);
        throw this.unexpected(type, this.state);
      default:
        throw this.unexpected(type, this.state);
    }
  }

  // -------------------------------------------------------------------------
  // ClientHello

  /** The configured ticket if it can be offered now (RFC 8446 section 4.2.11, 4.6.1). */
  private usableTicket(now: number): SessionTicket | undefined {
    const raw = this.config.sessionTicket;
    if (!raw) return undefined;
    let t: SessionTicket;
    try {
      t = raw instanceof Uint8Array ? decodeSessionTicket(raw) : raw;
    } catch {
      return undefined;
    }
    const suite = findCipherSuite(t.cipherSuite);
    const age = now - t.receivedAt;
    if (!suite || age < 0 || age >= t.lifetime * 1000) return undefined;
    // Resumption needs a suite with the ticket's hash (RFC 8446 section 4.2.11).
    if (!this.suites.some((s) => s.hash === suite.hash)) return undefined;
    // Only resume with the name the ticket was issued for (RFC 8446 section 4.6.1).
    if (t.serverName !== this.config.serverName) return undefined;
    this.ticketSuite = suite;
    return t;
  }

  private sendFirstClientHello(now: number): void {
    this.clientRandom = this.random(32);
    // Middlebox compatibility mode over TCP (RFC 8446 Appendix D.4); QUIC forbids it (RFC 9001 section 8.4).
    const legacySessionId = this.mode === "tls" ? this.random(32) : new Uint8Array(0);
    this.keyShare = generateKeyShare(this.groups[0]!, this.random);
    this.ticket = this.usableTicket(now);
    const name = this.config.serverName;
    const ticket = this.ticket;
    this.offeredEarlyData =
      !!this.config.earlyData &&
      !!ticket &&
      ticket.maxEarlyDataSize > 0 &&
      // 0-RTT is sealed with the ticket's own suite and ALPN (RFC 8446 section 4.2.10).
      this.suites.includes(this.ticketSuite!) &&
      (ticket.alpnProtocol === undefined ? this.alpn.length === 0 : this.alpn.includes(ticket.alpnProtocol));
    const ch: ClientHello = {
      random: this.clientRandom,
      legacySessionId,
      cipherSuites: this.suites.map((s) => s.id),
      supportedVersions: [TLS13],
      supportedGroups: this.groups.map(groupCode),
      keyShares: [{ group: groupCode(this.keyShare.group), keyExchange: this.keyShare.publicKey }],
      signatureAlgorithms: this.schemes.map(signatureSchemeCode),
      signatureAlgorithmsCert: [...this.schemes.map(signatureSchemeCode), ...CERT_CHAIN_SCHEMES],
      // Always offered so servers may send tickets (RFC 8446 section 4.2.9).
      pskKeyExchangeModes: [PskKeyExchangeMode.psk_dhe_ke],
    };
    if (name !== undefined && isIP(name) === 0) ch.serverName = name;
    if (this.alpn.length) ch.alpnProtocols = this.alpn;
    if (this.config.quicTransportParameters) ch.quicTransportParameters = this.config.quicTransportParameters;
    if (this.offeredEarlyData) ch.earlyData = true;
    if (this.config.requestOcsp) ch.statusRequest = true;
    this.hello = ch;
    const message = this.encodeHello(now);
    this.send("initial", message);
    this.state = "WAIT_SERVER_HELLO";
    if (this.offeredEarlyData) {
      // client_early_traffic_secret over ClientHello (RFC 8446 section 7.1).
      const schedule = new KeySchedule(this.ticketSuite!);
      schedule.extractEarly(this.ticket!.psk);
      const secret = schedule.clientEarlyTrafficSecret(this.transcript.hash(this.ticketSuite!.hash));
      this.installSecret("zeroRtt", "write", secret, this.ticketSuite!);
    }
  }

  /** Encodes this.hello, computing the PSK binder when a ticket is offered (RFC 8446 section 4.2.11.2). */
  private encodeHello(now: number): Uint8Array {
    const ch = this.hello!;
    delete ch.preSharedKey;
    const ticket = this.ticket;
    if (ticket) {
      const suite = this.ticketSuite!;
      const identity = { identity: ticket.ticket, obfuscatedTicketAge: (now - ticket.receivedAt + ticket.ageAdd) >>> 0 };
      ch.preSharedKey = { identities: [identity], binders: [new Uint8Array(suite.hashLength)] };
      const draft = encodeClientHello(ch);
      const truncated = draft.subarray(0, draft.length - bindersLength(ch.preSharedKey));
      const schedule = new KeySchedule(suite);
      schedule.extractEarly(ticket.psk);
      const binder = finishedVerifyData(suite.hash, schedule.binderKey(true), this.transcript.hash(suite.hash, truncated));
      ch.preSharedKey = { identities: [identity], binders: [binder] };
    }
    const message = encodeClientHello(ch);
    this.sentExtensions = new Set(extensionTypesOf(ch));
    return message;
  }

  // -------------------------------------------------------------------------
  // ServerHello / HelloRetryRequest

  private checkExtensions(extensions: Extension[], allowed: Set<number>, what: string): void {
    for (const e of extensions) {
      // RFC 8446 section 4.2: a known extension in the wrong message is illegal_parameter ...
      if (KNOWN_EXTENSIONS.has(e.type) && !allowed.has(e.type)) throw alert("illegal_parameter", `extension ${e.type} not allowed in ${what}`);
      // ... and one we did not ask for is unsupported_extension (cookie in HRR excepted).
      if (!this.sentExtensions.has(e.type) && !(what === "HelloRetryRequest" && e.type === ExtensionType.cookie))
        throw alert("unsupported_extension", `unsolicited extension ${e.type} in ${what}`);
    }
  }

  private onServerHello(body: Uint8Array, message: Uint8Array, now: number): void {
    const sh = decodeServerHello(body);
    const what = sh.isHelloRetryRequest ? "HelloRetryRequest" : "ServerHello";
    // RFC 8446 section 4.2.1: without supported_versions the server negotiated TLS 1.2 or older.
    if (sh.supportedVersion === undefined) throw alert("protocol_version", `${what} without supported_versions: TLS 1.3 not negotiated`);
    if (sh.supportedVersion !== TLS13) throw alert("illegal_parameter", `${what} selected version 0x${sh.supportedVersion.toString(16)}`);
    if (sh.legacyVersion !== TLS12) throw alert("illegal_parameter", `${what} legacy_version 0x${sh.legacyVersion.toString(16)}`);
    // RFC 8446 section 4.1.3: echo must match, compression must be 0, suite must be offered.
    if (!equalBytes(sh.legacySessionIdEcho, this.hello!.legacySessionId)) throw alert("illegal_parameter", "legacy_session_id_echo mismatch");
    if (sh.compressionMethod !== 0) throw alert("illegal_parameter", "legacy_compression_method is not 0");
    const suite = this.suites.find((s) => s.id === sh.cipherSuite);
    if (!suite) throw alert("illegal_parameter", `server chose unoffered cipher suite 0x${sh.cipherSuite.toString(16)}`);
    this.checkExtensions(sh.extensions, sh.isHelloRetryRequest ? HRR_EXTENSIONS : SERVER_HELLO_EXTENSIONS, what);
    if (sh.isHelloRetryRequest) return this.onHelloRetryRequest(sh.selectedGroup, sh.cookie, suite, message, now);

    // RFC 8446 section 4.1.4: the ServerHello after an HRR must keep its suite.
    if (this.hrrSuite && this.hrrSuite !== suite) throw alert("illegal_parameter", "ServerHello cipher suite differs from HelloRetryRequest");
    // We only offer psk_dhe_ke, so key_share is always required (RFC 8446 section 4.2.8, 9.2).
    if (!sh.keyShare) throw alert("missing_extension", "ServerHello without key_share");
    if (sh.keyShare.group !== groupCode(this.keyShare!.group)) throw alert("illegal_parameter", "ServerHello key_share group was not offered");
    let psk: Uint8Array | undefined;
    if (sh.selectedIdentity !== undefined) {
      // RFC 8446 section 4.2.11: identity in range, suite hash matches the PSK's.
      if (!this.ticket || sh.selectedIdentity !== 0) throw alert("illegal_parameter", "server selected an unoffered PSK identity");
      if (suite.hash !== this.ticketSuite!.hash) throw alert("illegal_parameter", "server chose a suite incompatible with the PSK");
      psk = this.ticket.psk;
      this.resumed = true;
      // The server is not re-authenticated; report the chain from the original handshake.
      this.peerCertificates = this.ticket.peerCertificates ?? [];
    }
    const shared = this.keyShare!.computeSecret(sh.keyShare.keyExchange);
    this.cipherSuite = suite;
    this.group = this.keyShare!.group;
    this.transcript.add(message);
    const schedule = (this.schedule = new KeySchedule(suite));
    schedule.extractEarly(psk);
    schedule.extractHandshake(shared);
    const { client, server } = schedule.handshakeTrafficSecrets(this.transcript.hash(suite.hash));
    this.clientHandshakeSecret = client;
    this.serverHandshakeSecret = server;
    this.installSecret("handshake", "read", server, suite);
    this.installSecret("handshake", "write", client, suite);
    this.readLevel = "handshake";
    this.state = "WAIT_ENCRYPTED_EXTENSIONS";
  }

  /** HelloRetryRequest (RFC 8446 section 4.1.4): answer once with an updated ClientHello. */
  private onHelloRetryRequest(selectedGroup: number | undefined, cookie: Uint8Array | undefined, suite: CipherSuite, message: Uint8Array, now: number): void {
    if (this.helloRetried) throw alert("unexpected_message", "second HelloRetryRequest");
    this.helloRetried = true;
    this.hrrSuite = suite;
    const ch = this.hello!;
    if (selectedGroup !== undefined) {
      const name = groupName(selectedGroup);
      // The group must be one we listed and not the one we already sent a share for.
      if (!name || !this.groups.includes(name) || name === this.keyShare!.group)
        throw alert("illegal_parameter", `HelloRetryRequest selected group 0x${selectedGroup.toString(16)}`);
      this.keyShare = generateKeyShare(name, this.random);
      ch.keyShares = [{ group: selectedGroup, keyExchange: this.keyShare.publicKey }];
    } else if (!cookie) {
      throw alert("illegal_parameter", "HelloRetryRequest would not change the ClientHello");
    }
    if (cookie) ch.cookie = cookie;
    else delete ch.cookie;
    // No early data after a HelloRetryRequest (RFC 8446 sections 4.1.2, 4.2.10).
    delete ch.earlyData;
    if (this.offeredEarlyData) {
      this.offeredEarlyData = false;
      this.emit({ type: "earlyDataRejected" });
    }
    // Keep the PSK only if it fits the suite the server chose (RFC 8446 section 4.1.2).
    if (this.ticket && this.ticketSuite!.hash !== suite.hash) this.ticket = undefined;
    this.transcript.replaceWithMessageHash(suite.hash);
    this.transcript.add(message);
    this.send("initial", this.encodeHello(now));
  }

  // -------------------------------------------------------------------------
  // Server's encrypted flight

  private onEncryptedExtensions(body: Uint8Array, message: Uint8Array): void {
    const ee = decodeEncryptedExtensions(body);
    this.checkExtensions(ee.extensions, EE_EXTENSIONS, "EncryptedExtensions");
    if (ee.alpnProtocols) {
      // RFC 7301 section 3.1: exactly one protocol, one we offered.
      if (ee.alpnProtocols.length !== 1 || !this.alpn.includes(ee.alpnProtocols[0]!))
        throw alert("illegal_parameter", "server selected an unoffered ALPN protocol");
      this.alpnProtocol = ee.alpnProtocols[0];
    } else if (this.mode === "quic" && this.alpn.length) {
      // RFC 9001 section 8.1: QUIC requires an application protocol.
      throw alert("no_application_protocol", "server selected no ALPN protocol");
    }
    if (ee.quicTransportParameters) this.peerTransportParameters = ee.quicTransportParameters;
    else if (this.mode === "quic") throw alert("missing_extension", "quic_transport_parameters missing (RFC 9001 section 8.2)");
    if (ee.earlyData) {
      // RFC 8446 section 4.2.10, 4.2.11: only for the first PSK, with the ticket's ALPN.
      if (!this.resumed || !this.offeredEarlyData) throw alert("illegal_parameter", "early_data accepted without a resumed PSK");
      if (this.alpnProtocol !== this.ticket!.alpnProtocol) throw alert("illegal_parameter", "0-RTT accepted with a different ALPN");
      this.earlyDataAccepted = true;
    }
    this.transcript.add(message);
    this.state = this.resumed ? "WAIT_FINISHED" : "WAIT_CERTIFICATE_OR_REQUEST";
  }

  private onCertificateRequest(body: Uint8Array, message: Uint8Array): void {
    const cr = decodeCertificateRequest(body);
    // RFC 8446 section 4.3.2: empty context in the main handshake; signature_algorithms required.
    if (cr.requestContext.length !== 0) throw alert("illegal_parameter", "CertificateRequest context must be empty during the handshake");
    if (!cr.signatureAlgorithms) throw alert("missing_extension", "CertificateRequest without signature_algorithms");
    this.certificateRequest = { context: cr.requestContext, schemes: cr.signatureAlgorithms };
    this.transcript.add(message);
    this.state = "WAIT_CERTIFICATE";
  }

  private onCertificate(body: Uint8Array, message: Uint8Array, now: number): void {
    const cert = decodeCertificate(body);
    if (cert.requestContext.length !== 0) throw alert("illegal_parameter", "server Certificate with a request context");
    // RFC 8446 section 4.4.2.4: an empty server Certificate is decode_error.
    if (cert.entries.length === 0) throw alert("decode_error", "server sent no certificate");
    // Only the leaf may carry an extension, and only the status_request we asked for (RFC 8446 sections 4.4.2 and 4.4.2.1).
    cert.entries.forEach((entry, i) => {
      for (const e of entry.extensions) {
        if (e.type !== ExtensionType.status_request || i !== 0 || !this.config.requestOcsp || this.ocspResponse)
          throw alert("unsupported_extension", "unsolicited CertificateEntry extension");
        this.ocspResponse = decodeCertificateStatus(e.data);
      }
    });
    const chain = cert.entries.map((e) => e.data);
    if (this.config.rejectUnauthorized !== false) {
      const options: Parameters<typeof verifyChain>[1] = { trust: trustStoreFor(this.config.ca), now, usage: "server" };
      if (this.config.serverName !== undefined) options.host = this.config.serverName;
      verifyChain(chain, options);
    }
    this.serverPublicKey = certificatePublicKey(chain[0]!);
    this.peerCertificates = chain;
    this.transcript.add(message);
    this.state = "WAIT_CERTIFICATE_VERIFY";
  }

  private onCertificateVerify(body: Uint8Array, message: Uint8Array): void {
    const cv = decodeCertificateVerify(body);
    this.signatureScheme = checkCertificateVerify({
      scheme: cv.scheme,
      signature: cv.signature,
      offered: this.schemes,
      publicKey: this.serverPublicKey!,
      server: true,
      transcriptHash: this.transcript.hash(this.cipherSuite!.hash),
    });
    this.transcript.add(message);
    this.state = "WAIT_FINISHED";
  }

  private onFinished(body: Uint8Array, message: Uint8Array): void {
    const suite = this.cipherSuite!;
    const schedule = this.schedule!;
    const verifyData = decodeFinished(body, suite.hashLength);
    const expected = finishedVerifyData(suite.hash, this.serverHandshakeSecret!, this.transcript.hash(suite.hash));
    // RFC 8446 section 4.4.4: a wrong Finished is decrypt_error.
    if (!equalBytes(verifyData, expected)) throw alert("decrypt_error", "server Finished does not verify");
    this.transcript.add(message);
    schedule.extractMaster();
    const app = schedule.applicationTrafficSecrets(this.transcript.hash(suite.hash));
    this.installSecret("oneRtt", "read", app.server, suite);
    this.logExporterSecret(app.exporter);
    this.readLevel = "oneRtt";

    // TLS over TCP ends 0-RTT with EndOfEarlyData; QUIC has none (RFC 9001 section 8.3).
    if (this.earlyDataAccepted && this.mode === "tls") this.send("zeroRtt", encodeEndOfEarlyData());
    if (this.certificateRequest) this.sendClientCertificate();
    const finished = finishedVerifyData(suite.hash, this.clientHandshakeSecret!, this.transcript.hash(suite.hash));
    this.send("handshake", encodeFinished(finished));
    this.resumptionMasterSecret = schedule.resumptionMasterSecret(this.transcript.hash(suite.hash));
    // The resumption secret is the transcript's last use.
    this.transcript.discard();
    this.installSecret("oneRtt", "write", app.client, suite);
    this.state = "CONNECTED";
    this.handshakeComplete = true;
    this.emit({ type: "handshakeComplete" });
  }

  /** Certificate (possibly empty) and CertificateVerify for a CertificateRequest (RFC 8446 section 4.4.2, 4.4.3). */
  private sendClientCertificate(): void {
    const cr = this.certificateRequest!;
    let local;
    try {
      local = loadLocalCertificate(this.config);
    } catch (e) {
      throw alert("internal_error", `cannot load the client certificate: ${(e as Error).message}`);
    }
    const scheme = local
      ? schemesForKey(local.key, this.schemes).find((s) => cr.schemes.includes(signatureSchemeCode(s)))
      : undefined;
    if (!local || !scheme) {
      // No certificate that fits the request: send an empty one (RFC 8446 section 4.4.2).
      this.send("handshake", encodeCertificate({ requestContext: cr.context, entries: [] }));
      return;
    }
    this.send("handshake", encodeCertificate({ requestContext: cr.context, entries: local.chain.map((data) => ({ data, extensions: [] })) }));
    this.localCertificates = local.chain;
    const content = certificateVerifyContent(false, this.transcript.hash(this.cipherSuite!.hash));
    const signature = signContent(scheme, local.key, content);
    this.send("handshake", encodeCertificateVerify({ scheme: signatureSchemeCode(scheme), signature }));
    this.clientSignatureScheme = scheme;
  }

  // -------------------------------------------------------------------------
  // Post-handshake

  private onNewSessionTicket(body: Uint8Array, now: number): void {
    const nst = decodeNewSessionTicket(body);
    // RFC 8446 section 4.6.1: lifetimes above 7 days are not allowed.
    if (nst.lifetime > MAX_TICKET_LIFETIME_SECONDS) throw alert("illegal_parameter", "ticket_lifetime above 604800 seconds");
    // RFC 9001 section 4.6.1: in QUIC max_early_data_size is 0xffffffff or absent.
    if (this.mode === "quic" && nst.maxEarlyDataSize !== undefined && nst.maxEarlyDataSize !== QUIC_MAX_EARLY_DATA)
      throw alert("illegal_parameter", "max_early_data_size other than 0xffffffff in QUIC", QUIC_PROTOCOL_VIOLATION);
    if (nst.lifetime === 0) return; // a zero lifetime means "do not use" (RFC 8446 section 4.6.1)
    const suite = this.cipherSuite!;
    const ticket: SessionTicket = {
      ticket: nst.ticket,
      psk: resumptionPsk(suite.hash, this.resumptionMasterSecret!, nst.nonce),
      cipherSuite: suite.name,
      ageAdd: nst.ageAdd,
      lifetime: nst.lifetime,
      receivedAt: now,
      maxEarlyDataSize: nst.maxEarlyDataSize ?? 0,
      ...(this.config.serverName !== undefined ? { serverName: this.config.serverName } : {}),
      ...(this.alpnProtocol !== undefined ? { alpnProtocol: this.alpnProtocol } : {}),
      ...(this.peerTransportParameters ? { peerTransportParameters: this.peerTransportParameters } : {}),
      ...(this.peerCertificates.length ? { peerCertificates: this.peerCertificates } : {}),
    };
    this.emit({ type: "sessionTicket", ticket });
  }
}

/** Extension types present in an encoded ClientHello we built (for the "unsolicited" rule). */
function extensionTypesOf(ch: ClientHello): number[] {
  const types: number[] = [];
  if (ch.supportedVersions) types.push(ExtensionType.supported_versions);
  if (ch.serverName !== undefined) types.push(ExtensionType.server_name);
  if (ch.supportedGroups) types.push(ExtensionType.supported_groups);
  if (ch.keyShares) types.push(ExtensionType.key_share);
  if (ch.signatureAlgorithms) types.push(ExtensionType.signature_algorithms);
  if (ch.signatureAlgorithmsCert) types.push(ExtensionType.signature_algorithms_cert);
  if (ch.alpnProtocols) types.push(ExtensionType.application_layer_protocol_negotiation);
  if (ch.pskKeyExchangeModes) types.push(ExtensionType.psk_key_exchange_modes);
  if (ch.earlyData) types.push(ExtensionType.early_data);
  if (ch.cookie) types.push(ExtensionType.cookie);
  if (ch.quicTransportParameters) types.push(ExtensionType.quic_transport_parameters);
  if (ch.statusRequest) types.push(ExtensionType.status_request);
  if (ch.preSharedKey) types.push(ExtensionType.pre_shared_key);
  return types;
}
