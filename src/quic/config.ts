import { randomBytes } from "node:crypto";
import type { TlsClientConfig } from "../tls/client.js";
import type { TlsServerConfig } from "../tls/server.js";
import type { Connection } from "./connection.js";
import type { TracerFactory } from "./qlog/tracer.js";
import type { CongestionAlgorithm } from "./recovery/congestion.js";
import { QUIC_V1, isReservedVersion, isSupportedVersion } from "./packet/version.js";
import { checkPreferredAddressConfig, type PreferredAddressConfig } from "./path/preferred.js";

/**
 * Transport settings we advertise or enforce, in friendly units
 * (milliseconds and bytes). They become our transport parameters
 * (RFC 9000 section 18.2).
 */
export interface TransportSettings {
  /** max_idle_timeout in ms; 0 disables (RFC 9000 section 10.1). Default 30 s. */
  maxIdleTimeout: number;
  /** max_udp_payload_size we are willing to receive (RFC 9000 section 18.2). Default 65527. */
  maxUdpPayloadSize: number;
  /** initial_max_data: connection receive window. Default 1 MiB (auto-tuned up to `maxConnectionWindow`). */
  initialMaxData: number;
  /** initial_max_stream_data_bidi_local. Default 256 KiB (auto-tuned up to `maxStreamWindow`). */
  initialMaxStreamDataBidiLocal: number;
  /** initial_max_stream_data_bidi_remote. Default 256 KiB. */
  initialMaxStreamDataBidiRemote: number;
  /** initial_max_stream_data_uni. Default 256 KiB. */
  initialMaxStreamDataUni: number;
  /** initial_max_streams_bidi: bidirectional streams the peer may open at once. Default 100. */
  initialMaxStreamsBidi: number;
  /** initial_max_streams_uni. Default 100. */
  initialMaxStreamsUni: number;
  /** ack_delay_exponent (RFC 9000 section 18.2). Default 3. */
  ackDelayExponent: number;
  /** max_ack_delay in ms (RFC 9000 section 18.2). Default 25. */
  maxAckDelay: number;
  /** disable_active_migration. Default false. */
  disableActiveMigration: boolean;
  /** active_connection_id_limit: peer CIDs we are willing to store. Default 4. */
  activeConnectionIdLimit: number;
  /** max_datagram_frame_size (RFC 9221); 0 disables DATAGRAM frames. Default 0. */
  maxDatagramFrameSize: number;
}

/** Defaults of {@link TransportSettings}. */
export const DEFAULT_TRANSPORT_SETTINGS: Readonly<TransportSettings> = Object.freeze({
  maxIdleTimeout: 30_000,
  maxUdpPayloadSize: 65527,
  initialMaxData: 1024 * 1024,
  initialMaxStreamDataBidiLocal: 256 * 1024,
  initialMaxStreamDataBidiRemote: 256 * 1024,
  initialMaxStreamDataUni: 256 * 1024,
  initialMaxStreamsBidi: 100,
  initialMaxStreamsUni: 100,
  ackDelayExponent: 3,
  maxAckDelay: 25,
  disableActiveMigration: false,
  activeConnectionIdLimit: 4,
  maxDatagramFrameSize: 0,
});

/** TLS options of a client connection; the connection fills in ALPN and transport parameters. */
export type ClientTlsOptions = Omit<TlsClientConfig, "alpnProtocols" | "quicTransportParameters" | "mode">;
/** TLS options of a server connection; the connection fills in ALPN and transport parameters. */
export type ServerTlsOptions = Omit<TlsServerConfig, "alpnProtocols" | "quicTransportParameters" | "mode">;

/**
 * Configuration shared by many connections (quiche's `Config`): TLS
 * settings, ALPN protocols, transport parameters, congestion control and
 * limits. Every field has a default except the ALPN list.
 */
