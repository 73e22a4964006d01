import { randomBytes } from "node:crypto";
import type { CipherSuite } from "../crypto/suites.js";
import { TLS_AES_128_GCM_SHA256 } from "../crypto/suites.js";
import { TlsAlertError } from "../tls/alerts.js";
import { TlsClient } from "../tls/client.js";
import type { EncryptionLevel, TlsEngine } from "../tls/engine.js";
import { TlsServer } from "../tls/server.js";
import { decodeSessionTicket, type SessionTicket } from "../tls/ticket.js";
import { equalBytes, plainBytes } from "../util/bytes.js";
import { DecodeError, TsquicError } from "../util/errors.js";
import { LocalConnectionIds, PeerConnectionIds, randomConnectionId } from "./cid.js";
import { resolveConfig, type ConnectionConfig, type ResolvedConfig } from "./config.js";
import { CryptoReceiver, CryptoSender } from "./crypto-stream.js";
import { DatagramQueue, datagramTooLargeError, datagramsUnsupportedError, maxDatagramPayload } from "./datagram.js";
import { earlyDataPolicy, encodeTicketLimits } from "./early-data.js";
import { reducedLimit, streamLimitsOf } from "./resumption.js";
import { QuicTransportError, TransportErrorCode, transportErrorName } from "./errors.js";
import {
  FrameType,
  PAYLOAD_ACK_ELICITING,
  PAYLOAD_NON_PROBING,
  PacketType as FramePacketType,
  ackRangesThatFit,
  closeReasonText,
  cryptoFrameHeaderSize,
  maxCryptoDataLength,
  parseFrames,
  putAckFrameForRanges,
  putCryptoFrame,
  putFrame,
  putStreamFrame,
  frameSize,
  type Frame,
} from "./frames/index.js";
import {
  PacketProtection,
  PacketType,
  UnprotectedPacket,
  deriveInitialSecrets,
  nextKeyPhaseSecret,
  packetNumberLength,
  parsePacketHeader,
  parseVersionNegotiation,
  patchLongHeaderLength,
  matchStatelessReset,
  validateRetry,
  writeLongHeader,
  writeShortHeader,
  LongPacketType,
  getQuicVersion,
  isReservedVersion,
  QUIC_V1,
  PacketDecryptError,
  MIN_PN_AND_PAYLOAD_LENGTH,
  MIN_STATELESS_RESET_LENGTH,
  AEAD_TAG_LENGTH,
  statelessResetToken as resetTokenForKey,
  type HeaderProtectionBatch,
  type PacketHeader,
  type QuicVersion,
} from "./packet/index.js";
import { AckTracker } from "./recovery/ack-tracker.js";
import { PacketNumberSpace } from "./recovery/constants.js";
import type { ConnectionTracer } from "./qlog/tracer.js";
import { LossDetection, TimeoutAction, type LossDetectionHandler } from "./recovery/loss-detection.js";
import { PathManager, isPreferredAddress, preferredAddressParameter, reachablePreferredAddress, type PathAddresses, type PathEvent, type PathProbe } from "./path/index.js";
import { SentPacket } from "./recovery/sent-packet.js";
import { StreamManager, type Stream, type StreamEvent } from "./stream/manager.js";
import type { StreamControlFrame } from "./stream/frames.js";
import type { ReadResult } from "./stream/recv-stream.js";
import type { ResourceUsage } from "./resource-usage.js";
import { PathMtuDiscovery } from "./recovery/pmtud.js";
import { clientValidate, localVersionInformation, serverNegotiate, areCompatible } from "./version-negotiation.js";
import {
  checkConnectionIdParameters,
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
} from "./transport-params.js";
import { formatAddress, type OutgoingDatagram, type PathInfo, type SansIo, type SocketAddress } from "./types.js";

/** Smallest datagram carrying a client's Initial packet (RFC 9000 section 14.1). */
const MIN_INITIAL_SIZE = 1200;

/** Anti-amplification factor before address validation (RFC 9000 section 8.1). */
const AMPLIFICATION_FACTOR = 3;

/** Closing and draining last three PTOs (RFC 9000 section 10.2); old 1-RTT read keys are kept as long (RFC 9001 section 6.5). */
const CLOSE_PTO_MULTIPLIER = 3;

/** Smallest room worth starting a packet in: header, a frame and the AEAD tag. */
const MIN_PACKET_ROOM = 64;

/** Times per connection the handshake flight is re-sent early on evidence of its loss (RFC 9002 section 6.2.3). */
const MAX_HANDSHAKE_SPEEDUPS = 4;

const EMPTY_CID = new Uint8Array(0);

/**
 * Outgoing datagrams are carved from shared slabs rather than allocated one
 * by one: each datagram is a view the driver may hold until it is sent, and
 * a slab is dropped (and collected) once its views are gone.
 */
const SLAB_SIZE = 256 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabOffset = 0;

/** Room for a datagram of up to `size` bytes; {@link commitDatagram} claims what was used. */
function reserveDatagram(size: number): Buffer {
  if (SLAB_SIZE - slabOffset < size) {
    slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, size));
    slabOffset = 0;
  }
  return slab.subarray(slabOffset, slabOffset + size);
}

/** Claims the first `used` bytes of the last reservation, returning them as the datagram. */
function commitDatagram(reserved: Buffer, used: number): Buffer {
  // Keep 8-byte alignment for the next datagram.
  slabOffset += (used + 7) & ~7;
  return reserved.subarray(0, used);
}

/** Packet number spaces, in the order packets are coalesced (RFC 9000 section 12.2). */
const SPACES = [PacketNumberSpace.Initial, PacketNumberSpace.Handshake, PacketNumberSpace.Application] as const;

/** The lifecycle of a connection (RFC 9000 section 10). */
export type ConnectionState = "handshake" | "established" | "closing" | "draining" | "closed";

/** Why a connection ended, as reported to the application. */
export interface CloseInfo {
  /** Transport error code (application: false) or application error code (application: true). */
  errorCode: number;
  /** True for an application close (CONNECTION_CLOSE type 0x1d). */
  application: boolean;
  /** Reason phrase. */
  reason: string;
  /** True when the peer closed the connection, false when we did. */
  remote: boolean;
  /** The error that describes the close (undefined for a clean NO_ERROR / code 0 close). */
  error?: TsquicError;
}

/** A connection-level failure the application sees: says what happened and carries the QUIC code. */
export class QuicConnectionError extends TsquicError {
  /** Transport or application error code. */
  readonly errorCode: number;
  /** True for application error codes. */
  readonly application: boolean;
  /** True when the peer raised it. */
  readonly remote: boolean;

  constructor(code: string, message: string, errorCode: number, application: boolean, remote: boolean, cause?: unknown) {
    super(code, message, { cause });
    this.errorCode = errorCode;
    this.application = application;
    this.remote = remote;
  }
}

/** Events the connection queues for its driver and API layer; drain them with {@link Connection.poll}. */
export type ConnectionEvent =
  | StreamEvent
  /** The handshake completed (client: Finished sent; server: client Finished verified). */
  | { type: "handshake_done" }
  /**
   * A session ticket for resumption arrived (client), or a NEW_TOKEN token
   * to go with the latest one: keep both to resume (RFC 9000 section 8.1.3).
   */
  | { type: "session_ticket"; ticket: SessionTicket; token: Uint8Array | undefined }
  /**
   * Client: the server accepted or rejected our 0-RTT data (emitted before
   * handshake_done); rejected data is sent again in 1-RTT packets. Server:
   * we accepted 0-RTT (emitted when the ClientHello is processed).
   */
  | { type: "early_data"; accepted: boolean }
  /** A DATAGRAM frame arrived (RFC 9221); `data` is a copy the application may keep. */
  | { type: "datagram"; data: Uint8Array }
  /** The connection entered closing or draining, or ended silently (idle timeout, stateless reset). */
  | { type: "connection_closed"; info: CloseInfo }
  /** Path validation and migration (RFC 9000 sections 8.2 and 9). */
  | PathEvent;

/** Statistics of a connection (RFC 9002 names where they exist). */
export interface ConnectionStats {
  /** Latest RTT sample, ms (RFC 9002 section 5.1). */
  latestRtt: number;
  /** Minimum RTT, ms (RFC 9002 section 5.2). */
  minRtt: number;
  /** Smoothed RTT, ms (RFC 9002 section 5.3). */
  smoothedRtt: number;
  /** RTT variation, ms (RFC 9002 section 5.3). */
  rttVariance: number;
  /** Congestion window, bytes (RFC 9002 section 7). */
  congestionWindow: number;
  /** Bytes of ack-eliciting packets sent and not yet acknowledged, lost or discarded. */
  bytesInFlight: number;
  /** Highest bytesInFlight so far. */
  maxBytesInFlight: number;
  /** Bytes of the packets sent (QUIC header and AEAD tag included; CONNECTION_CLOSE packets excluded). */
  bytesSent: number;
  /** Bytes of every datagram received, whether or not its packets could be processed. */
  bytesReceived: number;
  /** Packets sent (ACK-only ones included). */
  packetsSent: number;
  /** Packets authenticated and processed. */
  packetsReceived: number;
  /** Packets declared lost (RFC 9002 section 6.1). */
  packetsLost: number;
  /** Bytes of the packets declared lost. */
  bytesLost: number;
  /** Packets dropped on receipt: undecryptable, duplicate, for a discarded space, or unparseable. */
  packetsDropped: number;
  /** STREAM and CRYPTO payload bytes queued again after a loss. */
  retransmittedBytes: number;
  /** Probe timeouts that fired (RFC 9002 section 6.2). */
  ptoCount: number;
  /** Congestion events that reduced the window. */
  congestionEvents: number;
  /** Time from creation to handshake completion, ms; undefined before. */
  handshakeDuration: number | undefined;
  /** 1-RTT key updates this side went through, whoever started them (RFC 9001 section 6). */
  keyUpdates: number;
  /** DATA_BLOCKED, STREAM_DATA_BLOCKED and STREAMS_BLOCKED frames sent (RFC 9000 sections 19.12-19.14). */
  blockedFramesSent: { data: number; streamData: number; streams: number };
  /** The same frames received from the peer. */
  blockedFramesReceived: { data: number; streamData: number; streams: number };
}

/** What a sent packet carried that may need sending again (RFC 9000 section 13.3). */
type SentFrame =
  | { k: "stream"; id: number; offset: number; length: number; fin: boolean }
  | { k: "crypto"; offset: number; length: number }
  | { k: "control"; f: StreamControlFrame }
  | { k: "handshake_done" }
  | { k: "new_cid"; seq: number }
  | { k: "retire_cid"; seq: number }
  | { k: "new_token" }
  | { k: "ping" }
  | { k: "datagram" }
  | { k: "mtu_probe"; size: number };

// Frames without fields are recorded by one shared object each, not an allocation per packet.
const PING_RECORD: SentFrame = { k: "ping" };
/** One per packet carrying DATAGRAM frames, for their statistics: they are never sent again (RFC 9221 section 5.2). */
const DATAGRAM_RECORD: SentFrame = { k: "datagram" };
const HANDSHAKE_DONE_RECORD: SentFrame = { k: "handshake_done" };
const NO_FRAMES: SentFrame[] = [];
const NEW_TOKEN_RECORD: SentFrame = { k: "new_token" };

/** Keys of one packet number space. */
interface SpaceKeys {
  read: PacketProtection | undefined;
  write: PacketProtection | undefined;
}

/** Per packet-number-space state. */
class SpaceState {
  readonly keys: SpaceKeys = { read: undefined, write: undefined };
  readonly ack: AckTracker;
  readonly cryptoSend = new CryptoSender();
  readonly cryptoRecv = new CryptoReceiver();
  nextPn = 0;
  discarded = false;
  /** Largest packet number successfully processed, for packet number decoding. */
  largestRecv = -1;

  constructor(space: PacketNumberSpace, maxAckDelay: number, ackDelayExponent: number) {
    this.ack = new AckTracker(space, { maxAckDelay, ackDelayExponent });
  }
}

/** Options to create a client connection. */
export interface ClientConnectionOptions {
  /** Shared configuration. */
  config: ConnectionConfig | ResolvedConfig;
  /** Server name for SNI and certificate verification (may be an IP literal). */
  serverName?: string;
  /** The server's address. */
  remote: SocketAddress;
  /** Our local address (informational). */
  local?: SocketAddress;
  /** Time of creation (ms). */
  now: number;
  /** Our source connection ID (random when absent). */
  scid?: Uint8Array;
  /** The destination connection ID of our first Initial (random, at least 8 bytes, RFC 9000 section 7.2). */
  dcid?: Uint8Array;
  /** Stateless reset token key, for NEW_CONNECTION_ID tokens. */
  statelessResetKey?: Uint8Array;
  /** A session ticket for resumption. */
  sessionTicket?: SessionTicket | Uint8Array;
  /**
   * Send 0-RTT data when the ticket allows it (RFC 9001 section 4.6);
   * default `config.clientTls.earlyData`. Needs the server's transport
   * parameters, which tickets received by this library carry.
   */
  earlyData?: boolean;
  /** A NEW_TOKEN token from an earlier connection to the same server, for our Initial packets (RFC 9000 section 8.1.3). */
  token?: Uint8Array;
  /**
   * The version this client tried first, when this connection follows an
   * incompatible Version Negotiation packet: the server's version_information
   * is then checked for a downgrade (RFC 9368 section 4).
   */
  afterVersionNegotiation?: number;
  /** Version of the first flight; default the first of `config.versions`. */
  version?: number;
}

/** Options to create a server connection from a client's first Initial. */
export interface ServerConnectionOptions {
  /** Shared configuration; `serverTls` is required. */
  config: ConnectionConfig | ResolvedConfig;
  /** The client's address. */
  remote: SocketAddress;
  /** Our local address the Initial arrived on (informational). */
  local?: SocketAddress;
  /** Time of creation (ms). */
  now: number;
  /** Our source connection ID (chosen by the endpoint, used for routing). */
  scid: Uint8Array;
  /** The DCID of the client's first Initial: the original DCID (or the Retry's SCID after a Retry). */
  initialDcid: Uint8Array;
  /** The client's SCID from its Initial. */
  peerScid: Uint8Array;
  /** QUIC version of the client's Initial. */
  version: number;
  /** When the endpoint validated a Retry token: the original DCID and that the address is validated. */
  retry?: { originalDcid: Uint8Array; retrySourceCid: Uint8Array };
  /** The endpoint's stateless reset key (tokens for our CIDs). */
  statelessResetKey: Uint8Array;
  /** The client's Initial carried a valid NEW_TOKEN token: its address is validated (RFC 9000 section 8.1.3). */
  addressValidated?: boolean;
  /** Mints a NEW_TOKEN token for the client, sent once the handshake completes (RFC 9000 section 8.1.3). */
  issueToken?: (client: SocketAddress, now: number) => Uint8Array;
  /** Registers and unregisters CIDs with the endpoint's routing table. */
  onCidIssued?: (cid: Uint8Array) => void;
}

const LEVEL_OF_SPACE: Record<PacketNumberSpace, EncryptionLevel> = {
  [PacketNumberSpace.Initial]: "initial",
  [PacketNumberSpace.Handshake]: "handshake",
  [PacketNumberSpace.Application]: "oneRtt",
};

/** The type of packets sent in each space, 0-RTT aside. */
const PACKET_TYPE_OF_SPACE = [PacketType.Initial, PacketType.Handshake, PacketType.OneRtt] as const;

/**
 * One QUIC connection, sans-IO (after quiche's `Connection`): feed it
 * datagrams with {@link recv}, pull datagrams with {@link send}, ask for
 * the next deadline with {@link timeout} and call {@link onTimeout} when it
 * passes. It never reads a clock, opens a socket or sets a timer; events
 * queue up for {@link poll}.
 */
export class Connection implements SansIo, LossDetectionHandler<SentFrame[]> {
  /** "client" or "server". */
  readonly role: "client" | "server";
  /** Resolved configuration. */
  readonly config: ResolvedConfig;
  /** The negotiated QUIC version. */
  version: QuicVersion;
  /** Lifecycle state. */
  state: ConnectionState = "handshake";
  /** The network paths: the active one, a fallback, a probe (RFC 9000 sections 8.2 and 9). */
  readonly paths: PathManager;
  /** Why the connection ended, once it has. */
  closeInfo: CloseInfo | undefined;
  /** The streams of this connection. */
  readonly streams: StreamManager;
  /** The TLS engine. */
  readonly tls: TlsEngine;
  /** Loss detection, congestion control and pacing. */
  readonly recovery: LossDetection<SentFrame[]>;
  /** Our CIDs (the peer's destination CIDs). */
  readonly localCids: LocalConnectionIds;
  /** The peer's CIDs (our destination CIDs). */
  readonly peerCids: PeerConnectionIds;
  /** The peer's transport parameters, after the handshake delivered them. */
  peerParams: TransportParameters | undefined;
  /** Our transport parameters. */
  readonly localParams: TransportParameters;
  /** DATAGRAM frames waiting to be sent, and their counters (RFC 9221). */
  readonly datagrams: DatagramQueue;
  /** The tracer (qlog) of this connection, when the configuration made one. */
  tracer: ConnectionTracer | undefined;

