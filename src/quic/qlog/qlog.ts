/**
 * qlog for one connection: the main schema's JSON-SEQ form
 * (draft-ietf-quic-qlog-main-schema-03, qlog_version "0.3", the form qvis
 * reads) with the QUIC events of draft-ietf-quic-qlog-quic-events-03.
 * The tracer builds records and hands them to a sink; where they go (a
 * file, memory) is the caller's business, so this module does no I/O.
 */
import { toHex } from "../../util/bytes.js";
import type { EncryptionLevel } from "../../tls/engine.js";
import type { Connection } from "../connection.js";
import type { PacketHeader } from "../packet/index.js";
import { PacketType } from "../packet/index.js";
import type { PathAddresses, PathEvent } from "../path/index.js";
import type { TransportParameters } from "../transport-params.js";
import { formatAddress, type SocketAddress } from "../types.js";
import { qlogFrames, qlogPacketType, qlogTransportError, type QlogObject } from "./frames.js";
import type { ConnectionTracer, KeyUpdateTrigger, TraceStart } from "./tracer.js";

/** RFC 7464 section 2.2: each JSON text of a JSON-SEQ stream starts with RS (0x1E) and ends with LF. */
export const RECORD_SEPARATOR = "\x1e";

/** qlog_version of the main schema drafts up to -04, which qvis reads (main-schema-03 section 3). */
export const QLOG_VERSION = "0.3";

/** Receives serialized JSON-SEQ records (RS, JSON text, LF) in order. */
export interface QlogSink {
  write(record: string): void;
  /** The connection closed: a good moment to write out what is buffered. */
  flush?(): void;
  /** The trace ended; called once, nothing is written after it. */
  finish(): void;
}

const LEVEL_KEY_NAME: Record<EncryptionLevel, string> = { initial: "initial", zeroRtt: "0rtt", handshake: "handshake", oneRtt: "1rtt" };
/** qlog names of our connection states after the handshake (quic-events section 5.1.3). */
type QlogState = "attempted" | "handshake_started" | "peer_validated" | "handshake_complete" | "handshake_confirmed" | "closing" | "draining" | "closed";

/** Lifecycle steps in the order they happen (closing is skipped when the peer closes first). */
const LIFECYCLE: readonly QlogState[] = ["attempted", "handshake_started", "peer_validated", "handshake_complete", "handshake_confirmed", "closing", "draining", "closed"];

/** Rounds ms to microseconds: enough for any clock we are given, and short in JSON. */
const us = (ms: number): number => Math.round(ms * 1000) / 1000;

/** The first record of a JSON-SEQ qlog file (main-schema-03 section 3, QlogFileSeq). */
export function qlogHeader(role: "client" | "server", originalDcid: Uint8Array, referenceTime: number, title: string): QlogObject {
  return {
    qlog_version: QLOG_VERSION,
    qlog_format: "JSON-SEQ",
    title,
    trace: {
      vantage_point: { name: "tsquic", type: role },
      title,
      configuration: { time_offset: 0 },
      common_fields: { ODCID: toHex(originalDcid), group_id: toHex(originalDcid), protocol_type: ["QUIC", "HTTP3"], reference_time: referenceTime, time_format: "relative" },
    },
  };
}

/**
 * Records one connection's qlog events into a {@link QlogSink}. Recovery
 * metrics, connection states and parameters are sampled in {@link sync} and
 * logged only when they changed, as the drafts ask for metrics_updated.
 */
export class QlogTracer implements ConnectionTracer {
  private readonly c: Connection;
  private readonly sink: QlogSink;
  private readonly reference: number;
  private lastNow: number;
  private finished = false;
  // What was logged last, to log changes only.
  private loggedState: QlogState;
  private loggedRemoteParams = false;
  private loggedClose = false;
  private readonly metrics: Record<string, number> = {};
  private congestionState = "";
  private congestionEvents = 0;
  private persistentCongestions = 0;
  private lossTimer = Infinity;
  /** The handshake path (path_id "", quic-events: the default path), and the path last logged as in use. */
  private readonly handshakePath: string;
  private assignedPath: string;
  private migrationState: MigrationState | undefined;

