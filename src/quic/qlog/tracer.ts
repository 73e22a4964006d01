/**
 * The tracing boundary of a {@link Connection}: an optional object the
 * connection calls at the points qlog cares about. A connection without a
 * tracer makes no calls and builds no event objects, so tracing costs
 * nothing unless it is asked for.
 */
import type { Connection } from "../connection.js";
import type { PacketHeader, PacketType } from "../packet/index.js";
import type { PathEvent } from "../path/index.js";
import type { EncryptionLevel } from "../../tls/engine.js";

/** Why a key changed (draft-ietf-quic-qlog-quic-events section 5.2.1, security:key_updated trigger). */
export type KeyUpdateTrigger = "tls" | "local_update" | "remote_update";

/** What a tracer factory learns about a new connection. */
export interface TraceStart {
  /** The connection being traced; read its state, never change it. */
  connection: Connection;
  /** The original destination connection ID: the client's first DCID (names the trace, as ngtcp2 and quiche do). */
  originalDcid: Uint8Array;
  /** Time of creation, ms (the trace's reference time). */
  now: number;
}

/**
 * Receives a connection's trace points. Every method is called
 * synchronously on the packet path: implementations should only record
 * and defer any I/O. Times are the `now` the connection was given.
 */
export interface ConnectionTracer {
  /**
   * An authenticated, non-duplicate packet; `payload` is its decrypted
   * frames, a view valid only during the call.
   */
  packetReceived(header: PacketHeader, packetNumber: number, payload: Uint8Array, now: number): void;
  /**
   * A received packet was not processed. `header` is undefined when it
   * could not be parsed; `processed` is true when it was authenticated but
   * was a duplicate.
   */
  packetDropped(header: PacketHeader | undefined, length: number, processed: boolean, now: number): void;
  /**
   * A Retry or Version Negotiation packet the client acts on (neither has
   * a packet number or frames); `versions` are those a Version
   * Negotiation packet lists. Ones it ignores go to {@link packetDropped}.
   */
  versionNegotiationOrRetryReceived(header: PacketHeader, length: number, versions: readonly number[] | undefined, now: number): void;
  /**
   * A packet about to be protected; `type` is Initial, Handshake, ZeroRtt
   * or OneRtt; `payload` is its plaintext frames, a view valid only during the call.
   */
  packetSent(type: PacketType, packetNumber: number, payload: Uint8Array, size: number, now: number): void;
  /** A sent packet of `type` was declared lost (RFC 9002 section 6.1). */
  packetLost(type: PacketType, packetNumber: number, size: number): void;
  /** Keys of `level` were installed or rotated in one direction. */
  keyUpdated(level: EncryptionLevel, direction: "read" | "write", trigger: KeyUpdateTrigger, generation: number): void;
  /**
   * A path changed (RFC 9000 sections 8.2 and 9), after the connection
   * applied it: `connection.path` is the path now in use.
   */
  pathEvent(event: PathEvent): void;
  /** Keys of `level` were discarded in one direction. */
  keyDiscarded(level: EncryptionLevel, direction: "read" | "write", generation: number): void;
  /**
   * Called after each receive, send and timer pass: the tracer compares
   * the connection's state, parameters and recovery metrics with what it
   * logged last and records what changed.
   */
  sync(now: number): void;
}

/** Creates a tracer for each new connection, or undefined to leave it untraced. */
export type TracerFactory = (start: TraceStart) => ConnectionTracer | undefined;