  private readonly spaces: [SpaceState, SpaceState, SpaceState];
  private readonly events: ConnectionEvent[] = [];
  private readonly unprotected = new UnprotectedPacket();

  // Handshake progress.
  private handshakeComplete = false;
  private handshakeConfirmed = false;
  private handshakeDoneToSend = false;
  private readonly createdAt: number;
  private handshakeDuration: number | undefined;
  /** Client: the DCID of the first Initial (for Retry and transport parameter checks). */
  private originalDcid: Uint8Array;
  private retrySourceCid: Uint8Array | undefined;
  private retryToken: Uint8Array | undefined;
  private receivedFirstServerPacket = false;

  // 0-RTT (RFC 9001 section 4.6) and resumption.
  /** 0-RTT keys: the client's write keys until the handshake completes, the server's read keys until the first 1-RTT packet. */
  private zeroRttKeys: PacketProtection | undefined;
  private earlyData: EarlyDataStatus = "none";
  /** Client: the server transport parameters remembered with the ticket (RFC 9000 section 7.4.1). */
  private rememberedParams: TransportParameters | undefined;
  /** Client: ALPN of the ticket; early data means nothing under another protocol. */
  private earlyAlpn: string | undefined;
  /** Server: peer streams that received data in 0-RTT packets (bounded by our stream limits). */
  private readonly earlyStreams = new Set<number>();
  /** The packet whose frames are being processed is 0-RTT. */
  private rxEarly = false;
  /** Client: a NEW_TOKEN token from an earlier connection, for our Initials (RFC 9000 section 8.1.3). */
  private initialToken: Uint8Array | undefined;
  /** Client: the latest ticket and NEW_TOKEN token; a session_ticket event is due once the datagram is processed. */
  private latestTicket: SessionTicket | undefined;
  private latestToken: Uint8Array | undefined;
  private sessionEventDue = false;
  /** Server: mints our NEW_TOKEN token; the token, and whether it is (again) to be sent. */
  private issueToken: ((client: SocketAddress, now: number) => Uint8Array) | undefined;
  private newToken: Uint8Array | undefined;
  private newTokenToSend = false;

  // Address validation and anti-amplification (RFC 9000 section 8.1).
  private addressValidated: boolean;
  private bytesReceivedUnvalidated = 0;
  private bytesSentUnvalidated = 0;

  // 1-RTT key update (RFC 9001 section 6).
  /** Key phase of the current read keys. */
  private readKeyPhase: 0 | 1 = 0;
  /** Key phase of the current write keys; ahead of the read phase while our update awaits the peer's answer. */
  private writeKeyPhase: 0 | 1 = 0;
  private readSecret: Uint8Array | undefined;
  private writeSecret: Uint8Array | undefined;
  private suite: CipherSuite | undefined;
  /** Read keys of the next phase, derived in advance. */
  private nextRead: PacketProtection | undefined;
  private nextReadSecret: Uint8Array | undefined;
  /** Read keys of the previous phase, kept for late packets until {@link prevReadDiscardAt}. */
  private prevRead: PacketProtection | undefined;
  private prevReadDiscardAt = Infinity;
  /** First packet number received in the current read phase: lower ones belong to the previous phase (RFC 9001 section 6.5). */
  private keyPhaseFirstRecvPn = 0;
  /** Write keys rotated (updates we started plus those we answered). */
  private keyUpdates = 0;
  /** First packet number sent in the current key phase; an ACK of it allows another update. */
  private keyPhaseFirstPn = 0;
  private keyPhaseAcked = true;
  /** We started an update and have not yet received a packet of the new phase. */
  private pendingLocalUpdate = false;

  // Timers.
  private idleDeadline = Infinity;
  private closeDeadline = Infinity;
  private handshakeDeadline = Infinity;
  private lastAckElicitingSentAfterRecv = false;

  // Closing (RFC 9000 section 10.2).
  private closeFrame: { application: boolean; errorCode: number; frameType: number; reason: Uint8Array } | undefined;
  private closeToSend = false;

  // Probes and pings.
  private pingPending = [false, false, false];

  // Statistics.
  private bytesReceived = 0;
  private packetsReceived = 0;
  private packetsDropped = 0;
  private retransmittedBytes = 0;

  private undecryptable: Array<{ data: Uint8Array; path: PathInfo }> = [];
  private readonly statelessResetKey: Uint8Array;
  private readonly onCidIssued: ((cid: Uint8Array) => void) | undefined;

  private constructor(
    role: "client" | "server",
    config: ResolvedConfig,
    remote: SocketAddress,
    local: SocketAddress | undefined,
    now: number,
    scid: Uint8Array,
    dcid: Uint8Array,
    version: QuicVersion,
    statelessResetKey: Uint8Array,
    onCidIssued: ((cid: Uint8Array) => void) | undefined,
  ) {
    this.role = role;
    this.config = config;
    this.createdAt = now;
    this.version = version;
    this.statelessResetKey = statelessResetKey;
    this.onCidIssued = onCidIssued;
    this.addressValidated = role === "client";
    this.originalDcid = dcid;
    const t = config.transport;
    this.frameOptions = { maxDatagramFrameSize: t.maxDatagramFrameSize, ackFrequency: false };
    this.datagrams = new DatagramQueue(config.maxQueuedDatagrams);
    this.spaces = [
      new SpaceState(PacketNumberSpace.Initial, 0, t.ackDelayExponent),
      new SpaceState(PacketNumberSpace.Handshake, 0, t.ackDelayExponent),
      new SpaceState(PacketNumberSpace.Application, t.maxAckDelay, t.ackDelayExponent),
    ];
    this.recovery = new LossDetection<SentFrame[]>(this, {
      isServer: role === "server",
      congestionControl: config.congestionControl,
      maxDatagramSize: MIN_INITIAL_SIZE,
      initialRtt: config.initialRtt,
      adaptiveReordering: config.adaptiveReordering,
    });
    for (const s of SPACES) this.recovery.attachAckTracker(s, this.spaces[s].ack);
    this.localCids = new LocalConnectionIds(
      () => randomConnectionId(config.connectionIdLength),
      (cid) => resetTokenForKey(this.statelessResetKey, cid),
    );
    this.peerCids = new PeerConnectionIds(dcid, t.activeConnectionIdLimit, config.maxPendingRetireConnectionIds);
    this.paths = new PathManager(
      {
        peerCids: this.peerCids,
        onPathChange: (at, sample) => {
          this.recovery.onPathChange(at, sample);
          // A new path has its own MTU: back to the base size, then search again (RFC 9000 section 14.2.1, RFC 8899 section 5.2).
          if (this.pmtud?.restart(at)) this.recovery.setMaxDatagramSize(this.pmtud.mtu);
        },
        // The validation timer uses the larger of the PTO and the PTO of a new path with the initial RTT (RFC 9000 section 8.2.4).
        pto: () => ({ current: this.recovery.ptoPeriod(), initial: 3 * config.initialRtt + (this.peerParams?.maxAckDelay ?? 25) }),
        emit: (e) => this.onPathEvent(e),
      },
      local,
      remote,
    );
    this.localCids.addInitial(scid, role === "server");
    this.streams = new StreamManager({
      isClient: role === "client",
      local: {
        initialMaxData: t.initialMaxData,
        initialMaxStreamDataBidiLocal: t.initialMaxStreamDataBidiLocal,
        initialMaxStreamDataBidiRemote: t.initialMaxStreamDataBidiRemote,
        initialMaxStreamDataUni: t.initialMaxStreamDataUni,
        initialMaxStreamsBidi: t.initialMaxStreamsBidi,
        initialMaxStreamsUni: t.initialMaxStreamsUni,
      },
      maxStreamWindow: config.maxStreamWindow,
      maxConnectionWindow: config.maxConnectionWindow,
      streamHighWaterMark: config.streamHighWaterMark,
      maxRecvFragments: config.maxStreamReassemblyFragments,
      maxSendBuffer: config.maxSendBuffer,
    });
    const p = defaultTransportParameters();
    p.maxIdleTimeout = t.maxIdleTimeout;
    p.maxUdpPayloadSize = t.maxUdpPayloadSize;
    p.initialMaxData = t.initialMaxData;
    p.initialMaxStreamDataBidiLocal = t.initialMaxStreamDataBidiLocal;
    p.initialMaxStreamDataBidiRemote = t.initialMaxStreamDataBidiRemote;
    p.initialMaxStreamDataUni = t.initialMaxStreamDataUni;
    p.initialMaxStreamsBidi = t.initialMaxStreamsBidi;
    p.initialMaxStreamsUni = t.initialMaxStreamsUni;
    p.ackDelayExponent = t.ackDelayExponent;
    p.maxAckDelay = t.maxAckDelay;
    p.disableActiveMigration = t.disableActiveMigration;
    p.activeConnectionIdLimit = t.activeConnectionIdLimit;
    if (t.maxDatagramFrameSize > 0) p.maxDatagramFrameSize = t.maxDatagramFrameSize;
    p.initialSourceConnectionId = scid;
    p.versionInformation = localVersionInformation(version.number, config.versions);
    this.localParams = p;
    this.originalVersion = version.number;
    this.handshakeDeadline = now + config.handshakeTimeout;
    // Initial keys are installed by connect() and accept(): a server's come from the client's DCID, not `dcid`.
    // The TLS engine is created by the role-specific factory below.
    this.tls = undefined as unknown as TlsEngine;
  }

  /** Creates a client connection and queues its first Initial (RFC 9000 section 7). */
  static connect(o: ClientConnectionOptions): Connection {
    const config = resolveConfig(o.config);
    // A reserved version (RFC 9000 section 15) only draws a Version Negotiation; its packets are shaped like v1's.
    const first = o.version ?? config.versions[0]!;
    const version = getQuicVersion(first) ?? (isReservedVersion(first) ? { ...QUIC_V1, number: first, name: "reserved" } : QUIC_V1);
    const scid = o.scid ?? randomConnectionId(config.connectionIdLength);
    // The first DCID is random and at least 8 bytes (RFC 9000 section 7.2).
    const dcid = o.dcid ?? randomConnectionId(Math.max(8, config.connectionIdLength));
    const key = o.statelessResetKey ?? new Uint8Array(randomBytes(32));
    const c = new Connection("client", config, o.remote, o.local, o.now, scid, dcid, version, key, undefined);
    c.installInitialKeys(dcid);
    const ticket = o.sessionTicket instanceof Uint8Array ? decodeTicketOrUndefined(o.sessionTicket) : o.sessionTicket;
    // 0-RTT lives by the server's remembered transport parameters (RFC 9000 section 7.4.1): no 0-RTT without them.
    if ((o.earlyData ?? config.clientTls.earlyData) && ticket?.peerTransportParameters) {
      try {
        c.rememberedParams = decodeTransportParameters(ticket.peerTransportParameters, "server");
        c.earlyAlpn = ticket.alpnProtocol;
      } catch {
        c.rememberedParams = undefined;
      }
    }
    c.initialToken = o.token;
    if (o.afterVersionNegotiation !== undefined) c.afterVersionNegotiation = o.afterVersionNegotiation;
    // Built again, without 0-RTT, for a new attempt after Version Negotiation.
    c.newTlsClient = (earlyData = c.rememberedParams !== undefined) =>
      new TlsClient({
        ...config.clientTls,
        serverName: o.serverName ?? config.clientTls.serverName,
        alpnProtocols: config.alpn,
        quicTransportParameters: encodeTransportParameters(c.localParams, "client"),
        ...(o.sessionTicket ? { sessionTicket: ticket ?? o.sessionTicket } : {}),
        earlyData,
        // Key log lines cost hex strings per secret: only when someone listens.
        keyLog: config.keylog !== undefined,
      });
    const tls = c.newTlsClient();
    (c as { tls: TlsEngine }).tls = tls;
    c.guard(() => {
      tls.start(o.now);
      c.drainTls(o.now);
    });
    c.idleDeadline = o.now + c.config.handshakeTimeout;
    c.startTrace(dcid, o.now);
    return c;
  }

  /** Creates a server connection for a client's first Initial; the endpoint then passes that datagram to {@link recv}. */
  static accept(o: ServerConnectionOptions): Connection {
    const config = resolveConfig(o.config);
    if (!config.serverTls) throw new TypeError("a server connection needs config.serverTls (certificate and key)");
    const version = getQuicVersion(o.version);
    if (!version) throw new RangeError(`unsupported QUIC version 0x${o.version.toString(16)}`);
    const c = new Connection("server", config, o.remote, o.local, o.now, o.scid, o.peerScid, version, o.statelessResetKey, o.onCidIssued);
    // Initial keys come from the DCID the client chose (RFC 9001 section 5.2).
    c.installInitialKeys(o.initialDcid);
    c.localParams.originalDestinationConnectionId = o.retry ? o.retry.originalDcid : o.initialDcid;
    if (o.retry) {
      c.localParams.retrySourceConnectionId = o.retry.retrySourceCid;
      c.addressValidated = true;
    }
    if (o.addressValidated) c.addressValidated = true;
    c.issueToken = o.issueToken;
    c.localParams.statelessResetToken = c.localCids.get(0)!.resetToken;
    if (config.preferredAddress) {
      // Its CID is sequence 1 and travels in the parameter, not in NEW_CONNECTION_ID (RFC 9000 sections 5.1.1, 9.6).
      const e = c.localCids.issue(false);
      c.localParams.preferredAddress = preferredAddressParameter(config.preferredAddress, e.cid, e.resetToken!);
    }
    const tls = new TlsServer({
      ...config.serverTls,
      alpnProtocols: config.alpn,
      quicTransportParameters: encodeTransportParameters(c.localParams, "server"),
      ...(config.serverTls.earlyData ? { acceptEarlyData: earlyDataPolicy(config.serverTls, c.localParams) } : {}),
      onClientTransportParameters: (raw) => c.negotiateVersion(raw),
      keyLog: config.keylog !== undefined,
    });
    (c as { tls: TlsEngine }).tls = tls;
    c.idleDeadline = o.now + c.config.handshakeTimeout;
    c.startTrace(c.localParams.originalDestinationConnectionId!, o.now);
    return c;
  }

  private startTrace(originalDcid: Uint8Array, now: number): void {
    this.tracer = this.config.tracer?.({ connection: this, originalDcid, now });
  }

  // ---------------------------------------------------------------------
  // Public API: state

  /** The peer's address on the active path. */
  get remote(): SocketAddress {
    return this.paths.current.remote;
  }

  /** Our address on the active path, when known. */
  get local(): SocketAddress | undefined {
    return this.paths.current.local;
  }

  /** The active path's addresses. */
  get path(): PathAddresses {
    return this.paths.current.addresses();
  }

  /** Our connection IDs, for the endpoint's routing table. */
  get sourceConnectionIds(): Uint8Array[] {
    return this.localCids.active.map((e) => e.cid);
  }

  /**
   * True once the handshake is confirmed (RFC 9001 section 4.1.2): the
   * server at completion, the client on HANDSHAKE_DONE or an
   * acknowledgement of one of its 1-RTT packets.
   */
  get isHandshakeConfirmed(): boolean {
    return this.handshakeConfirmed;
  }

  /**
   * True once the peer's address is validated (RFC 9000 section 8.1), and
   * again once the address it moved to is (section 9.3); always true for a client.
   */
  get isAddressValidated(): boolean {
    return this.addressValidated && this.paths.current.addressValidated;
  }

  /** True while keys of `level` are installed in either direction; false before and after (RFC 9001 section 4.9). */
  hasKeys(level: "initial" | "handshake" | "oneRtt"): boolean {
    const k = this.spaces[level === "initial" ? 0 : level === "handshake" ? 1 : 2].keys;
    return k.read !== undefined || k.write !== undefined;
  }

  /**
   * True while the 1-RTT read keys of the previous key phase are kept for
   * late packets after a key update (at most three PTOs, RFC 9001 section 6.5).
   */
  get hasPreviousReadKeys(): boolean {
    return this.prevRead !== undefined;
  }