  constructor(start: TraceStart, sink: QlogSink) {
    const c = start.connection;
    this.c = c;
    this.sink = sink;
    this.reference = start.now;
    this.lastNow = start.now;
    sink.write(RECORD_SEPARATOR + JSON.stringify(qlogHeader(c.role, start.originalDcid, start.now, `tsquic ${c.role} ${toHex(start.originalDcid)}`)) + "\n");
    const local = c.local;
    const remote = c.remote;
    this.handshakePath = this.assignedPath = pathKey(c.path);
    this.emit("connectivity:connection_started", {
      ip_version: remote.address.includes(":") ? "ipv6" : "ipv4",
      src_ip: local?.address,
      src_port: local?.port,
      dst_ip: remote.address,
      dst_port: remote.port,
      protocol: "QUIC",
      src_cid: toHex(c.localCids.get(0)?.cid ?? new Uint8Array(0)),
      dst_cid: toHex(c.peerCids.current.cid),
    });
    const versions = c.config.versions.map((v) => (v >>> 0).toString(16));
    this.emit("transport:version_information", {
      [c.role === "client" ? "client_versions" : "server_versions"]: versions,
      chosen_version: (c.version.number >>> 0).toString(16),
    });
    this.emit("transport:parameters_set", { owner: "local", ...qlogParameters(c.localParams) });
    this.keyUpdated("initial", "write", "tls", 0);
    this.keyUpdated("initial", "read", "tls", 0);
    // A resuming client derives its 0-RTT keys with the ClientHello, before the trace starts (RFC 9001 section 4.6.1).
    if (c.role === "client" && c.earlyDataStatus === "attempted") this.keyUpdated("zeroRtt", "write", "tls", 0);
    this.loggedState = c.role === "client" ? "attempted" : "handshake_started";
    this.emit("connectivity:connection_state_updated", { new: this.loggedState });
    this.sync(start.now);
  }

  packetReceived(header: PacketHeader, packetNumber: number, payload: Uint8Array, now: number): void {
    this.advance(now);
    const app = header.type === PacketType.OneRtt;
    const h: QlogObject = { packet_type: qlogPacketType(header.type), packet_number: packetNumber, dcid: toHex(header.dcid) };
    if (header.longHeader) {
      h.version = (header.version >>> 0).toString(16);
      h.scid = toHex(header.scid);
    }
    // ACK Delay units: the peer's ack_delay_exponent in 1-RTT, 3 elsewhere (RFC 9000 section 19.3).
    const exponent = app ? (this.c.peerParams?.ackDelayExponent ?? 3) : 3;
    this.emit("transport:packet_received", {
      header: h,
      raw: { length: header.packetEnd - header.headerStart },
      frames: qlogFrames(payload, header.type, exponent),
    });
  }

  packetDropped(header: PacketHeader | undefined, length: number, processed: boolean, now: number): void {
    this.advance(now);
    const data: QlogObject = { raw: { length }, trigger: this.dropTrigger(header, processed) };
    if (header) data.header = { packet_type: qlogPacketType(header.type), dcid: toHex(header.dcid) };
    this.emit("transport:packet_dropped", data);
  }

  versionNegotiationOrRetryReceived(header: PacketHeader, length: number, versions: readonly number[] | undefined, now: number): void {
    this.advance(now);
    const h: QlogObject = { packet_type: qlogPacketType(header.type), dcid: toHex(header.dcid), scid: toHex(header.scid) };
    const data: QlogObject = { header: h, raw: { length } };
    // quic-events-03 section 5.3.6: a Version Negotiation packet's versions, a Retry's token.
    if (versions) data.supported_versions = versions.map((v) => (v >>> 0).toString(16));
    else {
      h.version = (header.version >>> 0).toString(16);
      data.retry_token = { type: "retry", length: header.token.length, data: toHex(header.token) };
    }
    this.emit("transport:packet_received", data);
  }