export interface ConnectionConfig {
  /** Application protocols in preference order (RFC 9001 section 8.1 makes ALPN mandatory). */
  alpn: string[];
  /** TLS settings for client connections. */
  clientTls?: ClientTlsOptions;
  /** TLS settings for server connections (certificate and key at least). */
  serverTls?: ServerTlsOptions;
  /** Transport parameters; unspecified fields take {@link DEFAULT_TRANSPORT_SETTINGS}. */
  transport?: Partial<TransportSettings>;
  /** Congestion controller. Default "reno" (RFC 9002 section 7). */
  congestionControl?: CongestionAlgorithm;
  /** Largest UDP payload we send without probing. Default 1200, the size every path must carry (RFC 9000 section 14). */
  maxSendUdpPayloadSize?: number;
  /**
   * Path MTU discovery (RFC 8899, RFC 9000 section 14.3) probes for UDP
   * payloads above `maxSendUdpPayloadSize` up to this size (and the peer's
   * max_udp_payload_size) once the handshake is confirmed. Default 1452
   * (a 1500-byte Ethernet MTU less IPv6 and UDP headers); 0 disables it.
   */
  pmtudMax?: number;
  /** Ceiling of a stream's auto-tuned receive window. Default 16 MiB. */
  maxStreamWindow?: number;
  /** Ceiling of the connection's auto-tuned receive window. Default 24 MiB. */
  maxConnectionWindow?: number;
  /** Per-stream send buffer high-water mark for backpressure. Default 1 MiB. */
  streamHighWaterMark?: number;
  /** Hard cap on bytes buffered for sending per connection. Default 32 MiB. */
  maxSendBuffer?: number;
  /** The handshake must complete within this many ms. Default 10 s. */
  handshakeTimeout?: number;
  /** RTT assumed before the first sample, ms (RFC 9002 section 6.2.2). Default 333. */
  initialRtt?: number;
  /** Length of the connection IDs we issue (1..20). Default 8. */
  connectionIdLength?: number;
  /**
   * QUIC versions in preference order. Default [v1]. A client offers the
   * first; a server accepts those listed and answers others with Version
   * Negotiation. A reserved version 0x?a?a?a?a (RFC 9000 section 15) is
   * allowed first in a client's list to exercise Version Negotiation (its
   * packets are shaped like v1's); servers never list it.
   */
  versions?: number[];
  /** Receives SSLKEYLOGFILE lines (NSS key log format) and the connection they belong to. */
  keylog?: (line: string, connection: Connection) => void;
  /**
   * Makes a tracer for each connection (qlog, see `qlogDirectory`); a
   * connection without one builds no trace events at all.
   */
  tracer?: TracerFactory;
  /**
   * DATAGRAM frames waiting at most in each direction: to be sent
   * (`sendDatagram` drops further ones), and received but not yet polled
   * (further ones are dropped on receipt) (RFC 9221 section 5). Default 64.
   */
  maxQueuedDatagrams?: number;
  /** Packets ahead of the keys to decrypt them that a connection buffers (RFC 9001 section 5.7). Default 16. */
  maxUndecryptablePackets?: number;
  /** Servers send a session ticket after each handshake so clients can resume. Default true. */
  sessionTickets?: boolean;
  /**
   * Server: addresses clients should move to once the handshake is
   * confirmed, sent in preferred_address (RFC 9000 section 9.6). The
   * driver must receive on them (UdpEndpoint binds a socket for each).
   */
  preferredAddress?: PreferredAddressConfig;
  /**
   * Client: what to do with a server's preferred address. "accept" (the
   * default, as ngtcp2, lsquic and Node do) validates it once the handshake
   * is confirmed and moves there; "reject" stays on the handshake address.
   */
  preferredAddressPolicy?: "accept" | "reject";
  /**
   * Most fragments (runs of bytes separated by gaps) one stream holds
   * awaiting reassembly; beyond it the connection closes with
   * PROTOCOL_VIOLATION (RFC 9000 section 21.7). Default one per KiB of
   * `maxStreamWindow`, at least 1024.
   */
  maxStreamReassemblyFragments?: number;
  /**
   * Most peer connection IDs awaiting our RETIRE_CONNECTION_ID; beyond it
   * the connection closes with CONNECTION_ID_LIMIT_ERROR (RFC 9000 section
   * 5.1.2, which asks for at least twice active_connection_id_limit).
   * Default twice `transport.activeConnectionIdLimit`.
   */
  maxPendingRetireConnectionIds?: number;
  /**
   * Raise the loss-detection reordering thresholds when a packet declared
   * lost is acknowledged after all (RFC 9002 sections 6.1.1 and 6.1.2
   * allow adapting them). Default true.
   */
  adaptiveReordering?: boolean;
}

/** A configuration with every default applied. */
export interface ResolvedConfig {
  alpn: string[];
  clientTls: ClientTlsOptions;
  serverTls: ServerTlsOptions | undefined;
  transport: TransportSettings;
  congestionControl: CongestionAlgorithm;
  maxSendUdpPayloadSize: number;
  pmtudMax: number;
  maxStreamWindow: number;
  maxConnectionWindow: number;
  streamHighWaterMark: number;
  maxSendBuffer: number;
  handshakeTimeout: number;
  initialRtt: number;
  connectionIdLength: number;
  versions: number[];
  keylog: ((line: string, connection: Connection) => void) | undefined;
  tracer: TracerFactory | undefined;
  maxQueuedDatagrams: number;
  maxUndecryptablePackets: number;
  sessionTickets: boolean;
  preferredAddress: PreferredAddressConfig | undefined;
  preferredAddressPolicy: "accept" | "reject";
  maxStreamReassemblyFragments: number | undefined;
  maxPendingRetireConnectionIds: number;
  adaptiveReordering: boolean;
}

/**
 * Configurations {@link resolveConfig} made. Identity, not shape, tells a
 * resolved configuration from a plain one: a plain one may set any field a
 * resolved one has, and a copy of a resolved one may carry plain fields.
 */