  /** Key phase bit of the 1-RTT packets we send now (RFC 9001 section 6). */
  get keyPhase(): 0 | 1 {
    return this.writeKeyPhase;
  }

  /** Key phase bit of the latest 1-RTT packets received from the peer (RFC 9001 section 6). */
  get peerKeyPhase(): 0 | 1 {
    return this.readKeyPhase;
  }

  /** Where 0-RTT stands on this connection (RFC 9001 section 4.6). */
  get earlyDataStatus(): EarlyDataStatus {
    return this.earlyData;
  }

  /**
   * True once stream data can be written and sent: after the handshake, or
   * before it in 0-RTT (client) or 0.5-RTT after accepting 0-RTT (server).
   */
  get canSendApplicationData(): boolean {
    return this.handshakeComplete || (this.earlyData === "attempted" && this.zeroRttKeys !== undefined) || (this.role === "server" && this.earlyData === "accepted");
  }

  /** Server: true when data of the peer's stream `id` arrived in 0-RTT packets (a request "in early data", RFC 8470 section 5). */
  receivedInEarlyData(id: number): boolean {
    return this.earlyStreams.has(id);
  }

  /**
   * Changes whenever {@link sourceConnectionIds} or {@link peerResetToken}
   * may have changed, so an endpoint re-reads them only then.
   */
  get routingGeneration(): number {
    return this.routingGen + this.paths.cidChanges;
  }

  private routingGen = 0;

  /**
   * Called when the application queued something to send (a write, a read
   * that frees flow-control credit, a reset, a ping, a close), so the
   * {@link Endpoint} that owns this connection schedules it without
   * scanning every connection. Set by the endpoint. New public methods that
   * queue output must call {@link wake}.
   */
  onWake: ((c: Connection) => void) | undefined;

  private wake(): void {
    this.onWake?.(this);
  }

  /** Packets authenticated and processed so far (duplicates excluded). */
  get packetsProcessed(): number {
    return this.packetsReceived;
  }

  /** True once the handshake completed. */
  get isEstablished(): boolean {
    return this.handshakeComplete && this.state === "established";
  }

  /** True when the connection is gone for good and its state can be freed. */
  get isClosed(): boolean {
    return this.state === "closed";
  }

  /** True in the closing or draining states, or closed. */
  get isClosing(): boolean {
    return this.state === "closing" || this.state === "draining" || this.state === "closed";
  }

  /** The negotiated ALPN protocol. */
  get alpnProtocol(): string | undefined {
    return this.tls.alpnProtocol;
  }

  /** Next queued event, or undefined. Stream events come from the stream layer. */
  poll(): ConnectionEvent | undefined {
    // connection_closed is always last, so the stream events it ends are seen first.
    const head = this.events[0];
    if (head && head.type !== "connection_closed") {
      if (head.type === "datagram") this.datagrams.onDelivered();
      return this.events.shift();
    }
    return this.streams.pollEvent() ?? this.events.shift();
  }

  /** Connection statistics. */
  stats(): ConnectionStats {
    const r = this.recovery.getStats();
    const rtt = this.recovery.rtt;
    return {
      latestRtt: rtt.latestRtt,
      minRtt: rtt.minRtt,
      smoothedRtt: rtt.smoothedRtt,
      rttVariance: rtt.rttVar,
      congestionWindow: this.recovery.congestionWindow,
      bytesInFlight: this.recovery.bytesInFlight,
      maxBytesInFlight: this.recovery.cc.maxBytesInFlight,
      bytesSent: r.bytesSent,
      bytesReceived: this.bytesReceived,
      packetsSent: r.packetsSent,
      packetsReceived: this.packetsReceived,
      packetsLost: r.packetsLost,
      bytesLost: r.bytesLost,
      packetsDropped: this.packetsDropped,
      retransmittedBytes: this.retransmittedBytes,
      ptoCount: r.ptoCount,
      congestionEvents: this.recovery.cc.congestionEvents,
      handshakeDuration: this.handshakeDuration,
      keyUpdates: this.keyUpdates,
      blockedFramesSent: { ...this.blockedSent },
      blockedFramesReceived: { ...this.blockedReceived },
    };
  }

  /** What the peer currently makes this connection hold, each quantity under a limit. O(streams). */
  resourceUsage(): ResourceUsage {
    let cryptoBufferedBytes = 0;
    let cryptoFragments = 0;
    let ackRangesTracked = 0;
    for (const space of SPACES) {
      const st = this.spaces[space];
      cryptoBufferedBytes += st.cryptoRecv.buffered;
      cryptoFragments += st.cryptoRecv.fragments;
      ackRangesTracked += st.ack.ranges.size;
    }
    const retire = this.peerCids.pendingRetire.length;
    return {
      streams: this.streams.streamCount,
      recvBufferedBytes: this.streams.recvBufferedBytes,
      sendBufferedBytes: this.streams.sendBufferedBytes,
      maxStreamFragments: this.streams.maxRecvFragmentCount(),
      cryptoBufferedBytes,
      cryptoFragments,
      ackRangesTracked,
      peerConnectionIds: this.peerCids.count,
      localConnectionIds: this.localCids.count,
      queuedControlFrames: this.streams.queuedControlFrames + retire + this.localCids.pendingAnnounce.length,
      queuedRetireConnectionIds: retire,
      undecryptablePackets: this.undecryptable.length,
    };
  }

  // ---------------------------------------------------------------------
  // Public API: streams

  /** Opens a stream; null when the peer's MAX_STREAMS does not allow one now (a streams_available event follows). */
  openStream(bidi = true): Stream | null {
    this.assertUsable();
    this.wake();
    return this.streams.openStream(bidi);
  }

  /** A stream by ID, if it exists. */
  getStream(id: number): Stream | undefined {
    return this.streams.getStream(id);
  }

  /** Queues data (and optionally FIN) on a stream; returns false above the high-water mark (backpressure). */
  streamWrite(id: number, data: Uint8Array, fin = false): boolean {
    this.assertUsable();
    const s = this.requireStream(id);
    this.wake();
    return this.streams.write(s, data, fin);
  }

  /** Reads up to `max` bytes from a stream; null when nothing is readable now. */
  streamRead(id: number, max?: number): ReadResult | null {
    const s = this.streams.getStream(id);
    if (!s) return null;
    this.wake();
    return this.streams.read(s, max);
  }

  /** Abruptly ends our sending part with RESET_STREAM. */
  streamReset(id: number, errorCode: number): void {
    const s = this.streams.getStream(id);
    if (s) this.streams.resetStream(s, errorCode);
    this.wake();
  }

  /** Asks the peer to stop sending with STOP_SENDING. */
  streamStopSending(id: number, errorCode: number): void {
    const s = this.streams.getStream(id);
    if (s) this.streams.stopSending(s, errorCode);
    this.wake();
  }

  private requireStream(id: number): Stream {
    const s = this.streams.getStream(id);
    if (!s) throw new TsquicError("ERR_QUIC_STREAM_NOT_FOUND", `stream ${id} does not exist or is closed`);
    return s;
  }

  private assertUsable(): void {
    if (this.isClosing) {
      throw this.closeInfo?.error ?? new TsquicError("ERR_QUIC_CONNECTION_CLOSED", "the connection is closed");
    }
  }

  /**
   * The largest datagram {@link sendDatagram} accepts now: within the
   * peer's max_datagram_frame_size and one packet (RFC 9221 section 5).
   * 0 when the peer does not accept DATAGRAM frames or its transport
   * parameters have not arrived yet.
   */
  get maxDatagramSize(): number {
    return Math.max(0, this.datagramPayloadLimit());
  }

  private datagramPayloadLimit(): number {
    // In 0-RTT the remembered max_datagram_frame_size applies (RFC 9221 section 3).
    const params = this.peerParams ?? this.rememberedParams;
    return maxDatagramPayload(params?.maxDatagramFrameSize, this.recovery.cc.maxDatagramSize, this.peerCids.current.cid.length);
  }

  /**
   * Queues an unreliable datagram (a DATAGRAM frame, RFC 9221): sent once,
   * congestion controlled, never retransmitted. Returns false when the
   * queue is full (`maxQueuedDatagrams`) and the datagram was dropped.
   * Throws when the peer does not accept DATAGRAM frames or `data` can
   * never fit ({@link maxDatagramSize}). Before the handshake completes
   * datagrams wait, and are dropped if they then turn out not to fit.
   * `data` is kept by reference until sent: do not modify it.
   */
  sendDatagram(data: Uint8Array): boolean {
    this.assertUsable();
    if (this.peerParams) {
      const max = this.maxDatagramSize;
      if (!this.peerParams.maxDatagramFrameSize) throw datagramsUnsupportedError();
      if (data.length > max) throw datagramTooLargeError(data.length, max);
    }
    this.wake();
    return this.datagrams.push(data);
  }

  /** Sends a PING in the application space (keep-alive, RTT sample). */
  ping(): void {
    this.pingPending[PacketNumberSpace.Application] = true;
    this.wake();
  }

  /**
   * Closes the connection gracefully with an application error code
   * (CONNECTION_CLOSE type 0x1d, RFC 9000 section 10.2). Before the
   * handshake completes, the code travels as a transport APPLICATION_ERROR
   * in Initial/Handshake packets (RFC 9000 section 10.2.3).
   */
  close(errorCode = 0, reason = "", now?: number): void {
    if (this.isClosing) return;
    this.wake();
    this.enterClosing(
      { application: true, errorCode, frameType: 0, reason: new TextEncoder().encode(reason) },
      errorCode === 0 ? undefined : new QuicConnectionError("ERR_QUIC_APPLICATION_CLOSE", `connection closed by the application with code ${errorCode}${reason ? `: ${reason}` : ""}`, errorCode, true, false),
      now,
    );
  }

  /**
   * Client: moves the connection to a new local address (a new socket),
   * RFC 9000 section 9.2. The new path is probed with PATH_CHALLENGE under
   * an unused peer CID (section 9.5) while traffic stays on the old path;
   * once the server answers, the connection switches and retires the old
   * CID. A `path_validated` or `path_validation_failed` event tells the
   * outcome. With `natRebinding`, moves at once with no probe and no new
   * CID, as a NAT would (to test a peer's handling of rebinding).
   *
   * Called after the handshake completed but before it is confirmed, the
   * move waits for confirmation (section 9 forbids migrating earlier).
   * Throws a TsquicError when migration is not allowed: on a server,
   * before the handshake completed, when the server sent
   * disable_active_migration (section 9; code ERR_QUIC_MIGRATION_DISABLED),
   * or when the server gave no unused CID (ERR_QUIC_NO_CONNECTION_ID).
   */
  migrate(local: SocketAddress, now: number, options: { natRebinding?: boolean } = {}): void {
    this.assertUsable();
    this.wake();
    if (this.role !== "client") throw new TsquicError("ERR_QUIC_MIGRATION_NOT_ALLOWED", "only a client migrates (RFC 9000 section 9)");
    if (!this.handshakeComplete) throw new TsquicError("ERR_QUIC_MIGRATION_NOT_ALLOWED", "cannot migrate before the handshake is confirmed (RFC 9000 section 9)");
    // disable_active_migration covers the handshake address only, not the preferred address once used (RFC 9000 section 18.2).
    if (this.peerParams?.disableActiveMigration && !options.natRebinding && !this.paths.current.preferred) {
      throw new TsquicError("ERR_QUIC_MIGRATION_DISABLED", "the server sent disable_active_migration (RFC 9000 section 18.2): it does not accept a client moving to a new address");
    }
    if (!this.handshakeConfirmed) {
      this.deferredMigration = { local, natRebinding: options.natRebinding ?? false };
      return;
    }
    if (!this.paths.migrate(local, now, options.natRebinding ?? false)) {
      throw new TsquicError("ERR_QUIC_NO_CONNECTION_ID", "cannot migrate: the peer has given no unused connection ID (RFC 9000 section 9.5)");
    }
  }

  /** A migration asked for before the handshake was confirmed; it starts at confirmation. */
  private deferredMigration: { local: SocketAddress; natRebinding: boolean } | undefined;

  /**
   * Starts a 1-RTT key update (RFC 9001 section 6.1); the peer follows
   * when our next packet reaches it. Returns false when one is not allowed
   * yet: before the handshake is confirmed, before a packet of the current
   * key phase was acknowledged, while the peer has not answered the last
   * update, or while the previous read keys are still kept (section 6.5
   * asks to wait about three PTOs between updates).
   */
  updateKey(): boolean {
    if (this.isClosing || !this.handshakeConfirmed || !this.keyPhaseAcked || this.pendingLocalUpdate) return false;
    if (this.prevRead || !this.writeSecret || !this.suite) return false;
    this.rotateWriteKeys();
    this.pendingLocalUpdate = true;
    this.wake();
    return true;
  }

  /**
   * Server: goes on with a handshake that waited for an asynchronous
   * certificate choice (`serverTls.selectCertificate` returned a promise;
   * call this once `(tls as TlsServer).pendingSelection` settles).
   */
  resumeHandshake(now: number): void {
    if (this.role !== "server" || this.isClosing) return;
    this.wake();
    this.guard(() => {
      (this.tls as TlsServer).resume(now);
      this.drainTls(now);
    }, now);
  }

  // ---------------------------------------------------------------------
  // Receiving

  /**
   * Processes one UDP datagram (RFC 9000 section 12.2: it may hold several
   * coalesced packets). Never throws. Packets are decrypted in place: the
   * datagram's bytes are modified.
   */
  recv(datagram: Uint8Array, path: PathInfo, now: number): void {
    if (this.state === "closed") return;
    datagram = plainBytes(datagram);
    this.bytesReceived += datagram.length;
    // New credit on an unvalidated address may lift the amplification limit, and the PTO with it (RFC 9002 section 6.2.2.1).
    let credited = this.paths.onDatagram(path, datagram.length);
    if (!this.addressValidated) {
      this.bytesReceivedUnvalidated += datagram.length;
      credited = true;
    }
    if (credited && this.amplificationBudget() >= MIN_PACKET_ROOM) this.recovery.setAmplificationLimited(false, now);
    if (this.state === "draining") return;
    try {
      this.processDatagram(datagram, path, now);
      // Packets that arrived ahead of their keys can be processed once the keys are in (RFC 9001 section 5.7).
      if (this.retryUndecryptable) this.processUndecryptable(now);
      // One event for a ticket and the NEW_TOKEN token that usually shares its packet.
      if (this.sessionEventDue && this.latestTicket) {
        this.sessionEventDue = false;
        this.events.push({ type: "session_ticket", ticket: this.latestTicket, token: this.latestToken });
      }
    } catch (e) {
      this.onError(e, now);
    }
    this.tracer?.sync(now);
  }

  /** Reprocesses the packets held for keys that have since been installed. */
  private processUndecryptable(now: number): void {
    this.retryUndecryptable = false;
    const pending = this.undecryptable;
    this.undecryptable = [];
    for (const p of pending) {
      if (this.state !== "handshake" && this.state !== "established" && this.state !== "closing") break;
      this.processDatagram(p.data, p.path, now);
    }
  }

  private processDatagram(datagram: Uint8Array, path: PathInfo, now: number): void {
    let offset = 0;
    let firstDcid: Uint8Array | undefined;
    let anyProcessed = false;
    while (offset < datagram.length) {
      let header;
      try {
        header = parsePacketHeader(datagram, offset, datagram.length, this.config.connectionIdLength);
      } catch (e) {
        if (e instanceof DecodeError) {
          this.packetsDropped++;
          this.tracer?.packetDropped(undefined, datagram.length - offset, false, now);
          break; // The rest of the datagram cannot be parsed (RFC 9000 section 12.2).
        }
        throw e;
      }
      const packetEnd = header.packetEnd;
      const dropped = this.packetsDropped;
      // Coalesced packets with another DCID are dropped (RFC 9000 section 12.2).
      if (firstDcid === undefined) firstDcid = header.dcid;
      else if (!equalBytes(firstDcid, header.dcid)) {
        this.packetsDropped++;
        this.tracer?.packetDropped(header, packetEnd - header.headerStart, false, now);
        offset = packetEnd;
        continue;
      }
      const processed = this.processPacket(datagram, header, path, now);
      if (processed) anyProcessed = true;
      if (this.tracer && this.packetsDropped !== dropped) this.tracer.packetDropped(header, packetEnd - header.headerStart, processed, now);
      if (this.state === "draining" || this.state === "closed") return;
      offset = packetEnd;
    }
    if (!anyProcessed) {
      // A datagram we could not process may be a stateless reset (RFC 9000 section 10.3.1).
      if (this.matchesStatelessReset(datagram)) this.onStatelessReset(now);
    } else if (this.state === "closing") {
      this.onPacketWhileClosing();
    }
  }