  packetSent(type: PacketType, packetNumber: number, payload: Uint8Array, size: number, now: number): void {
    this.advance(now);
    const c = this.c;
    const h: QlogObject = { packet_type: qlogPacketType(type), packet_number: packetNumber, dcid: toHex(c.peerCids.current.cid) };
    if (type !== PacketType.OneRtt) {
      h.version = (c.version.number >>> 0).toString(16);
      h.scid = toHex(c.localCids.get(0)?.cid ?? c.localParams.initialSourceConnectionId ?? new Uint8Array(0));
    }
    const exponent = type === PacketType.OneRtt ? c.localParams.ackDelayExponent : 3;
    this.emit("transport:packet_sent", { header: h, raw: { length: size }, frames: qlogFrames(payload, type, exponent) });
  }

  packetLost(type: PacketType, packetNumber: number, size: number): void {
    this.emit("recovery:packet_lost", { header: { packet_type: qlogPacketType(type), packet_number: packetNumber }, raw: { length: size } });
  }

  /**
   * path_assigned when the path in use changed, and migration_state_updated
   * saying how far the move got (quic-events drafts 07 to 10, section
   * "migration_state_updated"; the path events are not in draft-03).
   */
  pathEvent(e: PathEvent): void {
    const inUse = this.c.path;
    const key = pathKey(e.path);
    let state: MigrationState;
    switch (e.type) {
      case "path_validated":
        state = key === pathKey(inUse) ? "migration_complete" : "probing_successful";
        break;
      case "path_validation_failed":
        // The path in use failed and the connection fell back; or a probe was given up.
        state = key === this.assignedPath ? "migration_abandoned" : "probing_abandoned";
        break;
      case "peer_address_changed":
        state = this.c.paths.current.validated ? "migration_complete" : "migration_started";
        break;
      case "preferred_address_used":
        // Follows the path_validated that already logged the move.
        this.assignPath(inUse);
        return;
    }
    this.assignPath(inUse);
    const data: QlogObject = { ...(this.migrationState ? { old: this.migrationState } : {}), new: state, path_id: this.pathId(key), ...pathEndpoints(e.path) };
    this.migrationState = state;
    this.emit("connectivity:migration_state_updated", data);
  }

  keyUpdated(level: EncryptionLevel, direction: "read" | "write", trigger: KeyUpdateTrigger, generation: number): void {
    const data: QlogObject = { key_type: this.keyType(level, direction), trigger };
    if (level === "oneRtt") data.generation = generation;
    this.emit("security:key_updated", data);
  }

  keyDiscarded(level: EncryptionLevel, direction: "read" | "write", generation: number): void {
    // Initial and Handshake keys go when the handshake moves on (tls); old 1-RTT keys after a key update, whoever started it.
    const data: QlogObject = { key_type: this.keyType(level, direction) };
    if (level === "oneRtt") data.generation = generation;
    else data.trigger = "tls";
    this.emit("security:key_discarded", data);
  }

  sync(now: number): void {
    if (this.finished) return;
    this.advance(now);
    const c = this.c;
    if (!this.loggedRemoteParams && c.peerParams) {
      this.loggedRemoteParams = true;
      this.emit("transport:parameters_set", { owner: "remote", ...qlogParameters(c.peerParams) });
      const alpn = c.alpnProtocol;
      this.emit("transport:alpn_information", { [c.role === "client" ? "client_alpns" : "server_alpns"]: c.config.alpn, ...(alpn ? { chosen_alpn: alpn } : {}) });
    }
    this.syncRecovery(now);
    this.syncState();
    if (!this.loggedClose && c.closeInfo) {
      this.loggedClose = true;
      this.logClose();
      // The connection may be abandoned now (a client's socket closes with it): get the records out.
      this.sink.flush?.();
    }
    if (c.state === "closed") this.finish();
  }

