import assert from "node:assert/strict";
import type { Connection } from "../../src/quic/connection.js";
import { QlogTracer } from "../../src/quic/qlog/qlog.js";
import type { TracerFactory } from "../../src/quic/qlog/tracer.js";

/** One parsed qlog event. */
export interface QlogEvent {
  time: number;
  name: string;
  data: Record<string, any>;
}

/** A parsed JSON-SEQ qlog file: its header record and its events. */
export interface ParsedQlog {
  header: Record<string, any>;
  events: QlogEvent[];
}

/**
 * Parses a JSON-SEQ qlog text (RFC 7464: every record is RS, a JSON text,
 * LF) and checks the structure qvis relies on: the header record of
 * qlog 0.3 first, then events with a numeric relative time, a
 * "category:event" name and a data object, in time order.
 */
export function parseQlog(text: string): ParsedQlog {
  assert.ok(text.startsWith("\x1e"), "a JSON-SEQ file starts with the RS character");
  assert.ok(text.endsWith("\n"), "every JSON-SEQ record ends with LF");
  const records = text.split("\x1e").slice(1);
  const parsed = records.map((r, i) => {
    assert.ok(r.endsWith("\n"), `record ${i} does not end with LF`);
    try {
      return JSON.parse(r) as Record<string, any>;
    } catch (e) {
      throw new Error(`record ${i} is not JSON: ${(e as Error).message}: ${r.slice(0, 200)}`);
    }
  });
  const header = parsed[0]!;
  assert.equal(header.qlog_version, "0.3");
  assert.equal(header.qlog_format, "JSON-SEQ");
  assert.equal(typeof header.trace, "object");
  assert.ok(["client", "server"].includes(header.trace.vantage_point?.type), "vantage_point.type is client or server");
  assert.equal(typeof header.trace.common_fields?.reference_time, "number");
  const events = parsed.slice(1) as unknown as QlogEvent[];
  let last = -Infinity;
  for (const e of events) {
    checkEvent(e);
    assert.ok(e.time >= last, `event ${e.name} at ${e.time} ms comes after one at ${last} ms`);
    last = e.time;
  }
  return { header, events };
}

const PACKET_TYPES = new Set(["initial", "handshake", "0RTT", "1RTT", "retry", "version_negotiation", "stateless_reset", "unknown"]);
const FRAME_TYPES = new Set([
  "padding", "ping", "ack", "reset_stream", "stop_sending", "crypto", "new_token", "stream", "max_data", "max_stream_data", "max_streams",
  "data_blocked", "stream_data_blocked", "streams_blocked", "new_connection_id", "retire_connection_id", "path_challenge", "path_response",
  "connection_close", "handshake_done", "datagram", "ack_frequency", "immediate_ack", "unknown",
]);
const STATES = new Set(["attempted", "peer_validated", "handshake_started", "early_write", "handshake_complete", "handshake_confirmed", "closing", "draining", "closed"]);
const KEY_TYPES = /^(client|server)_(initial|handshake|0rtt|1rtt)_secret$/;

const MIGRATION_STATES = new Set(["probing_started", "probing_abandoned", "probing_successful", "migration_started", "migration_abandoned", "migration_complete"]);

const isUint = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
const isHex = (v: unknown): boolean => typeof v === "string" && /^([0-9a-f]{2})*$/.test(v);