  /**
   * The stateless reset token of the peer CID we currently send to, which
   * a stateless reset from the peer ends with; undefined when the peer gave
   * none (RFC 9000 section 10.3). Endpoints route resets by it.
   */
  get peerResetToken(): Uint8Array | undefined {
    return this.peerCids.current.resetToken;
  }

  /**
   * True when `datagram` ends with the stateless reset token of the CID we
   * send to (RFC 9000 section 10.3.1; tokens of CIDs we never used are not
   * checked). Constant time.
   */
  matchesStatelessReset(datagram: Uint8Array): boolean {
    const token = this.peerCids.current.resetToken;
    return token !== undefined && datagram.length >= MIN_STATELESS_RESET_LENGTH && matchStatelessReset(datagram, [token]) === 0;
  }

  /**
   * The peer reset the connection (RFC 9000 section 10.3.1): enter the
   * draining period and send nothing more. Called by the connection, or by
   * the endpoint for a reset it routed here by token.
   */
  onStatelessReset(now: number): void {
    if (this.state === "draining" || this.state === "closed") return;
    const error = new QuicConnectionError("ERR_QUIC_STATELESS_RESET", "the peer reset the connection (stateless reset)", 0, false, true);
    this.closeInfo = { errorCode: 0, application: false, reason: "stateless reset", remote: true, error };
    this.events.push({ type: "connection_closed", info: this.closeInfo });
    this.state = "draining";
    this.closeToSend = false;
    this.closeDeadline = now + CLOSE_PTO_MULTIPLIER * this.recovery.ptoPeriod();
    this.closeDeadlinePending = false;
  }

  /** Processes one packet; returns true when it was authenticated and handled. */
  private processPacket(buf: Uint8Array, header: PacketHeader, path: PathInfo, now: number): boolean {
    switch (header.type) {
      case PacketType.VersionNegotiation:
      case PacketType.Retry:
        // Not protected packets: none is "processed"; those a client does not act on are dropped.
        if (!(header.type === PacketType.Retry ? this.onRetry(buf, header, now) : this.onVersionNegotiation(buf, header, now))) this.packetsDropped++;
        return false;
      case PacketType.UnsupportedVersion:
        this.packetsDropped++;
        return false;
    }
    if (header.longHeader && header.version !== this.version.number) {
      if (this.processOtherVersion(buf, header, path, now)) return true;
      this.packetsDropped++;
      return false;
    }
    let space: PacketNumberSpace;
    let framePacketType: (typeof FramePacketType)[keyof typeof FramePacketType];
    switch (header.type) {
      case PacketType.Initial:
        space = PacketNumberSpace.Initial;
        framePacketType = FramePacketType.Initial;
        // A client drops Initial packets with a token (RFC 9000 section 17.2.2); a server drops
        // Initial packets in datagrams under 1200 bytes (RFC 9000 section 14.1).
        if (this.role === "client" ? header.token.length > 0 : buf.length < MIN_INITIAL_SIZE) {
          this.packetsDropped++;
          return false;
        }
        break;
      case PacketType.Handshake:
        space = PacketNumberSpace.Handshake;
        framePacketType = FramePacketType.Handshake;
        break;
      case PacketType.ZeroRtt:
        // Only servers read 0-RTT, and only with the keys of an accepted attempt; once the ClientHello
        // showed there are none (rejected, or discarded after 1-RTT), 0-RTT packets are dropped (RFC 9001 section 4.6.2, 4.9.3).
        if (this.role === "client" || (!this.zeroRttKeys && this.tls.cipherSuite !== undefined)) {
          this.packetsDropped++;
          return false;
        }
        space = PacketNumberSpace.Application;
        framePacketType = FramePacketType.ZeroRtt;
        break;
      default:
        space = PacketNumberSpace.Application;
        framePacketType = FramePacketType.OneRtt;
    }
    const st = this.spaces[space];
    if (st.discarded) {
      this.packetsDropped++;
      return false;
    }
    const zeroRtt = header.type === PacketType.ZeroRtt;
    const read = zeroRtt ? this.zeroRttKeys : st.keys.read;
    // 1-RTT packets wait for the handshake to complete, even when the keys exist (RFC 9001 section 5.7).
    if (!read || (space === PacketNumberSpace.Application && !zeroRtt && !this.handshakeComplete)) {
      // A client getting Handshake packets before Handshake keys lost the server's Initial (RFC 9002 section 6.2.3).
      if (this.role === "client" && space === PacketNumberSpace.Handshake) this.speedUpHandshake();
      // Keys not yet available: keep a few packets to retry once they are (RFC 9001 section 5.7).
      if (this.undecryptable.length < this.config.maxUndecryptablePackets) {
        this.undecryptable.push({ data: buf.slice(header.headerStart, header.packetEnd), path });
      } else {
        this.packetsDropped++;
      }
      return false;
    }
    const pkt = this.unprotected;
    try {
      read.removeHeaderProtection(buf, header.headerStart, header.pnOffset, header.packetEnd, st.largestRecv, pkt);
    } catch (e) {
      if (e instanceof DecodeError) {
        this.packetsDropped++;
        return false;
      }
      throw e;
    }
    let opener = read;
    if (space === PacketNumberSpace.Application && !zeroRtt && pkt.keyPhase !== this.readKeyPhase) {
      // A late packet of the previous phase, or the peer's key update (RFC 9001 section 6.5).
      if (pkt.packetNumber < this.keyPhaseFirstRecvPn) {
        if (!this.prevRead) {
          this.packetsDropped++;
          return false;
        }
        opener = this.prevRead;
      } else {
        if (!this.nextRead) {
          this.packetsDropped++;
          return false;
        }
        opener = this.nextRead;
      }
    }
    try {
      opener.decryptPayload(buf, pkt);
    } catch (e) {
      if (e instanceof PacketDecryptError) {
        this.packetsDropped++;
        return false;
      }
      throw e;
    }
    if (st.ack.isDuplicate(pkt.packetNumber)) {
      this.packetsDropped++;
      return true;
    }
    // Client: adopt the server's SCID as our DCID from its first packet (RFC 9000 section 7.2).
    if (this.role === "client" && header.longHeader) {
      if (!this.receivedFirstServerPacket) {
        this.receivedFirstServerPacket = true;
        // An authenticated packet: a Version Negotiation received before it no longer counts (RFC 9000 section 6.2).
        this.versionMismatch = undefined;
        this.versionMismatchDeadline = Infinity;
        this.peerCids.replaceInitial(header.scid.slice());
        this.serverInitialScid = header.scid.slice();
      } else if (!equalBytes(header.scid, this.serverInitialScid!)) {
        // Later packets with another Source CID are discarded (RFC 9000 section 7.2).
        this.packetsDropped++;
        return false;
      }
    }
    // A 1-RTT packet from another path (RFC 9000 section 9): dropped, followed after its frames, or just answered.
    // A client drops those from server addresses it did not choose (section 9.6).
    const otherPath = space === PacketNumberSpace.Application && !this.paths.current.matches(path);
    if (otherPath && (this.role === "client" ? !this.paths.knowsServerAddress(path.from) : this.refusesMigration(header.dcid, path))) {
      this.packetsDropped++;
      return false;
    }
    const largest = pkt.packetNumber > st.largestRecv;
    if (opener === this.nextRead) this.onPeerKeyUpdate(pkt.packetNumber, now);
    // A server may drop 0-RTT keys at the first 1-RTT packet (RFC 9001 section 4.9.3); late 0-RTT data comes again in 1-RTT.
    if (this.zeroRttKeys && space === PacketNumberSpace.Application && !zeroRtt) this.zeroRttKeys = undefined;

    this.packetsReceived++;
    this.tracer?.packetReceived(header, pkt.packetNumber, buf.subarray(pkt.payloadStart, pkt.payloadEnd), now);
    if (largest) st.largestRecv = pkt.packetNumber;
    // Server: a Handshake packet proves the client owns its address (RFC 9000 section 8.1).
    if (this.role === "server" && space === PacketNumberSpace.Handshake && !this.addressValidated) {
      this.addressValidated = true;
      this.recovery.setAmplificationLimited(false, now);
    }

    // The frame handler is bound once; the packet's context travels in fields, not a closure.
    this.rxSpace = space;
    this.rxDcid = header.dcid;
    this.rxNow = now;
    this.rxPath = path;
    this.rxDatagramLength = buf.length;
    this.rxEarly = zeroRtt;
    const flags = parseFrames(buf.subarray(pkt.payloadStart, pkt.payloadEnd), framePacketType, this.frameHandler, this.frameOptions);
    this.rxDcid = EMPTY_CID;
    this.rxEarly = false;
    if (this.state === "draining" || this.state === "closed") return true;
    if (space === PacketNumberSpace.Application) {
      // The peer moved when its newest non-probing packet comes from another path (RFC 9000 section 9.3); servers follow, once the handshake is confirmed (section 9).
      if (otherPath && largest && (flags & PAYLOAD_NON_PROBING) !== 0 && this.role === "server" && this.handshakeConfirmed) {
        this.paths.onPeerMigrated(path, now, header.dcid, buf.length);
      } else if (!otherPath && !zeroRtt) {
        // (0-RTT packets carry the client's first, random DCID, none of ours.)
        this.notePeerCid(header.dcid);
      }
    }
    st.ack.onPacketReceived(pkt.packetNumber, (flags & PAYLOAD_ACK_ELICITING) !== 0, now);

    // Server: discard Initial keys once the first Handshake packet is processed (RFC 9001 section 4.9.1).
    if (this.role === "server" && space === PacketNumberSpace.Handshake) this.discardSpace(PacketNumberSpace.Initial, now);

    // Restart the idle timer (RFC 9000 section 10.1).
    this.lastAckElicitingSentAfterRecv = false;
    if (this.handshakeComplete) this.idleDeadline = now + this.idleTimeout();
    return true;
  }

  private serverInitialScid: Uint8Array | undefined;

  /** Remembers which of our CIDs the peer uses on the active path, to tell a migration from a NAT rebinding. */
  private notePeerCid(dcid: Uint8Array): void {
    const known = this.paths.localCidInUse;
    if (known === undefined || !equalBytes(known, dcid)) this.paths.localCidInUse = dcid.slice();
  }

  /**
   * True when a server must drop a packet from another path: having sent
   * disable_active_migration, it drops packets on which the client moved
   * on purpose (a new CID, RFC 9000 sections 9 and 9.5) unless they reach
   * our preferred address (section 9.6), but follows a NAT rebinding (same
   * CID), which the client did not choose. Before the handshake is
   * confirmed nobody migrates (section 9), so packets are processed but
   * the path stays.
   */
  private refusesMigration(dcid: Uint8Array, path: PathInfo): boolean {
    if (this.role !== "server" || !this.localParams.disableActiveMigration) return false;
    const known = this.paths.localCidInUse;
    return known !== undefined && !equalBytes(known, dcid) && !isPreferredAddress(this.config.preferredAddress, path.to);
  }

  // Context of the packet whose frames are being processed (see processPacket).
  private rxSpace: PacketNumberSpace = PacketNumberSpace.Initial;
  private rxDcid: Uint8Array = EMPTY_CID;
  private rxNow = 0;
  private rxPath: PathInfo = { from: { address: "", port: 0 }, to: { address: "", port: 0 } };
  private rxDatagramLength = 0;
  private readonly frameHandler = (f: Frame): void => this.onFrame(f, this.rxSpace, this.rxDcid, this.rxNow);
  private readonly frameOptions: { maxDatagramFrameSize: number; ackFrequency: boolean };