  /** Ends the trace: the sink is finished and later calls are ignored. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.sink.finish();
  }

  private logClose(): void {
    const info = this.c.closeInfo!;
    const code = info.error?.code;
    const trigger =
      code === "ERR_QUIC_IDLE_TIMEOUT" ? "idle_timeout"
      : code === "ERR_QUIC_HANDSHAKE_TIMEOUT" ? "handshake_timeout"
      : code === "ERR_QUIC_STATELESS_RESET" ? "stateless_reset"
      : code === "ERR_QUIC_VERSION_NEGOTIATION" ? "version_mismatch"
      : info.error === undefined ? "clean"
      : info.application ? "application"
      : "error";
    const data: QlogObject = { owner: info.remote ? "remote" : "local", reason: info.reason, trigger };
    if (info.application) data.application_code = info.errorCode;
    else data.connection_code = qlogTransportError(info.errorCode);
    this.emit("connectivity:connection_closed", data);
  }

  /** Logs each lifecycle step reached since the last call, in order, so steps passed within one call are not skipped. */
  private syncState(): void {
    const c = this.c;
    const reached: QlogState[] = [];
    if (c.role === "server" && c.isAddressValidated) reached.push("peer_validated");
    if (c.isEstablished || c.isHandshakeConfirmed) reached.push("handshake_complete");
    if (c.isHandshakeConfirmed) reached.push("handshake_confirmed");
    if (c.state === "closing" || c.state === "draining" || c.state === "closed") reached.push(c.state);
    for (const s of reached) {
      if (LIFECYCLE.indexOf(s) <= LIFECYCLE.indexOf(this.loggedState!)) continue;
      this.emit("connectivity:connection_state_updated", { old: this.loggedState, new: s });
      this.loggedState = s;
    }
  }

  /** recovery:metrics_updated with the fields that changed, congestion_state_updated and loss_timer_updated (quic-events section 7). */
  private syncRecovery(now: number): void {
    const r = this.c.recovery;
    const rtt = r.rtt;
    const changed: QlogObject = {};
    let any = false;
    const put = (name: string, v: number): void => {
      if (!Number.isFinite(v) || this.metrics[name] === v) return;
      this.metrics[name] = v;
      changed[name] = name.endsWith("rtt") || name === "rtt_variance" ? us(v) : v;
      any = true;
    };
    // Minimum and latest RTT mean nothing before the first sample (RFC 9002 section 5).
    if (rtt.latestRtt > 0) {
      put("min_rtt", rtt.minRtt);
      put("latest_rtt", rtt.latestRtt);
    }
    put("smoothed_rtt", rtt.smoothedRtt);
    put("rtt_variance", rtt.rttVar);
    put("pto_count", r.ptoBackoffExponent);
    put("congestion_window", r.congestionWindow);
    put("bytes_in_flight", r.bytesInFlight);
    put("ssthresh", r.cc.ssthresh);
    if (any) this.emit("recovery:metrics_updated", changed);

    // A congestion event starts a recovery period; it is over once the window grows again (RFC 9002 section 7.3.2).
    const cc = r.cc;
    const stats = r.stats;
    let state = this.congestionState;
    let trigger: string | undefined;
    if (cc.congestionEvents !== this.congestionEvents) {
      this.congestionEvents = cc.congestionEvents;
      state = "recovery";
    } else if (state !== "recovery" || changed.congestion_window !== undefined) {
      state = cc.appLimited ? "application_limited" : cc.inSlowStart ? "slow_start" : "congestion_avoidance";
    }
    if (stats.persistentCongestions !== this.persistentCongestions) {
      this.persistentCongestions = stats.persistentCongestions;
      trigger = "persistent_congestion";
    }
    if (state !== this.congestionState) {
      const data: QlogObject = this.congestionState ? { old: this.congestionState, new: state } : { new: state };
      if (trigger) data.trigger = trigger;
      this.emit("recovery:congestion_state_updated", data);
      this.congestionState = state;
    }

    const deadline = r.lossDetectionDeadline;
    if (deadline !== this.lossTimer) {
      if (this.lossTimer <= now) this.emit("recovery:loss_timer_updated", { event_type: "expired" });
      // A deadline already past (held back while the path could not send, e.g. amplification-limited) fires at once: delta 0.
      this.emit("recovery:loss_timer_updated", deadline === Infinity ? { event_type: "cancelled" } : { event_type: "set", delta: us(Math.max(0, deadline - now)) });
      this.lossTimer = deadline;
    }
  }

  /** Logs path_assigned for `path` unless it is already the one in use. */
  private assignPath(path: PathAddresses): void {
    const key = pathKey(path);
    if (key === this.assignedPath) return;
    this.assignedPath = key;
    this.emit("connectivity:path_assigned", { path_id: this.pathId(key), ...pathEndpoints(path) });
  }