const resolvedConfigs = new WeakSet<ResolvedConfig>();

/** Whether `c` came from {@link resolveConfig} (a copy of it does not count). */
export function isResolvedConfig(c: ConnectionConfig | ResolvedConfig): c is ResolvedConfig {
  return resolvedConfigs.has(c as ResolvedConfig);
}

/**
 * Applies defaults and checks ranges; throws TypeError naming the bad
 * option. A configuration it already resolved is returned as it is.
 */
export function resolveConfig(c: ConnectionConfig | ResolvedConfig): ResolvedConfig {
  if (isResolvedConfig(c)) return c;
  if (!Array.isArray(c.alpn) || c.alpn.length === 0) throw new TypeError("config.alpn must list at least one application protocol");
  const transport: TransportSettings = { ...DEFAULT_TRANSPORT_SETTINGS, ...(c.transport ?? {}) };
  const cidLength = c.connectionIdLength ?? 8;
  if (!(cidLength >= 1 && cidLength <= 20)) throw new TypeError("config.connectionIdLength must be 1..20");
  const maxSend = c.maxSendUdpPayloadSize ?? 1200;
  if (!(maxSend >= 1200 && maxSend <= 65527)) throw new TypeError("config.maxSendUdpPayloadSize must be 1200..65527");
  const pmtudMax = c.pmtudMax ?? 1452;
  if (!(pmtudMax === 0 || (pmtudMax >= 1200 && pmtudMax <= 65527))) throw new TypeError("config.pmtudMax must be 0 (off) or 1200..65527");
  const maxQueuedDatagrams = c.maxQueuedDatagrams ?? 64;
  if (!(Number.isInteger(maxQueuedDatagrams) && maxQueuedDatagrams >= 1)) throw new TypeError("config.maxQueuedDatagrams must be a positive integer");
  if (transport.activeConnectionIdLimit < 2) throw new TypeError("transport.activeConnectionIdLimit must be at least 2");
  if (c.preferredAddress) checkPreferredAddressConfig(c.preferredAddress);
  if (c.preferredAddressPolicy !== undefined && c.preferredAddressPolicy !== "accept" && c.preferredAddressPolicy !== "reject") {
    throw new TypeError('config.preferredAddressPolicy must be "accept" or "reject"');
  }
  if (c.maxStreamReassemblyFragments !== undefined && !(c.maxStreamReassemblyFragments >= 1)) throw new TypeError("config.maxStreamReassemblyFragments must be at least 1");
  if (c.maxPendingRetireConnectionIds !== undefined && !(c.maxPendingRetireConnectionIds >= 2 * transport.activeConnectionIdLimit)) {
    throw new TypeError("config.maxPendingRetireConnectionIds must be at least twice transport.activeConnectionIdLimit (RFC 9000 section 5.1.2)");
  }
  const versions = c.versions ?? [QUIC_V1.number];
  if (versions.length === 0) throw new TypeError("config.versions must list at least one QUIC version");
  for (const v of versions) {
    if (!isSupportedVersion(v) && !isReservedVersion(v)) throw new TypeError(`config.versions: unsupported QUIC version 0x${(v >>> 0).toString(16)}`);
  }
  const resolved: ResolvedConfig = {
    alpn: c.alpn,
    clientTls: c.clientTls ?? {},
    // One ticket key per configuration, so every connection made from it can resume the others' tickets.
    serverTls: c.serverTls && c.serverTls.ticketKeys === undefined ? { ...c.serverTls, ticketKeys: new Uint8Array(randomBytes(32)) } : c.serverTls,
    transport,
    congestionControl: c.congestionControl ?? "reno",
    maxSendUdpPayloadSize: maxSend,
    pmtudMax,
    maxStreamWindow: c.maxStreamWindow ?? 16 * 1024 * 1024,
    maxConnectionWindow: c.maxConnectionWindow ?? 24 * 1024 * 1024,
    streamHighWaterMark: c.streamHighWaterMark ?? 1024 * 1024,
    maxSendBuffer: c.maxSendBuffer ?? 32 * 1024 * 1024,
    handshakeTimeout: c.handshakeTimeout ?? 10_000,
    initialRtt: c.initialRtt ?? 333,
    connectionIdLength: cidLength,
    versions,
    keylog: c.keylog,
    tracer: c.tracer,
    maxQueuedDatagrams,
    maxUndecryptablePackets: c.maxUndecryptablePackets ?? 16,
    sessionTickets: c.sessionTickets ?? true,
    preferredAddress: c.preferredAddress,
    preferredAddressPolicy: c.preferredAddressPolicy ?? "accept",
    maxStreamReassemblyFragments: c.maxStreamReassemblyFragments,
    maxPendingRetireConnectionIds: c.maxPendingRetireConnectionIds ?? 2 * transport.activeConnectionIdLimit,
    adaptiveReordering: c.adaptiveReordering ?? true,
  };
  resolvedConfigs.add(resolved);
  return resolved;
}