  private onFrame(f: Frame, space: PacketNumberSpace, packetDcid: Uint8Array, now: number): void {
    if (this.state === "closing") {
      // While closing only the peer's CONNECTION_CLOSE matters (RFC 9000 section 10.2.1).
      if (f.type === "connection_close") this.onPeerClose(f, now);
      return;
    }
    if (this.state === "draining" || this.state === "closed") return;
    const st = this.spaces[space];
    switch (f.type) {
      case "padding":
      case "ping":
        return;
      case "ack":
        this.onAck(space, f, now);
        return;
      case "crypto": {
        if (space !== PacketNumberSpace.Application && !this.handshakeComplete && st.cryptoRecv.isRepeat(f.offset, f.data.length)) this.speedUpHandshake();
        for (const chunk of st.cryptoRecv.onData(f.offset, f.data)) this.tls.receive(LEVEL_OF_SPACE[space], chunk, now);
        this.drainTls(now);
        // A gap in the peer's handshake flight: make our ACK ack-eliciting, so that if it is lost our own PTO repeats it
        // rather than leaving the repair to the peer's backed-off timer (any packet may carry PING, RFC 9000 section 19.2).
        if (space === PacketNumberSpace.Handshake && !this.handshakeComplete && st.cryptoRecv.buffered > 0) this.pingPending[space] = true;
        return;
      }
      case "stream":
        if (this.rxEarly) this.earlyStreams.add(f.streamId);
        this.streams.onStreamFrame(f.streamId, f.offset, f.data, f.fin);
        return;
      case "reset_stream":
        this.streams.onResetStream(f.streamId, f.errorCode, f.finalSize);
        return;
      case "stop_sending":
        this.streams.onStopSending(f.streamId, f.errorCode);
        return;
      case "max_data":
        this.streams.onMaxData(f.maximum);
        return;
      case "max_stream_data":
        this.streams.onMaxStreamData(f.streamId, f.maximum);
        return;
      case "max_streams":
        this.streams.onMaxStreams(f.bidi, f.maximum);
        return;
      case "data_blocked":
        this.blockedReceived.data++;
        this.streams.onDataBlocked(f.limit);
        return;
      case "stream_data_blocked":
        this.blockedReceived.streamData++;
        this.streams.onStreamDataBlocked(f.streamId, f.limit);
        return;
      case "streams_blocked":
        this.blockedReceived.streams++;
        this.streams.onStreamsBlocked(f.bidi, f.limit);
        return;
      case "new_token":
        // A server never receives NEW_TOKEN (RFC 9000 section 19.7). A client keeps the latest for its next connection (section 8.1.3).
        if (this.role === "server") {
          throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, "client sent NEW_TOKEN", FrameType.NEW_TOKEN);
        }
        this.latestToken = f.token;
        this.sessionEventDue = true;
        return;
      case "new_connection_id":
        if (this.peerCids.current.cid.length === 0) {
          // A peer using zero-length CIDs must not send NEW_CONNECTION_ID (RFC 9000 section 19.15).
          throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, "NEW_CONNECTION_ID from a peer using a zero-length CID", FrameType.NEW_CONNECTION_ID);
        }
        this.peerCids.add(f.sequence, f.retirePriorTo, f.connectionId, f.statelessResetToken);
        this.routingGen++;
        return;
      case "retire_connection_id": {
        this.localCids.retire(f.sequence, packetDcid);
        this.routingGen++;
        this.topUpConnectionIds();
        return;
      }
      case "path_challenge":
        // Answered on the path it came from (RFC 9000 section 8.2.2); a burst of challenges gets a bounded number of answers.
        this.paths.onChallenge(f.data, this.rxPath, this.rxDatagramLength, now, this.role === "server" && this.handshakeConfirmed);
        // The peer may have followed a copy of our packets elsewhere: a non-probing packet here brings it back (RFC 9000 section 9.3.3).
        if (this.paths.current.matches(this.rxPath)) this.pingPending[PacketNumberSpace.Application] = true;
        return;
      case "path_response":
        this.paths.onResponse(f.data, this.rxPath, now);
        // A validated path lifts its amplification limit, and the PTO with it (RFC 9002 section 6.2.2.1).
        if (this.amplificationBudget() >= MIN_PACKET_ROOM) this.recovery.setAmplificationLimited(false, now);
        return;
      case "connection_close":
        this.onPeerClose(f, now);
        return;
      case "handshake_done":
        if (this.role === "server") {
          // RFC 9000 section 19.20: a server receiving HANDSHAKE_DONE treats it as PROTOCOL_VIOLATION.
          throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, "client sent HANDSHAKE_DONE", FrameType.HANDSHAKE_DONE);
        }
        // HANDSHAKE_DONE confirms the handshake for the client (RFC 9001 section 4.1.2).
        this.confirmHandshake(now);
        return;
      case "datagram":
        // The decoder already refused DATAGRAM frames we did not advertise or that exceed our limit (RFC 9221 section 3).
        if (this.datagrams.onReceived()) this.events.push({ type: "datagram", data: f.data.slice() });
        return;
      default:
        return;
    }
  }

  /** Flow-control BLOCKED frames received (RFC 9000 sections 19.12-19.14), for statistics. */
  private readonly blockedReceived = { data: 0, streamData: 0, streams: 0 };
  /** Flow-control BLOCKED frames sent, for statistics. */
  private readonly blockedSent = { data: 0, streamData: 0, streams: 0 };

  private onAck(space: PacketNumberSpace, f: Extract<Frame, { type: "ack" }>, now: number): void {
    // ACK Delay is scaled by the peer's ack_delay_exponent (RFC 9000 section 19.3); until its parameters arrive, and in
    // Initial and Handshake ACKs, the default 3 (recovery ignores Initial delays, RFC 9002 section 5.3).
    const exponent = space === PacketNumberSpace.Application ? (this.peerParams?.ackDelayExponent ?? 3) : 3;
    this.recovery.onAckFrame(space, f, exponent, now);
    // An acknowledged 1-RTT packet confirms the handshake for a client (RFC 9001 section 4.1.2); an acknowledged 0-RTT one does not.
    if (space === PacketNumberSpace.Application && this.role === "client" && this.handshakeComplete && !this.handshakeConfirmed && this.recovery.largestAcked(space) >= this.firstOneRttPn) {
      this.confirmHandshake(now);
    }
  }

  /** {@link LossDetectionHandler}: a packet was acknowledged. */
  onPacketAcked(space: PacketNumberSpace, packet: SentPacket<SentFrame[]>): void {
    const st = this.spaces[space];
    // (Recovery itself tells the space's AckTracker that our ACK frame in this packet arrived.)
    if (space === PacketNumberSpace.Application && !this.keyPhaseAcked && packet.pn >= this.keyPhaseFirstPn) this.keyPhaseAcked = true;
    for (const f of packet.frames) {
      switch (f.k) {
        case "stream":
          this.streams.onStreamFrameAcked(f.id, f.offset, f.length, f.fin);
          break;
        case "crypto":
          st.cryptoSend.onAcked(f.offset, f.length);
          break;
        case "control":
          this.streams.onControlFrameAcked(f.f);
          break;
        case "datagram":
          this.datagrams.stats.acked++;
          break;
        case "mtu_probe":
          this.recovery.setMaxDatagramSize(this.pmtud!.onProbeAcked(f.size, this.rxNow));
          break;
        default:
          break;
      }
    }
    if (!packet.mtuProbe) this.pmtud?.onPacketAcked(packet.size);
  }

  /** {@link LossDetectionHandler}: a packet was declared lost; its frames are queued again (RFC 9000 section 13.3). */
  onPacketLost(space: PacketNumberSpace, packet: SentPacket<SentFrame[]>): void {
    this.tracer?.packetLost(this.sentPacketType(space, packet.pn), packet.pn, packet.size);
    this.requeueFrames(space, packet, false);
    // Large packets lost in a row: the path stopped carrying them (RFC 8899 section 4.3).
    if (space === PacketNumberSpace.Application && !packet.mtuProbe && this.pmtud?.onPacketLost(packet.size, Math.max(this.rxNow, packet.timeSent))) {
      this.recovery.setMaxDatagramSize(this.pmtud.mtu);
    }
  }

  /**
   * Queues again what `packet` carried: after its loss, or (`probe`) for a
   * PTO probe while it is still outstanding, when only what must be
   * delivered is re-sent and nothing is counted as lost.
   */
  private requeueFrames(space: PacketNumberSpace, packet: SentPacket<SentFrame[]>, probe: boolean): void {
    const st = this.spaces[space];
    for (const f of packet.frames) {
      switch (f.k) {
        case "stream":
          if (!probe) this.retransmittedBytes += f.length;
          this.streams.onStreamFrameLost(f.id, f.offset, f.length, f.fin);
          break;
        case "crypto":
          if (!probe) this.retransmittedBytes += f.length;
          st.cryptoSend.onLost(f.offset, f.length);
          break;
        case "control":
          this.streams.onControlFrameLost(f.f);
          break;
        case "handshake_done":
          // Sent again until acknowledged (RFC 9000 section 13.3).
          this.handshakeDoneToSend = true;
          break;
        case "new_token":
          this.newTokenToSend = true;
          break;
        case "new_cid":
          if (this.localCids.get(f.seq) && !this.localCids.pendingAnnounce.includes(f.seq)) this.localCids.pendingAnnounce.push(f.seq);
          break;
        case "retire_cid":
          if (!this.peerCids.pendingRetire.includes(f.seq)) this.peerCids.pendingRetire.push(f.seq);
          break;
        case "datagram":
          // Not sent again (RFC 9221 section 5.2): only counted.
          if (!probe) this.datagrams.stats.lost++;
          break;
        case "mtu_probe":
          if (!probe) this.pmtud!.onProbeLost(f.size, Math.max(this.rxNow, packet.timeSent));
          break;
        default:
          break;
      }
    }
  }

  private onPeerClose(f: Extract<Frame, { type: "connection_close" }>, now: number): void {
    if (this.state === "closing") {
      // Both sides closed: stop answering and wait out the period already running (RFC 9000 section 10.2.2).
      this.state = "draining";
      this.closeToSend = false;
      return;
    }
    const reason = closeReasonText(f);
    const clean = f.errorCode === 0;
    let error: TsquicError | undefined;
    if (!clean) {
      if (!f.application && f.errorCode >= 0x100 && f.errorCode <= 0x1ff) {
        error = new TlsAlertError(f.errorCode - 0x100, `peer closed the connection: ${reason || "handshake failure"}`, { fromPeer: true });
      } else {
        const name = f.application ? `application error ${f.errorCode}` : transportErrorName(f.errorCode);
        error = new QuicConnectionError(
          f.application ? "ERR_QUIC_APPLICATION_CLOSE" : "ERR_QUIC_TRANSPORT",
          `peer closed the connection with ${name}${reason ? `: ${reason}` : ""}`,
          f.errorCode,
          f.application,
          true,
        );
      }
    }
    this.closeInfo = { errorCode: f.errorCode, application: f.application, reason, remote: true, ...(error ? { error } : {}) };
    this.events.push({ type: "connection_closed", info: this.closeInfo });
    // Draining: send nothing more, wait three PTOs (RFC 9000 section 10.2.2).
    this.state = "draining";
    this.closeToSend = false;
    this.closeDeadline = now + CLOSE_PTO_MULTIPLIER * this.recovery.ptoPeriod();
    this.closeDeadlinePending = false;
  }

  /**
   * A packet arrived in the closing state: answer with CONNECTION_CLOSE
   * (RFC 9000 section 10.2.1), at a rate that halves as packets keep
   * coming (answers to the 1st, 2nd, 4th, 8th... packet) so a peer that
   * keeps sending cannot make us send as much.
   */
  private onPacketWhileClosing(): void {
    this.packetsWhileClosing++;
    if ((this.packetsWhileClosing & (this.packetsWhileClosing - 1)) === 0) this.closeToSend = true;
  }

  private packetsWhileClosing = 0;

  /** Returns true when the client acted on the packet (and closed), false when it ignores it. */
  private onVersionNegotiation(buf: Uint8Array, header: ReturnType<typeof parsePacketHeader>, now: number): boolean {
    // Only a client acts on Version Negotiation, and only before any other packet from the server (RFC 9000 section 6.2).
    if (this.role !== "client" || this.receivedFirstServerPacket) return false;
    let vn;
    try {
      vn = parseVersionNegotiation(buf, header.headerStart, header.packetEnd);
    } catch {
      return false;
    }
    if (!equalBytes(vn.dcid, this.localCids.get(0)!.cid) || !equalBytes(vn.scid, this.originalDcid)) return false;
    // A VN listing our version is ignored (RFC 9000 section 6.2), and so is a second one (RFC 9368 section 2.1).
    if (vn.versions.includes(this.version.number) || this.afterVersionNegotiation !== undefined) return false;
    this.tracer?.versionNegotiationOrRetryReceived(header, header.packetEnd - header.headerStart, vn.versions, now);
    const common = this.config.versions.find((v) => vn.versions.includes(v) && getQuicVersion(v));
    if (common !== undefined) {
      this.retryWithVersion(common, now);
      return true;
    }
    const error = new QuicConnectionError(
      "ERR_QUIC_VERSION_NEGOTIATION",
      `server supports none of our QUIC versions (it offered ${vn.versions.map((v) => "0x" + v.toString(16)).join(", ")})`,
      TransportErrorCode.VERSION_NEGOTIATION_ERROR,
      false,
      true,
    );
    // A second one confirms the first: give up (RFC 9000 section 6.2).
    if (this.versionMismatch) {
      this.abandonForVersion(this.versionMismatch);
      return true;
    }
    // Version Negotiation is not authenticated, and a bit flipped on the way (seen in the
    // handshakecorruption interop case) or an off-path forgery must not end an attempt that
    // would otherwise succeed. Ask once more at once: a server that really lacks our version
    // answers with a second VN within a round trip; one that has it answers the handshake,
    // and processing any such packet discards this VN (section 6.2). No answer within a PTO
    // counts as confirmation.
    this.versionMismatch = error;
    this.versionMismatchDeadline = now + this.recovery.ptoPeriod();
    this.spaces[PacketNumberSpace.Initial].cryptoSend.requeueUnacked();
    this.recovery.requestProbe(PacketNumberSpace.Initial);
    this.wake();
    return true;
  }

  /** Client: a Version Negotiation with no version in common, awaiting confirmation (see onVersionNegotiation). */
  private versionMismatch: QuicConnectionError | undefined;
  private versionMismatchDeadline = Infinity;

  /** Ends the attempt after a confirmed Version Negotiation: closed at once, nothing more is sent. */
  private abandonForVersion(error: QuicConnectionError): void {
    this.versionMismatch = undefined;
    this.versionMismatchDeadline = Infinity;
    this.closeInfo = { errorCode: TransportErrorCode.VERSION_NEGOTIATION_ERROR, application: false, reason: error.message, remote: true, error };
    this.events.push({ type: "connection_closed", info: this.closeInfo });
    this.state = "closed";
  }

  /** Returns true when the client accepted the Retry, false when it ignores it. */
  private onRetry(buf: Uint8Array, header: ReturnType<typeof parsePacketHeader>, now: number): boolean {
    // A client accepts one Retry, before any other server packet (RFC 9000 section 17.2.5.2).
    if (this.role !== "client" || this.receivedFirstServerPacket || this.retryToken) return false;
    if (!validateRetry(buf.subarray(header.headerStart, header.packetEnd), { ...header, headerStart: 0, packetEnd: header.packetEnd - header.headerStart }, this.originalDcid)) {
      return false;
    }
    this.tracer?.versionNegotiationOrRetryReceived(header, header.packetEnd - header.headerStart, undefined, now);
    this.retryToken = header.token.slice();
    this.retrySourceCid = header.scid.slice();
    this.peerCids.replaceInitial(this.retrySourceCid);
    // New Initial keys from the Retry's SCID (RFC 9001 section 5.2); resend the ClientHello with them.
    this.installInitialKeys(this.retrySourceCid);
    this.recovery.resetForRetry(now);
    this.spaces[PacketNumberSpace.Initial].cryptoSend.requeueUnacked();
    return true;
  }

  // ---------------------------------------------------------------------
  // TLS glue

  private drainTls(now: number): void {
    for (let e = this.tls.poll(); e; e = this.tls.poll()) {
      switch (e.type) {
        case "data": {
          const space = e.level === "initial" ? 0 : e.level === "handshake" ? 1 : 2;
          this.spaces[space].cryptoSend.push(e.data);
          break;
        }
        case "secret":
          this.installSecret(e.level, e.direction, e.suite, e.secret, now);
          break;
        case "handshakeComplete":
          this.onHandshakeComplete(now);
          break;
        case "earlyDataRejected":
          this.abandonEarlyData(now);
          break;
        case "sessionTicket":
          this.latestTicket = e.ticket;
          this.sessionEventDue = true;
          break;
        case "keylog":
          this.config.keylog?.(e.line, this);
          break;
      }
    }
  }

  /**
   * Server: picks the version from the client's version_information as the
   * ClientHello arrives, before any other key is derived (RFC 9368 section
   * 2.3). Returns our transport parameters when the version changed.
   */
  private negotiateVersion(raw: Uint8Array): Uint8Array | undefined {
    const chosen = serverNegotiate(this.version.number, decodeTransportParameters(raw, "client").versionInformation, this.config.versions);
    if (chosen === this.version.number) return undefined;
    this.switchVersion(chosen);
    this.localParams.versionInformation = localVersionInformation(chosen, this.config.versions);
    return encodeTransportParameters(this.localParams, "server");
  }

  /**
   * Continues in compatible version `v` (RFC 9368 section 2.3): Initial keys
   * come from the same connection ID with `v`'s salt and labels (RFC 9369
   * section 3.3); later keys follow `v` as they are derived. The server keeps
   * the original Initial read key until the client switches too.
   */
  private switchVersion(v: number): void {
    const st = this.spaces[PacketNumberSpace.Initial];
    if (this.role === "server") this.originalInitialRead = st.keys.read;
    this.version = getQuicVersion(v)!;
    this.installInitialKeys(this.initialKeysDcid);
  }

  /**
   * A long-header packet of a version other than ours. A client takes the
   * server's switch to a compatible version we offered, if the packet
   * authenticates; a server reads the client's Initial packets of the
   * original version until the client switches (RFC 9368 section 2.3).
   * Anything else is dropped.
   */
  private processOtherVersion(buf: Uint8Array, header: PacketHeader, path: PathInfo, now: number): boolean {
    const st = this.spaces[PacketNumberSpace.Initial];
    const current = this.version;
    if (this.role === "server") {
      if (header.version !== this.originalVersion || header.type !== PacketType.Initial || !this.originalInitialRead) return false;
      const read = st.keys.read;
      this.version = getQuicVersion(this.originalVersion)!;
      st.keys.read = this.originalInitialRead;
      try {
        return this.processPacket(buf, header, path, now);
      } finally {
        this.version = current;
        st.keys.read = read;
      }
    }
    if (this.receivedFirstServerPacket || header.type !== PacketType.Initial) return false;
    if (!this.config.versions.includes(header.version) || !areCompatible(current.number, header.version)) return false;
    const keys = { ...st.keys };
    this.switchVersion(header.version);
    if (this.processPacket(buf, header, path, now)) return true;
    // Not authentic: stay with our version (RFC 9368 section 2.3 only follows the real server).
    this.version = current;
    st.keys.read = keys.read;
    st.keys.write = keys.write;
    return false;
  }

  /**
   * Incompatible version negotiation (RFC 9368 section 2.1): starts a new
   * attempt in `v`, the first of our versions the server listed, with a new
   * destination connection ID (the server may hold state for the old one),
   * a new ClientHello and new Initial keys. The
   * version tried first is remembered so the server's version_information
   * can expose a forged Version Negotiation (RFC 9368 section 4).
   */
  private retryWithVersion(v: number, now: number): void {
    this.afterVersionNegotiation = this.version.number;
    this.version = getQuicVersion(v)!;
    this.originalVersion = v;
    this.localParams.versionInformation = localVersionInformation(v, this.config.versions);
    // Packets of the first attempt are forgotten, not retransmitted: their CRYPTO data belongs to the old ClientHello.
    this.recovery.resetForRetry(now);
    const t = this.config.transport;
    const initial = new SpaceState(PacketNumberSpace.Initial, 0, t.ackDelayExponent);
    initial.nextPn = this.spaces[PacketNumberSpace.Initial].nextPn;
    this.spaces[PacketNumberSpace.Initial] = initial;
    this.recovery.attachAckTracker(PacketNumberSpace.Initial, initial.ack);
    const dcid = randomConnectionId(this.originalDcid.length);
    this.originalDcid = dcid;
    this.peerCids.replaceInitial(dcid);
    this.installInitialKeys(dcid);
    this.undecryptable = [];
    this.rememberedParams = undefined; // no 0-RTT on the new attempt
    const tls = this.newTlsClient!(false);
    (this as { tls: TlsEngine }).tls = tls;
    tls.start(now);
    this.drainTls(now);
  }

  /** Version of our first flight (client) or of the client's (server). */
  private originalVersion: number;
  /** Client: builds the TLS client again for a new attempt after Version Negotiation. */
  private newTlsClient: ((earlyData?: boolean) => TlsClient) | undefined;
  /** Client: the version tried before an incompatible Version Negotiation, if any. */
  private afterVersionNegotiation: number | undefined;
  /** Server after a compatible switch: the Initial read key of the original version. */
  private originalInitialRead: PacketProtection | undefined;
  /** The connection ID the Initial keys derive from. */
  private initialKeysDcid: Uint8Array = EMPTY_CID;

  private installInitialKeys(dcid: Uint8Array): void {
    this.initialKeysDcid = dcid;
    const secrets = deriveInitialSecrets(this.version, dcid);
    const st = this.spaces[PacketNumberSpace.Initial];
    const [mine, theirs] = this.role === "client" ? [secrets.client, secrets.server] : [secrets.server, secrets.client];
    st.keys.write = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, mine, this.version);
    st.keys.read = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, theirs, this.version);
    // New Initial keys after a Retry (the first ones are logged when the trace starts).
    this.tracer?.keyUpdated("initial", "write", "tls", 0);
    this.tracer?.keyUpdated("initial", "read", "tls", 0);
  }

  private installSecret(level: EncryptionLevel, direction: "read" | "write", suite: CipherSuite, secret: Uint8Array, now: number): void {
    if (level === "initial") return;
    if (level === "zeroRtt") return this.installEarlyKeys(suite, secret);
    const space = level === "handshake" ? this.spaces[PacketNumberSpace.Handshake] : this.spaces[PacketNumberSpace.Application];
    const prot = PacketProtection.fromSecret(suite, secret, this.version);
    if (direction === "read") space.keys.read = prot;
    else space.keys.write = prot;
    this.tracer?.keyUpdated(level, direction, "tls", 0);
    if (level === "oneRtt") {
      this.suite = suite;
      if (direction === "read") {
        this.readSecret = secret;
        this.prepareNextReadKeys();
      } else {
        this.writeSecret = secret;
        // Application packet numbers below this one went out in 0-RTT (the spaces share numbers, RFC 9000 section 12.3).
        this.firstOneRttPn = this.spaces[PacketNumberSpace.Application].nextPn;
      }
    }
    if (level === "handshake" && direction === "write") this.recovery.onHandshakeKeysAvailable(now);
    // Packets that arrived ahead of these keys can be processed now.
    if (direction === "read" && this.undecryptable.length > 0) this.retryUndecryptable = true;
  }

  private retryUndecryptable = false;
  /** First application packet number protected with 1-RTT keys. */
  private firstOneRttPn = 0;

  /** The type of a packet we sent: a client's application packets before its first 1-RTT one went out in 0-RTT. */
  private sentPacketType(space: PacketNumberSpace, pn: number): PacketType {
    if (space !== PacketNumberSpace.Application || this.role === "server") return PACKET_TYPE_OF_SPACE[space];
    return this.spaces[space].keys.write && pn >= this.firstOneRttPn ? PacketType.OneRtt : PacketType.ZeroRtt;
  }

  /**
   * 0-RTT keys (RFC 9001 section 4.6.1). Client: it may now send stream
   * data within the remembered limits. Server: it accepted 0-RTT; the
   * client's transport parameters (from its ClientHello) apply at once so
   * 0.5-RTT answers can go out before the handshake completes (section 5.7).
   */
  private installEarlyKeys(suite: CipherSuite, secret: Uint8Array): void {
    this.zeroRttKeys = PacketProtection.fromSecret(suite, secret, this.version);
    this.tracer?.keyUpdated("zeroRtt", this.role === "client" ? "write" : "read", "tls", 0);
    if (this.role === "client") {
      this.earlyData = "attempted";
      this.streams.setPeerLimits(streamLimitsOf(this.rememberedParams!));
      return;
    }
    this.earlyData = "accepted";
    this.applyPeerParams(decodeTransportParameters(this.tls.peerTransportParameters!, "client"), this.rxNow);
    this.events.push({ type: "early_data", accepted: true });
    if (this.undecryptable.length > 0) this.retryUndecryptable = true;
  }

  /**
   * Client: the server answered our 0-RTT (RFC 9001 section 4.6.2).
   * Accepted: its new limits may not be lower than the remembered ones
   * (RFC 9000 section 7.4.1). Rejected: every 0-RTT packet counts as never
   * sent and its frames go again in 1-RTT, under the new limits; when the
   * server chose another ALPN, or limits too low for what was sent, the
   * early data cannot be replayed and the connection fails.
   */
  private settleEarlyData(p: TransportParameters, now: number): void {
    this.zeroRttKeys = undefined;
    const accepted = this.tls.earlyDataAccepted;
    if (accepted) {
      const lowered = reducedLimit(this.rememberedParams!, p);
      if (lowered) throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `server accepted 0-RTT but lowered ${lowered} (RFC 9000 section 7.4.1)`);
    } else {
      if (this.tls.alpnProtocol !== this.earlyAlpn) {
        throw new QuicTransportError(TransportErrorCode.APPLICATION_ERROR, `0-RTT rejected and the server chose ALPN ${this.tls.alpnProtocol} instead of ${this.earlyAlpn}: the early data cannot be sent again`);
      }
      if (!this.streams.replacePeerLimits(streamLimitsOf(p))) {
        throw new QuicTransportError(TransportErrorCode.APPLICATION_ERROR, "0-RTT rejected and the server's new flow-control limits are below the early data already sent");
      }
      this.requeueEarlyData(now);
    }
    this.earlyData = accepted ? "accepted" : "rejected";
    this.events.push({ type: "early_data", accepted });
  }

  /**
   * Client: a HelloRetryRequest ended our 0-RTT before the handshake did
   * (RFC 8446 section 4.2.10): no more 0-RTT packets, and the frames of
   * those sent wait for 1-RTT. The handshake's end settles the rest as
   * for any rejection ({@link settleEarlyData}).
   */
  private abandonEarlyData(now: number): void {
    if (!this.zeroRttKeys) return;
    this.zeroRttKeys = undefined;
    this.tracer?.keyDiscarded("zeroRtt", "write", 0);
    this.requeueEarlyData(now);
  }

  /** Client: 0-RTT packets count as never sent; their frames go again in 1-RTT (RFC 9001 section 4.6.2). */
  private requeueEarlyData(now: number): void {
    this.recovery.discardPackets(PacketNumberSpace.Application, (sent) => (this.onPacketLost(PacketNumberSpace.Application, sent), true), now);
  }

  private onHandshakeComplete(now: number): void {
    // The peer's transport parameters are checked before anything relies on them (RFC 9000 section 7.4).
    const raw = this.tls.peerTransportParameters;
    if (!raw) {
      // missing_extension (RFC 9001 section 8.2).
      throw new QuicTransportError(TransportErrorCode.CRYPTO_ERROR_BASE + 109, "peer sent no quic_transport_parameters");
    }
    const params = decodeTransportParameters(raw, this.role === "client" ? "server" : "client");
    if (this.role === "client" && this.earlyData === "attempted") this.settleEarlyData(params, now);
    this.applyPeerParams(params, now);
    this.handshakeComplete = true;
    this.handshakeDuration = now - this.createdAt;
    this.state = "established";
    this.idleDeadline = now + this.idleTimeout();
    this.handshakeDeadline = Infinity;
    if (this.role === "server") {
      // The server's handshake is confirmed at completion (RFC 9001 section 4.1.2); tell the client.
      this.handshakeDoneToSend = true;
      this.confirmHandshake(now);
      // A session ticket lets the client resume (RFC 8446 section 4.6.1); it travels in 1-RTT CRYPTO frames and carries
      // the limits we advertise now, which 0-RTT with it will be held to (RFC 9001 section 4.6.1).
      if (this.config.sessionTickets) (this.tls as TlsServer).sendSessionTicket(now, { appData: encodeTicketLimits(this.localParams) });
      // A NEW_TOKEN token lets its next connection skip address validation (RFC 9000 section 8.1.3).
      if (this.issueToken) {
        this.newToken = this.issueToken(this.remote, now);
        this.newTokenToSend = true;
      }
    }
    this.topUpConnectionIds();
    this.events.push({ type: "handshake_done" });
  }

  private applyPeerParams(p: TransportParameters, now: number): void {
    if (this.role === "client") {
      clientValidate(
        {
          original: this.originalVersion,
          negotiated: this.version.number,
          preferences: this.config.versions,
          ...(this.afterVersionNegotiation !== undefined ? { afterVersionNegotiation: this.afterVersionNegotiation } : {}),
        },
        p.versionInformation,
      );
    }
    const err = checkConnectionIdParameters(p, {
      role: this.role,
      peerInitialSourceConnectionId: this.role === "client" ? (this.serverInitialScid ?? this.peerCids.current.cid) : this.peerCids.current.cid,
      ...(this.role === "client" ? { originalDestinationConnectionId: this.originalDcid } : {}),
      ...(this.role === "client" && this.retrySourceCid ? { retrySourceConnectionId: this.retrySourceCid } : {}),
    });
    if (err) throw err;
    this.peerParams = p;
    if (p.statelessResetToken) {
      this.peerCids.setInitialResetToken(p.statelessResetToken);
      this.routingGen++;
    }
    this.streams.setPeerLimits(streamLimitsOf(p));
    this.recovery.peerMaxAckDelay = p.maxAckDelay;
    // The preferred address's CID is the server's sequence 1 (RFC 9000 section 5.1.1), usable like any other.
    if (this.role === "client" && p.preferredAddress) this.peerCids.addPreferred(p.preferredAddress.connectionId, p.preferredAddress.statelessResetToken);
    const size = Math.min(this.config.maxSendUdpPayloadSize, p.maxUdpPayloadSize);
    if (size > MIN_INITIAL_SIZE) this.recovery.setMaxDatagramSize(size);
    // Larger sizes are discovered with probes once the handshake is confirmed (RFC 9000 section 14.3).
    if (this.config.pmtudMax > size) this.pmtud = new PathMtuDiscovery(size);
    void now;
  }

  private confirmHandshake(now: number): void {
    if (this.handshakeConfirmed) return;
    this.handshakeConfirmed = true;
    this.recovery.onHandshakeConfirmed(now);
    this.pmtud?.start(Math.min(this.config.pmtudMax, this.peerParams?.maxUdpPayloadSize ?? MIN_INITIAL_SIZE), now);
    // Handshake keys are discarded once the handshake is confirmed (RFC 9001 section 4.9.2).
    this.discardSpace(PacketNumberSpace.Handshake, now);
    this.discardSpace(PacketNumberSpace.Initial, now);
    if (!this.deferredMigration) this.maybeUsePreferredAddress(now);
  }

  /** Starts a migration deferred until confirmation, once the packet that confirmed (and its NEW_CONNECTION_ID frames) is processed. */
  private startDeferredMigration(now: number): void {
    const m = this.deferredMigration!;
    this.deferredMigration = undefined;
    if (!this.paths.migrate(m.local, now, m.natRebinding)) {
      this.onPathEvent({ type: "path_validation_failed", path: { local: m.local, remote: this.remote }, active: this.path, preferredAddress: false, aborted: false });
    }
  }

  /** Queues a path event for the application and traces it. */
  private onPathEvent(e: PathEvent): void {
    this.events.push(e);
    this.tracer?.pathEvent(e);
  }

  /** Client: probes the server's preferred address once the handshake is confirmed, unless the policy rejects it (RFC 9000 section 9.6.1). */
  private maybeUsePreferredAddress(now: number): void {
    const pa = this.peerParams?.preferredAddress;
    if (this.role !== "client" || !pa || this.config.preferredAddressPolicy !== "accept") return;
    const remote = reachablePreferredAddress(pa, this.remote);
    const cid = this.peerCids.get(1);
    if (!remote || !cid) return;
    this.paths.probePreferred(remote, cid, now);
  }

  /** Early retransmissions left (RFC 9002 section 6.2.3 allows "a limited number of times per connection"). */
  private handshakeSpeedups = MAX_HANDSHAKE_SPEEDUPS;

  /**
   * The peer evidently lost our handshake flight (it repeats its CRYPTO data,
   * or sends Handshake packets we cannot read yet): send our unacknowledged
   * Initial and Handshake CRYPTO data now rather than at the PTO, which
   * after a few backoffs comes seconds later (RFC 9002 section 6.2.3).
   * Amplification limits still apply.
   */
  private speedUpHandshake(): void {
    if (this.handshakeSpeedups === 0) return;
    this.handshakeSpeedups--;
    for (const space of [PacketNumberSpace.Initial, PacketNumberSpace.Handshake]) {
      const st = this.spaces[space];
      if (!st.discarded && st.keys.write) st.cryptoSend.requeueUnacked();
    }
    // The Initial goes out twice, as a PTO's two probes would: the peer can do nothing without it.
    this.recovery.requestProbe(PacketNumberSpace.Initial, 2);
  }

  private discardSpace(space: PacketNumberSpace, now: number): void {
    const st = this.spaces[space];
    if (st.discarded) return;
    st.discarded = true;
    st.keys.read = undefined;
    st.keys.write = undefined;
    if (this.tracer) {
      const level = LEVEL_OF_SPACE[space];
      this.tracer.keyDiscarded(level, "read", 0);
      this.tracer.keyDiscarded(level, "write", 0);
    }
    st.ack.discard();
    this.recovery.discardSpace(space, now);
  }

  /** Keeps the peer supplied with spare CIDs up to its active_connection_id_limit (RFC 9000 section 5.1.1). */
  private topUpConnectionIds(): void {
    if (!this.peerParams) return;
    // Zero-length CIDs cannot be renewed; our CIDs are never empty.
    const limit = Math.min(this.peerParams.activeConnectionIdLimit, 8);
    while (this.localCids.count < limit) {
      const e = this.localCids.issue();
      this.onCidIssued?.(e.cid);
      this.routingGen++;
    }
  }

  // ---------------------------------------------------------------------
  // Key update (RFC 9001 section 6)

  /**
   * Derives the next key phase's read keys ahead of need, so a key update
   * costs no key derivation on the packet path (RFC 9001 section 6.3: no
   * timing signal, and forged key-phase changes cause no work).
   */
  private prepareNextReadKeys(): void {
    const cur = this.spaces[PacketNumberSpace.Application].keys.read;
    if (!cur || !this.readSecret || !this.suite) return;
    this.nextReadSecret = nextKeyPhaseSecret(this.suite, this.readSecret, this.version);
    this.nextRead = PacketProtection.fromSecret(this.suite, this.nextReadSecret, this.version, cur.headerProtection);
  }

  /**
   * A packet of the next key phase was authenticated (RFC 9001 section
   * 6.2): promote the next read keys, keep the old ones three PTOs for late
   * packets (section 6.5), and answer with our own update unless we started it.
   */
  private onPeerKeyUpdate(pn: number, now: number): void {
    const app = this.spaces[PacketNumberSpace.Application];
    this.prevRead = app.keys.read;
    this.prevReadDiscardAt = now + CLOSE_PTO_MULTIPLIER * this.recovery.ptoPeriod();
    app.keys.read = this.nextRead;
    this.readSecret = this.nextReadSecret;
    this.readKeyPhase = this.readKeyPhase === 0 ? 1 : 0;
    this.keyPhaseFirstRecvPn = pn;
    this.readGeneration++;
    this.tracer?.keyUpdated("oneRtt", "read", "remote_update", this.readGeneration);
    this.prepareNextReadKeys();
    // Sending keys move before the ACK of this packet is sent (RFC 9001 section 6.2).
    if (this.pendingLocalUpdate) this.pendingLocalUpdate = false;
    else this.rotateWriteKeys();
  }

  /** 1-RTT read key generations since the handshake, for traces. */
  private readGeneration = 0;

  /** Moves our 1-RTT write keys to the next phase (RFC 9001 section 6.1). */
  private rotateWriteKeys(): void {
    const app = this.spaces[PacketNumberSpace.Application];
    const secret = nextKeyPhaseSecret(this.suite!, this.writeSecret!, this.version);
    app.keys.write = PacketProtection.fromSecret(this.suite!, secret, this.version, app.keys.write!.headerProtection);
    this.writeSecret = secret;
    this.writeKeyPhase = this.writeKeyPhase === 0 ? 1 : 0;
    this.keyPhaseFirstPn = app.nextPn;
    this.keyPhaseAcked = false;
    this.keyUpdates++;
    // Answering the peer's update brings the phases back in step; our own puts write ahead of read.
    this.tracer?.keyUpdated("oneRtt", "write", this.writeKeyPhase === this.readKeyPhase ? "remote_update" : "local_update", this.keyUpdates);
  }

  // ---------------------------------------------------------------------
  // Errors and closing

  private guard(fn: () => void, now = this.createdAt): void {
    try {
      fn();
    } catch (e) {
      this.onError(e, now);
    }
  }

  /** Turns any error raised while processing into a connection close (never lets it escape). */
  private onError(e: unknown, now: number): void {
    if (this.isClosing) return;
    if (e instanceof QuicTransportError) {
      this.enterClosing(
        { application: false, errorCode: e.errorCode, frameType: e.frameType ?? 0, reason: new TextEncoder().encode(e.reason.slice(0, 200)) },
        e,
        now,
      );
    } else if (e instanceof TlsAlertError) {
      this.enterClosing(
        { application: false, errorCode: e.quicErrorCode, frameType: FrameType.CRYPTO, reason: new TextEncoder().encode(e.message.slice(0, 200)) },
        e,
        now,
      );
    } else {
      const err = new QuicConnectionError("ERR_QUIC_INTERNAL", `internal error: ${(e as Error)?.message ?? String(e)}`, TransportErrorCode.INTERNAL_ERROR, false, false, e);
      this.enterClosing({ application: false, errorCode: TransportErrorCode.INTERNAL_ERROR, frameType: 0, reason: new TextEncoder().encode("internal error") }, err, now);
    }
  }

  private enterClosing(
    frame: { application: boolean; errorCode: number; frameType: number; reason: Uint8Array },
    error: TsquicError | undefined,
    now: number | undefined,
  ): void {
    this.closeFrame = frame;
    this.closeToSend = true;
    this.state = "closing";
    this.closeInfo = {
      errorCode: frame.errorCode,
      application: frame.application,
      reason: new TextDecoder().decode(frame.reason),
      remote: false,
      ...(error ? { error } : {}),
    };
    this.events.push({ type: "connection_closed", info: this.closeInfo });
    this.closeDeadline = (now ?? this.createdAt) + CLOSE_PTO_MULTIPLIER * this.recovery.ptoPeriod();
    this.closeDeadlinePending = now === undefined;
  }

  private closeDeadlinePending = false;

  private idleTimeout(): number {
    const mine = this.config.transport.maxIdleTimeout;
    const theirs = this.peerParams?.maxIdleTimeout ?? 0;
    // The smaller non-zero value, and at least three PTOs (RFC 9000 section 10.1).
    let t = mine === 0 ? theirs : theirs === 0 ? mine : Math.min(mine, theirs);
    if (t === 0) return Infinity;
    t = Math.max(t, 3 * this.recovery.ptoPeriod());
    return t;
  }

  // ---------------------------------------------------------------------
  // Timers

  /** The next deadline at which {@link onTimeout} must run, or undefined. */
  timeout(): number | undefined {
    if (this.state === "closed") return undefined;
    if (this.state === "closing" || this.state === "draining") return this.closeDeadlinePending ? undefined : this.closeDeadline;
    let t = Math.min(this.idleDeadline, this.handshakeDeadline, this.versionMismatchDeadline, this.prevReadDiscardAt, this.paths.timeout());
    const ld = this.recovery.lossDetectionDeadline;
    if (ld < t) t = ld;
    // A server that may not send (anti-amplification) has no use for ACK or pacing deadlines: waking would spin.
    if (this.amplificationBudget() < MIN_PACKET_ROOM) return t === Infinity ? undefined : t;
    for (const s of SPACES) {
      const st = this.spaces[s];
      if (st.discarded || !st.keys.write) continue;
      const a = st.ack.ackDeadline;
      if (a < t) t = a;
    }
    if (this.pacingDeadline > 0 && this.pacingDeadline < t) t = this.pacingDeadline;
    return t === Infinity ? undefined : t;
  }

  private pacingDeadline = 0;

  /** Runs whatever timers expired at `now`. */
  onTimeout(now: number): void {
    if (this.state === "closed") return;
    if (!this.tracer) return this.runTimers(now);
    // Traced: events from the timers carry this time, and what they changed is logged after them.
    this.tracer.sync(now);
    try {
      this.runTimers(now);
    } finally {
      this.tracer.sync(now);
    }
  }

  private runTimers(now: number): void {
    if (this.state === "closing" || this.state === "draining") {
      if (this.closeDeadlinePending) {
        this.closeDeadlinePending = false;
        this.closeDeadline = now + CLOSE_PTO_MULTIPLIER * this.recovery.ptoPeriod();
      }
      if (now >= this.closeDeadline) this.state = "closed";
      return;
    }
    if (now >= this.versionMismatchDeadline && this.versionMismatch) {
      this.abandonForVersion(this.versionMismatch);
      return;
    }
    if (now >= this.handshakeDeadline && !this.handshakeComplete) {
      const err = new QuicConnectionError("ERR_QUIC_HANDSHAKE_TIMEOUT", `handshake did not complete within ${this.config.handshakeTimeout} ms (peer ${formatAddress(this.remote)})`, 0, false, false);
      this.closeSilently(err);
      return;
    }
    if (now >= this.idleDeadline) {
      const err = this.handshakeComplete
        ? new QuicConnectionError("ERR_QUIC_IDLE_TIMEOUT", `connection idle for ${this.idleTimeout()} ms; closed (RFC 9000 section 10.1)`, 0, false, false)
        : new QuicConnectionError("ERR_QUIC_HANDSHAKE_TIMEOUT", `no answer from ${formatAddress(this.remote)} within ${this.config.handshakeTimeout} ms`, 0, false, false);
      this.closeSilently(err);
      return;
    }
    if (now >= this.prevReadDiscardAt) {
      this.prevRead = undefined;
      this.prevReadDiscardAt = Infinity;
      this.tracer?.keyDiscarded("oneRtt", "read", this.readGeneration - 1);
    }
    if (this.pacingDeadline > 0 && now >= this.pacingDeadline) this.pacingDeadline = 0;
    if (!this.paths.onTimeout(now)) {
      // The peer moved to an address that failed validation and no validated path is left (RFC 9000 section 8.2.4).
      this.closeSilently(new QuicConnectionError("ERR_QUIC_PATH_VALIDATION_FAILED", `path validation to ${formatAddress(this.remote)} failed and no validated path is left`, 0, false, false));
      return;
    }
    if (this.amplificationBudget() >= MIN_PACKET_ROOM) this.recovery.setAmplificationLimited(false, now);
    try {
      const action = this.recovery.onLossDetectionTimeout(now);
      if (action === TimeoutAction.Probe) {
        // Probes of the current size going unanswered may mean it no longer passes (RFC 8899 section 4.3).
        if (this.pmtud?.onProbeTimeout(now)) this.recovery.setMaxDatagramSize(this.pmtud.mtu);
        this.prepareProbes();
      }
    } catch (e) {
      this.onError(e, now);
    }
  }

  private closeSilently(error: TsquicError): void {
    this.closeInfo = { errorCode: 0, application: false, reason: error.message, remote: false, error };
    this.events.push({ type: "connection_closed", info: this.closeInfo });
    this.state = "closed";
  }

  /** After a PTO: make sure each probing space has something ack-eliciting to send (RFC 9002 section 6.2.4). */
  private prepareProbes(): void {
    // Lost CRYPTO data in a space with nothing in flight gets a probe too: otherwise a window full of Handshake
    // packets the client cannot read yet holds back the Initial it needs to read them.
    for (const s of [PacketNumberSpace.Initial, PacketNumberSpace.Handshake]) {
      const st = this.spaces[s];
      if (!st.discarded && st.keys.write && st.cryptoSend.hasData) this.recovery.requestProbe(s);
    }
    for (const s of SPACES) {
      if (this.recovery.probesPending(s) === 0) continue;
      const st = this.spaces[s];
      if (s !== PacketNumberSpace.Application) {
        // Retransmit unacknowledged handshake data: it is what the peer most likely lacks.
        st.cryptoSend.requeueUnacked();
        if (!st.cryptoSend.hasData) this.pingPending[s] = true;
      } else if (!this.streams.hasStreamData()) {
        // Nothing new to send: the probe carries the oldest unacknowledged data again, what the peer most likely
        // lacks (RFC 9002 section 6.2.4), so that one delivered probe repairs the loss instead of only eliciting an ACK.
        const oldest = this.recovery.oldestUnacked(s);
        if (oldest) this.requeueFrames(s, oldest, true);
        this.pingPending[s] = true;
      }
    }
  }

  // ---------------------------------------------------------------------
  // Sending

  /** The next datagram to send, or null (RFC 9000 section 12.2: packets of several levels are coalesced). */
  send(now: number): OutgoingDatagram | null {
    if (this.state === "closed" || this.state === "draining") return null;
    try {
      // Path probes and answers go first, each in its own datagram, possibly to another address.
      if (this.deferredMigration && this.handshakeConfirmed && this.state === "established") this.startDeferredMigration(now);
      const probe = this.state === "established" ? this.paths.nextProbe(now) : undefined;
      const d = (probe && this.buildPathDatagram(probe, now)) || this.buildDatagram(now);
      this.tracer?.sync(now);
      return d;
    } catch (e) {
      this.onError(e, now);
      if (this.state === "closing") {
        try {
          return this.buildDatagram(now);
        } catch {
          return null;
        }
      }
      return null;
    }
  }

  /**
   * Bytes we may still send to the peer's address before it is validated:
   * three times what it sent, less what we sent (RFC 9000 section 8.1), in
   * the handshake and on a path the peer moved to (section 9.3). Infinity
   * once validated.
   */
  private amplificationBudget(): number {
    const path = this.paths.budget;
    if (this.addressValidated) return path;
    return Math.min(path, AMPLIFICATION_FACTOR * this.bytesReceivedUnvalidated - this.bytesSentUnvalidated);
  }

  private datagramLimit(): number {
    const mtu = Math.max(MIN_INITIAL_SIZE, this.recovery.cc.maxDatagramSize);
    return Math.min(mtu, this.amplificationBudget());
  }

  private buildDatagram(now: number): OutgoingDatagram | null {
    if (this.closeDeadlinePending) {
      this.closeDeadlinePending = false;
      this.closeDeadline = now + CLOSE_PTO_MULTIPLIER * this.recovery.ptoPeriod();
    }
    const limit = this.datagramLimit();
    if (limit < MIN_PACKET_ROOM) {
      // Nothing fits under the anti-amplification limit; the PTO waits for more bytes from the client (RFC 9002 section 6.2.2.1).
      this.recovery.setAmplificationLimited(true, now);
      return null;
    }
    if (this.state === "closing") return this.buildClose(now, limit);
    const probe = this.buildMtuProbe(now);
    if (probe) return probe;

    const buf = reserveDatagram(Math.max(limit, MIN_INITIAL_SIZE));
    const built = this.builtPackets;
    built.length = 0;
    let offset = 0;
    let containsInitial = false;
    let ackElicitingInitial = false;
    for (const s of SPACES) {
      const st = this.spaces[s];
      // Before its 1-RTT keys, a client sends application data in 0-RTT packets (RFC 9001 section 4.6.1).
      const zeroRtt = s === PacketNumberSpace.Application && !st.keys.write && this.zeroRttKeys !== undefined;
      if (st.discarded || (!st.keys.write && !zeroRtt)) continue;
      const room = limit - offset;
      if (room < MIN_PACKET_ROOM) break;
      // An ack-eliciting Initial must travel in a datagram of 1200 bytes (RFC 9000 section 14.1): ACK only if that cannot fit.
      const elicitingAllowed = s !== PacketNumberSpace.Initial || limit >= MIN_INITIAL_SIZE;
      const p = this.buildPacket(s, buf, offset, room, now, elicitingAllowed, zeroRtt);
      if (!p) continue;
      built.push(p);
      offset = p.payloadEnd + AEAD_TAG_LENGTH;
      if (s === PacketNumberSpace.Initial) {
        containsInitial = true;
        if (p.ackEliciting) ackElicitingInitial = true;
      }
    }
    if (built.length === 0) return null;
    // Every datagram with a client Initial, and a server's with an ack-eliciting Initial, is padded to 1200 bytes (RFC 9000 section 14.1).
    if (((containsInitial && this.role === "client") || ackElicitingInitial) && offset < MIN_INITIAL_SIZE && limit >= MIN_INITIAL_SIZE) {
      const last = built[built.length - 1]!;
      const pad = MIN_INITIAL_SIZE - offset;
      buf.fill(0, last.payloadEnd, last.payloadEnd + pad); // PADDING frames
      last.payloadEnd += pad;
      offset += pad;
    }
    for (let i = 0; i < built.length; i++) this.finishPacket(buf, built[i]!, now);
    built.length = 0;
    if (!this.addressValidated) this.bytesSentUnvalidated += offset;
    this.paths.onSent(offset);
    return { data: commitDatagram(buf, offset), to: this.remote, from: this.local, sendAt: now };
  }

  /** Path MTU discovery above the configured send size (RFC 8899); undefined when nothing is left to discover. */
  private pmtud: PathMtuDiscovery | undefined;

  /**
   * When set, packets are sealed with their header protection left to this
   * batch (see {@link HeaderProtectionBatch}): whoever sends this
   * connection's datagrams must flush it before they leave. The
   * {@link Endpoint} sets it when created with `batchHeaderProtection`.
   */
  headerProtectionBatch: HeaderProtectionBatch | undefined;

  /** Path MTU discovery state and counters, when it runs. */
  get pathMtu(): PathMtuDiscovery | undefined {
    return this.pmtud;
  }

  /**
   * A PMTU probe when one is due: a 1-RTT datagram of exactly the probe
   * size holding PING and PADDING (RFC 9000 section 14.4). It counts in
   * flight and waits for the congestion window and the pacer like data.
   */
  private buildMtuProbe(now: number): OutgoingDatagram | null {
    const pm = this.pmtud;
    if (!pm || !this.handshakeConfirmed) return null;
    const size = pm.probeSize(now);
    if (size === 0 || this.recovery.congestionAllowance < size || this.recovery.pacingDeadline(now) > now) return null;
    const buf = reserveDatagram(size);
    const p = this.beginPacket(PacketNumberSpace.Application, buf, 0, size);
    buf[p.payloadStart] = 0x01; // PING (RFC 9000 section 19.2); PADDING (0x00) fills the rest (section 19.1)
    buf.fill(0, p.payloadStart + 1, p.end);
    p.payloadEnd = p.end;
    p.ackEliciting = true;
    p.frames.push({ k: "mtu_probe", size });
    this.spaces[PacketNumberSpace.Application].nextPn++;
    this.finishPacket(buf, p, now);
    pm.onProbeSent(size);
    return { data: commitDatagram(buf, size), to: this.remote, from: this.local, sendAt: now };
  }

  /** Packets of the datagram being assembled (reused). */
  private readonly builtPackets: BuiltPacket[] = [];

  /**
   * One 1-RTT packet with PATH_RESPONSE and/or PATH_CHALLENGE for `probe`'s
   * path, in a datagram padded to 1200 bytes unless the path's
   * anti-amplification budget is smaller (RFC 9000 sections 8.2.1, 8.2.2).
   * Not in flight: a lost challenge is resent by the path's own timer.
   */
  private buildPathDatagram(probe: PathProbe, now: number): OutgoingDatagram | null {
    const space = PacketNumberSpace.Application;
    const st = this.spaces[space];
    if (!st.keys.write) return null;
    const size = Math.min(MIN_INITIAL_SIZE, probe.budget);
    const buf = reserveDatagram(MIN_INITIAL_SIZE);
    const p = this.beginPacket(space, buf, 0, size, probe.dcid);
    let o = p.payloadStart;
    if (probe.response) o = putFrame(buf, o, { type: "path_response", data: probe.response });
    if (probe.challenge) o = putFrame(buf, o, { type: "path_challenge", data: probe.challenge });
    const padTo = Math.max(o, p.end, p.payloadStart + MIN_PN_AND_PAYLOAD_LENGTH - p.pnLength);
    buf.fill(0, o, padTo); // PADDING frames
    p.payloadEnd = padTo;
    st.nextPn++;
    this.finishPacket(buf, p, now, false);
    const bytes = padTo + AEAD_TAG_LENGTH;
    // Recorded so its acknowledgement is valid, but neither in flight nor an RTT sample of the active path.
    this.recovery.onPacketSent(space, new SentPacket<SentFrame[]>(p.pn, now, bytes, false, false, NO_FRAMES));
    this.paths.onProbeSent(probe, bytes);
    return { data: commitDatagram(buf, bytes), to: probe.remote, from: probe.local, sendAt: now };
  }

  private buildClose(now: number, limit: number): OutgoingDatagram | null {
    if (!this.closeToSend || !this.closeFrame) return null;
    this.closeToSend = false;
    const buf = Buffer.allocUnsafe(Math.max(limit, MIN_INITIAL_SIZE));
    let offset = 0;
    const built: BuiltPacket[] = [];
    // Before the handshake is confirmed, send CONNECTION_CLOSE at every level the peer may be able to read (RFC 9000 section 10.2.3).
    for (const s of SPACES) {
      const st = this.spaces[s];
      if (st.discarded || !st.keys.write) continue;
      if (s === PacketNumberSpace.Application && !this.handshakeComplete) continue;
      // A server whose client already sent Handshake packets knows it has Handshake keys.
      if (s === PacketNumberSpace.Initial && this.role === "server" && this.spaces[PacketNumberSpace.Handshake].keys.write && this.addressValidated) continue;
      const room = limit - offset;
      if (room < MIN_PACKET_ROOM) break;
      const p = this.beginPacket(s, buf, offset, room);
      let o = p.payloadStart;
      // Application closes become transport APPLICATION_ERROR outside 1-RTT, without the reason (RFC 9000 section 10.2.3).
      const app = this.closeFrame.application && s === PacketNumberSpace.Application;
      const frame: Frame = {
        type: "connection_close",
        application: app,
        errorCode: this.closeFrame.application && !app ? TransportErrorCode.APPLICATION_ERROR : this.closeFrame.errorCode,
        frameType: this.closeFrame.frameType,
        reason: app || !this.closeFrame.application ? this.closeFrame.reason : new Uint8Array(0),
      };
      const excess = frameSize(frame) - (p.end - o);
      if (excess > 0) frame.reason = frame.reason.subarray(0, Math.max(0, frame.reason.length - excess));
      o = putFrame(buf, o, frame);
      const minPayload = MIN_PN_AND_PAYLOAD_LENGTH - p.pnLength;
      if (o - p.payloadStart < minPayload) {
        buf.fill(0, o, p.payloadStart + minPayload);
        o = p.payloadStart + minPayload;
      }
      p.payloadEnd = o;
      built.push(p);
      offset = o + AEAD_TAG_LENGTH;
    }
    if (built.length === 0) return null;
    if (this.role === "client" && built[0]!.space === PacketNumberSpace.Initial && offset < MIN_INITIAL_SIZE && limit >= MIN_INITIAL_SIZE) {
      const last = built[built.length - 1]!;
      const pad = MIN_INITIAL_SIZE - offset;
      buf.fill(0, last.payloadEnd, last.payloadEnd + pad);
      last.payloadEnd += pad;
      offset += pad;
    }
    for (const p of built) this.finishPacket(buf, p, now, false);
    if (!this.addressValidated) this.bytesSentUnvalidated += offset;
    this.paths.onSent(offset);
    return { data: buf.subarray(0, offset), to: this.remote, from: this.local, sendAt: now };
  }

  /** Writes the header of a packet in `space` (a 0-RTT packet with `zeroRtt`) and returns its layout; the payload is filled by the caller. */
  private beginPacket(space: PacketNumberSpace, buf: Uint8Array, offset: number, room: number, dcid = this.peerCids.current.cid, zeroRtt = false): BuiltPacket {
    const st = this.spaces[space];
    const pn = st.nextPn;
    const pnLength = packetNumberLength(pn, this.recovery.largestAcked(space));
    let pnOffset: number;
    if (space === PacketNumberSpace.Application && !zeroRtt) {
      pnOffset = writeShortHeader(buf, offset, dcid, pn, pnLength, this.writeKeyPhase);
    } else {
      const type = zeroRtt ? LongPacketType.ZeroRtt : space === PacketNumberSpace.Initial ? LongPacketType.Initial : LongPacketType.Handshake;
      // A Retry's token replaces a NEW_TOKEN token (RFC 9000 section 8.1.2, 8.1.3).
      const token = space === PacketNumberSpace.Initial && this.role === "client" ? (this.retryToken ?? this.initialToken) : undefined;
      pnOffset = writeLongHeader(buf, offset, this.version, type, dcid, this.localCids.get(0)?.cid ?? this.localParams.initialSourceConnectionId!, token, pn, pnLength, 2);
    }
    const payloadStart = pnOffset + pnLength;
    return {
      space,
      headerStart: offset,
      pnOffset,
      pnLength,
      payloadStart,
      payloadEnd: payloadStart,
      end: offset + room - AEAD_TAG_LENGTH,
      pn,
      ackEliciting: false,
      frames: [],
      ackLargest: -1,
      zeroRtt,
    };
  }

  /**
   * Fills one packet of `space` with what is due: ACK, CRYPTO, control
   * frames, stream data, PING. Returns null when there is nothing to send
   * there. With `elicitingAllowed` false only an ACK may go.
   */
  private buildPacket(space: PacketNumberSpace, buf: Uint8Array, offset: number, room: number, now: number, elicitingAllowed: boolean, zeroRtt: boolean): BuiltPacket | null {
    const st = this.spaces[space];
    const probes = this.recovery.probesPending(space);
    const app = space === PacketNumberSpace.Application;
    // Stream data goes after the handshake, or earlier in 0-RTT (client) and 0.5-RTT (server, RFC 9001 section 5.7).
    const appOpen = app && (zeroRtt || this.canSendApplicationData);
    // Every probe of a handshake space carries the unacknowledged CRYPTO data: with two probes and a flight that fits one
    // packet, the second would otherwise be a bare PING, and the peer needs the data (RFC 9002 section 6.2.4).
    if (probes > 0 && !app && !st.cryptoSend.hasData) st.cryptoSend.requeueUnacked();
    // An ACK alone is sent only for ack-eliciting packets: Initial and Handshake at once, 1-RTT by the ACK deadline (RFC 9000 section 13.2.1).
    // 0-RTT packets carry no ACK (RFC 9000 section 12.4).
    const ackWanted = !zeroRtt && st.ack.ackElicitingPending && (!app || st.ack.ackDue(now));
    let elicitingWanted =
      elicitingAllowed &&
      (st.cryptoSend.hasData ||
        this.pingPending[space]! ||
        probes > 0 ||
        (appOpen &&
          (this.handshakeDoneToSend ||
            this.newTokenToSend ||
            this.streams.hasStreamData() ||
            this.streams.hasPendingControl() ||
            this.datagrams.pending ||
            this.localCids.pendingAnnounce.length > 0 ||
            this.peerCids.pendingRetire.length > 0)));
    if (elicitingWanted && probes === 0 && this.recovery.congestionAllowance < Math.min(room, this.recovery.cc.maxDatagramSize)) {
      // Window-limited, not application-limited: the window may grow (RFC 9002 section 7.8). Probes ignore the window (section 7.5).
      this.recovery.setAppLimited(false);
      elicitingWanted = false;
    }
    // Pacing (RFC 9002 section 7.7): ack-eliciting 1-RTT packets wait for the pacer; ACK-only packets and probes do not.
    if (elicitingWanted && probes === 0 && app) {
      const at = this.recovery.pacingDeadline(now);
      if (at > now) {
        // Held back by the pacer with data to send: not application-limited either (RFC 9002 section 7.8).
        this.recovery.setAppLimited(false);
        this.pacingDeadline = at;
        elicitingWanted = false;
      }
    }
    if (!ackWanted && !elicitingWanted) return null;

    const p = this.beginPacket(space, buf, offset, room, undefined, zeroRtt);
    let o = p.payloadStart;
    const end = p.end;
    if (end - o < 32) return null;

    // ACK first, whenever something new arrived: it is small and keeps the peer's recovery moving (RFC 9000 section 13.2).
    // Every ack-eliciting Handshake packet repeats the ACK too: a lost ACK otherwise stays lost until new packets
    // arrive, and the rest of a large flight waits on the peer's backed-off PTO.
    if ((st.ack.hasNewAcks && !zeroRtt) || (elicitingWanted && space === PacketNumberSpace.Handshake && st.ack.ackRangeCount > 0)) {
      const delayField = st.ack.ackDelayField(now);
      const n = ackRangesThatFit(st.ack.ranges, delayField, st.ack.ecnCounts, Math.min(end - o, 256));
      if (n > 0) {
        o = putAckFrameForRanges(buf, o, st.ack.ranges, delayField, st.ack.ecnCounts, n);
        p.ackLargest = st.ack.largestReceived;
        st.ack.onAckSent();
      }
    }
    if (elicitingWanted) {
      // CRYPTO data.
      while (st.cryptoSend.hasData && end - o > 16) {
        const max = maxCryptoDataLength(end - o, 0x3fffffff);
        if (max <= 0) break;
        const chunk = st.cryptoSend.next(Math.min(max, end - o - cryptoFrameHeaderSize(0x3fffffff, max)));
        if (!chunk) break;
        o = putCryptoFrame(buf, o, chunk.offset, chunk.data);
        p.frames.push({ k: "crypto", offset: chunk.offset, length: chunk.data.length });
        p.ackEliciting = true;
      }
      if (appOpen) o = this.writeAppFrames(p, buf, o, end, now);
      if ((this.pingPending[space] || probes > 0) && !p.ackEliciting && end - o >= 1) {
        buf[o++] = FrameType.PING;
        p.frames.push(PING_RECORD);
        p.ackEliciting = true;
      }
      if (p.ackEliciting) this.pingPending[space] = false;
    }
    // An ACK-only sender must elicit an ACK now and then so both sides can forget old state (RFC 9000 section 13.2.4).
    if (!p.ackEliciting && app && o > p.payloadStart && end - o >= 1 && this.recovery.shouldElicitAck(space, now)) {
      buf[o++] = FrameType.PING;
      p.frames.push(PING_RECORD);
      p.ackEliciting = true;
    }
    if (o === p.payloadStart) return null;
    // The header-protection sample needs 4 bytes after the packet number start (RFC 9001 section 5.4.2).
    const minPayload = MIN_PN_AND_PAYLOAD_LENGTH - p.pnLength;
    if (o - p.payloadStart < minPayload) {
      buf.fill(0, o, p.payloadStart + minPayload);
      o = p.payloadStart + minPayload;
    }
    p.payloadEnd = o;
    st.nextPn++;
    return p;
  }

  /** Application-space frames: HANDSHAKE_DONE, CID management, path responses, flow control, stream data. */
  private writeAppFrames(p: BuiltPacket, buf: Uint8Array, o: number, end: number, now: number): number {
    if (this.handshakeDoneToSend && end - o >= 1) {
      buf[o++] = FrameType.HANDSHAKE_DONE;
      p.frames.push(HANDSHAKE_DONE_RECORD);
      p.ackEliciting = true;
      this.handshakeDoneToSend = false;
    }
    if (this.newTokenToSend && this.newToken) {
      const f: Frame = { type: "new_token", token: this.newToken };
      if (frameSize(f) <= end - o) {
        o = putFrame(buf, o, f);
        p.frames.push(NEW_TOKEN_RECORD);
        p.ackEliciting = true;
        this.newTokenToSend = false;
      }
    }
    while (this.localCids.pendingAnnounce.length > 0) {
      const seq = this.localCids.pendingAnnounce[0]!;
      const e = this.localCids.get(seq);
      if (!e) {
        this.localCids.pendingAnnounce.shift();
        continue;
      }
      const f: Frame = { type: "new_connection_id", sequence: seq, retirePriorTo: 0, connectionId: e.cid, statelessResetToken: e.resetToken! };
      if (frameSize(f) > end - o) break;
      o = putFrame(buf, o, f);
      this.localCids.pendingAnnounce.shift();
      p.frames.push({ k: "new_cid", seq });
      p.ackEliciting = true;
    }
    while (this.peerCids.pendingRetire.length > 0 && !p.zeroRtt) {
      const seq = this.peerCids.pendingRetire[0]!;
      const f: Frame = { type: "retire_connection_id", sequence: seq };
      if (frameSize(f) > end - o) break;
      o = putFrame(buf, o, f);
      this.peerCids.pendingRetire.shift();
      p.frames.push({ k: "retire_cid", seq });
      p.ackEliciting = true;
    }
    const rtt = this.recovery.rtt.smoothedRtt;
    for (let guard = 0; guard < 64; guard++) {
      const c = this.streams.nextControlFrame(end - o, now, rtt);
      if (!c) break;
      o = putFrame(buf, o, c);
      p.frames.push({ k: "control", f: c });
      p.ackEliciting = true;
      if (c.type === "data_blocked") this.blockedSent.data++;
      else if (c.type === "stream_data_blocked") this.blockedSent.streamData++;
      else if (c.type === "streams_blocked") this.blockedSent.streams++;
    }
    // Datagrams before stream data: they are the latency-sensitive ones (RFC 9221 section 5).
    if (this.datagrams.pending) {
      const start = o;
      o = this.datagrams.writeFrames(buf, o, end, this.datagramPayloadLimit());
      if (o > start) {
        p.frames.push(DATAGRAM_RECORD);
        p.ackEliciting = true;
      }
    }
    // Stream data fills the rest.
    for (let guard = 0; guard < 256 && end - o > 8; guard++) {
      const sf = this.streams.nextStreamFrame(end - o);
      if (!sf) break;
      o = putStreamFrame(buf, o, sf.streamId, sf.offset, sf.data, sf.fin);
      p.frames.push({ k: "stream", id: sf.streamId, offset: sf.offset, length: sf.data.length, fin: sf.fin });
      p.ackEliciting = true;
    }
    // Out of data (or blocked by flow control) with window to spare: application-limited (RFC 9002 section 7.8).
    if (!this.streams.hasStreamData() && !this.streams.hasPendingControl()) this.recovery.setAppLimited(true);
    return o;
  }

  /** Patches the Length field, protects the packet and records it with loss detection. */
  private finishPacket(buf: Uint8Array, p: BuiltPacket, now: number, record = true): void {
    if (p.space !== PacketNumberSpace.Application || p.zeroRtt) patchLongHeaderLength(buf, p.pnOffset, p.payloadEnd, 2);
    const st = this.spaces[p.space];
    this.tracer?.packetSent(p.zeroRtt ? PacketType.ZeroRtt : PACKET_TYPE_OF_SPACE[p.space], p.pn, buf.subarray(p.payloadStart, p.payloadEnd), p.payloadEnd + AEAD_TAG_LENGTH - p.headerStart, now);
    const keys = p.zeroRtt ? this.zeroRttKeys! : st.keys.write!;
    const batch = this.headerProtectionBatch;
    const end = batch
      ? keys.protectDeferred(buf, p.headerStart, p.pnOffset, p.pnLength, p.payloadEnd, p.pn, batch)
      : keys.protect(buf, p.headerStart, p.pnOffset, p.pnLength, p.payloadEnd, p.pn);
    if (!record) {
      // CONNECTION_CLOSE packets are not tracked (RFC 9002 section 2: not ack-eliciting, not in flight); numbers still advance.
      st.nextPn = Math.max(st.nextPn, p.pn + 1);
      return;
    }
    // Only ack-eliciting packets count in flight; padding rides on packets that are ack-eliciting or ACK-only.
    const sent = new SentPacket<SentFrame[]>(p.pn, now, end - p.headerStart, p.ackEliciting, p.ackEliciting, p.frames);
    sent.ackLargest = p.ackLargest;
    sent.mtuProbe = p.frames.length === 1 && p.frames[0]!.k === "mtu_probe";
    this.recovery.onPacketSent(p.space, sent);
    if (p.ackEliciting) {
      // Restart the idle timer on the first ack-eliciting packet after a receipt (RFC 9000 section 10.1).
      if (!this.lastAckElicitingSentAfterRecv && this.handshakeComplete) this.idleDeadline = now + this.idleTimeout();
      this.lastAckElicitingSentAfterRecv = true;
    }
    // A client discards Initial keys when it first sends a Handshake packet (RFC 9001 section 4.9.1).
    if (this.role === "client" && p.space === PacketNumberSpace.Handshake) this.discardSpace(PacketNumberSpace.Initial, now);
  }
}

/** A packet being assembled in the send buffer. */
interface BuiltPacket {
  space: PacketNumberSpace;
  headerStart: number;
  pnOffset: number;
  pnLength: 1 | 2 | 3 | 4;
  payloadStart: number;
  payloadEnd: number;
  /** Where the payload must end to leave room for the tag. */
  end: number;
  pn: number;
  ackEliciting: boolean;
  frames: SentFrame[];
  ackLargest: number;
  /** A 0-RTT packet (long header, 0-RTT keys). */
  zeroRtt: boolean;
}

/** Where 0-RTT stands on a connection: not attempted, attempted (client, not yet answered), accepted, or rejected (client). */
export type EarlyDataStatus = "none" | "attempted" | "accepted" | "rejected";

/** A ticket from its encoded bytes, or undefined when they are not one (the TLS engine then ignores it). */
function decodeTicketOrUndefined(bytes: Uint8Array): SessionTicket | undefined {
  try {
    return decodeSessionTicket(bytes);
  } catch {
    return undefined;
  }
}