  /** The handshake path is "" (the path of events without one); others are named by their addresses, which needs no table a peer could grow. */
  private pathId(key: string): string {
    return key === this.handshakePath ? "" : key;
  }

  private dropTrigger(header: PacketHeader | undefined, processed: boolean): string {
    if (!header) return "header_parse_error";
    if (processed) return "duplicate";
    // A Retry or Version Negotiation packet the client did not act on (a second one, or one for a server).
    if (header.type === PacketType.Retry || header.type === PacketType.VersionNegotiation) return "unexpected_packet";
    if (header.type === PacketType.UnsupportedVersion || (header.longHeader && header.version !== this.c.version.number)) return "unsupported_version";
    const level = header.type === PacketType.Initial ? "initial" : header.type === PacketType.Handshake ? "handshake" : "oneRtt";
    if (header.type === PacketType.ZeroRtt || !this.c.hasKeys(level)) return "key_unavailable";
    return "payload_decrypt_error";
  }

  private keyType(level: EncryptionLevel, direction: "read" | "write"): string {
    const client = (direction === "write") === (this.c.role === "client");
    return `${client ? "client" : "server"}_${LEVEL_KEY_NAME[level]}_secret`;
  }

  /** Keeps event times monotonic: a hook without its own `now` uses the latest one seen. */
  private advance(now: number): void {
    if (now > this.lastNow) this.lastNow = now;
  }

  private emit(name: string, data: QlogObject): void {
    if (this.finished) return;
    this.sink.write(RECORD_SEPARATOR + JSON.stringify({ time: us(this.lastNow - this.reference), name, data }) + "\n");
  }
}

/** Steps of a migration as quic-events names them (drafts 07 to 10, MigrationState). */
type MigrationState = "probing_started" | "probing_abandoned" | "probing_successful" | "migration_started" | "migration_abandoned" | "migration_complete";

/** A path as text: our address (or "*" when the driver did not say), then the peer's. */
function pathKey(p: PathAddresses): string {
  return `${p.local ? formatAddress(p.local) : "*"}-${formatAddress(p.remote)}`;
}

/** One side of a path as a PathEndpointInfo (quic-events drafts 07 to 10). */
function endpointInfo(a: SocketAddress): QlogObject {
  return a.address.includes(":") ? { ip_v6: a.address, port_v6: a.port } : { ip_v4: a.address, port_v4: a.port };
}

/** path_remote and, when known, path_local of a path. */
function pathEndpoints(p: PathAddresses): QlogObject {
  return p.local ? { path_remote: endpointInfo(p.remote), path_local: endpointInfo(p.local) } : { path_remote: endpointInfo(p.remote) };
}

/** Transport parameters as qlog's parameters_set fields (quic-events section 5.3.3). */
export function qlogParameters(p: TransportParameters): QlogObject {
  const hex = (b: Uint8Array | undefined): string | undefined => (b ? toHex(b) : undefined);
  return {
    original_destination_connection_id: hex(p.originalDestinationConnectionId),
    initial_source_connection_id: hex(p.initialSourceConnectionId),
    retry_source_connection_id: hex(p.retrySourceConnectionId),
    stateless_reset_token: hex(p.statelessResetToken),
    disable_active_migration: p.disableActiveMigration,
    max_idle_timeout: p.maxIdleTimeout,
    max_udp_payload_size: p.maxUdpPayloadSize,
    ack_delay_exponent: p.ackDelayExponent,
    max_ack_delay: p.maxAckDelay,
    active_connection_id_limit: p.activeConnectionIdLimit,
    initial_max_data: p.initialMaxData,
    initial_max_stream_data_bidi_local: p.initialMaxStreamDataBidiLocal,
    initial_max_stream_data_bidi_remote: p.initialMaxStreamDataBidiRemote,
    initial_max_stream_data_uni: p.initialMaxStreamDataUni,
    initial_max_streams_bidi: p.initialMaxStreamsBidi,
    initial_max_streams_uni: p.initialMaxStreamsUni,
    max_datagram_frame_size: p.maxDatagramFrameSize,
  };
}