/** The fields qvis reads of each event we emit, with their types (quic-events draft-03). */
function checkEvent(e: QlogEvent): void {
  const where = `${e.name} at ${e.time}`;
  assert.equal(typeof e.time, "number", `${where}: time`);
  assert.match(e.name, /^(connectivity|transport|recovery|security):[a-z_]+$/, `${where}: name`);
  assert.equal(typeof e.data, "object", `${where}: data`);
  const d = e.data;
  switch (e.name) {
    case "transport:packet_sent":
    case "transport:packet_received":
      assert.ok(PACKET_TYPES.has(d.header?.packet_type), `${where}: packet_type ${d.header?.packet_type}`);
      // Version Negotiation and Retry have no packet number and no frames (quic-events-03 section 5.3.6).
      if (d.header.packet_type === "version_negotiation") {
        assert.ok(Array.isArray(d.supported_versions) && d.supported_versions.length > 0, `${where}: supported_versions`);
        for (const v of d.supported_versions) assert.match(v, /^[0-9a-f]{1,8}$/, `${where}: version ${v}`);
        assert.ok(isHex(d.header.dcid) && isHex(d.header.scid), `${where}: CIDs`);
        break;
      }
      if (d.header.packet_type === "retry") {
        assert.ok(d.retry_token?.type === "retry" && isHex(d.retry_token.data) && d.retry_token.length === d.retry_token.data.length / 2, `${where}: retry_token`);
        assert.ok(isHex(d.header.dcid) && isHex(d.header.scid) && typeof d.header.version === "string", `${where}: header`);
        break;
      }
      assert.ok(isUint(d.header.packet_number), `${where}: packet_number`);
      assert.ok(isHex(d.header.dcid), `${where}: dcid`);
      assert.ok(isUint(d.raw?.length) && d.raw.length > 0, `${where}: raw.length`);
      assert.ok(Array.isArray(d.frames) && d.frames.length > 0, `${where}: frames`);
      for (const f of d.frames) {
        assert.ok(FRAME_TYPES.has(f.frame_type), `${where}: frame_type ${f.frame_type}`);
        if (f.frame_type === "ack") {
          assert.ok(typeof f.ack_delay === "number" && Array.isArray(f.acked_ranges) && f.acked_ranges.length > 0, `${where}: ack frame`);
          for (const r of f.acked_ranges) assert.ok(r.length === 2 && isUint(r[0]) && r[0] <= r[1], `${where}: acked range ${JSON.stringify(r)}`);
        }
        if (f.frame_type === "stream") assert.ok(isUint(f.stream_id) && isUint(f.offset) && isUint(f.length) && typeof f.fin === "boolean", `${where}: stream frame`);
        if (f.frame_type === "crypto") assert.ok(isUint(f.offset) && isUint(f.length), `${where}: crypto frame`);
      }
      break;
    case "transport:packet_dropped":
      assert.equal(typeof d.trigger, "string", `${where}: trigger`);
      assert.ok(isUint(d.raw?.length), `${where}: raw.length`);
      break;
    case "transport:parameters_set":
      assert.ok(d.owner === "local" || d.owner === "remote", `${where}: owner`);
      assert.ok(isUint(d.initial_max_data) && isUint(d.max_udp_payload_size) && isHex(d.initial_source_connection_id), `${where}: parameters`);
      break;
    case "transport:version_information":
      assert.ok(typeof d.chosen_version === "string", `${where}: chosen_version`);
      break;
    case "transport:alpn_information":
      assert.ok(Array.isArray(d.client_alpns ?? d.server_alpns), `${where}: alpns`);
      break;
    case "connectivity:connection_started":
      assert.ok(typeof d.dst_ip === "string" && isUint(d.dst_port) && isHex(d.src_cid) && isHex(d.dst_cid), `${where}: addresses and CIDs`);
      break;
    case "connectivity:connection_state_updated":
      assert.ok(STATES.has(d.new), `${where}: new state ${d.new}`);
      break;
    case "connectivity:path_assigned":
      checkPath(where, d);
      break;
    case "connectivity:migration_state_updated":
      assert.ok(MIGRATION_STATES.has(d.new), `${where}: new state ${d.new}`);
      if (d.old !== undefined) assert.ok(MIGRATION_STATES.has(d.old), `${where}: old state ${d.old}`);
      checkPath(where, d);
      break;
    case "connectivity:connection_closed":
      assert.ok(d.owner === "local" || d.owner === "remote", `${where}: owner`);
      assert.equal(typeof d.trigger, "string", `${where}: trigger`);
      break;
    case "recovery:metrics_updated":
      assert.ok(Object.keys(d).length > 0, `${where}: no metric`);
      for (const [k, v] of Object.entries(d)) assert.ok(typeof v === "number" && Number.isFinite(v) && v >= 0, `${where}: ${k} = ${v}`);
      break;
    case "recovery:congestion_state_updated":
      assert.ok(["slow_start", "congestion_avoidance", "application_limited", "recovery"].includes(d.new), `${where}: state ${d.new}`);
      break;
    case "recovery:loss_timer_updated":
      assert.ok(["set", "expired", "cancelled"].includes(d.event_type), `${where}: event_type`);
      if (d.event_type === "set") assert.ok(typeof d.delta === "number" && d.delta >= 0, `${where}: delta ${d.delta}`);
      break;
    case "recovery:packet_lost":
      assert.ok(PACKET_TYPES.has(d.header?.packet_type) && isUint(d.header.packet_number), `${where}: header`);
      break;
    case "security:key_updated":
    case "security:key_discarded":
      assert.match(d.key_type, KEY_TYPES, `${where}: key_type`);
      break;
    default:
      assert.fail(`unexpected event ${e.name}`);
  }
}

/** A path's id and its endpoints, PathEndpointInfo objects (quic-events drafts 07 to 10); the local one is optional. */
function checkPath(where: string, d: Record<string, any>): void {
  assert.equal(typeof d.path_id, "string", `${where}: path_id`);
  const endpoint = (e: Record<string, any> | undefined, side: string): void => {
    assert.equal(typeof e, "object", `${where}: ${side}`);
    const v4 = typeof e!.ip_v4 === "string" && Number.isInteger(e!.port_v4) && e!.port_v4 > 0;
    const v6 = typeof e!.ip_v6 === "string" && Number.isInteger(e!.port_v6) && e!.port_v6 > 0;
    assert.ok(v4 !== v6, `${where}: ${side} ${JSON.stringify(e)}`);
  };
  endpoint(d.path_remote, "path_remote");
  if (d.path_local !== undefined) endpoint(d.path_local, "path_local");
}

/** Events named `name`. */
export function named(events: QlogEvent[], name: string): QlogEvent[] {
  return events.filter((e) => e.name === name);
}

/** Packets sent that statistics count: those without CONNECTION_CLOSE (which are not tracked by recovery). */
export function countedSent(events: QlogEvent[]): number {
  return named(events, "transport:packet_sent").filter((e) => !e.data.frames.some((f: any) => f.frame_type === "connection_close")).length;
}

/** A tracer factory keeping each connection's qlog text in memory. */
export interface MemoryTraces {
  factory: TracerFactory;
  /** The trace of `c`, parsed and checked. */
  of(c: Connection): ParsedQlog;
  /** Connections whose trace was finished. */
  finished: Set<Connection>;
}

/** Records the qlog of every connection made with `factory` in memory, per connection. */
export function memoryTraces(): MemoryTraces {
  const text = new Map<Connection, string>();
  const finished = new Set<Connection>();
  const factory: TracerFactory = (start) => {
    const c = start.connection;
    text.set(c, "");
    return new QlogTracer(start, { write: (r) => text.set(c, text.get(c)! + r), finish: () => finished.add(c) });
  };
  return { factory, finished, of: (c) => parseQlog(text.get(c) ?? assert.fail("no trace of that connection")) };
}
