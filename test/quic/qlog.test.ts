import { test } from "node:test";
import assert from "node:assert/strict";
import { QlogTracer } from "../../src/quic/qlog/qlog.js";
import type { TracerFactory } from "../../src/quic/qlog/tracer.js";
import { drain, establish, makePair, transfer } from "./harness.js";
import { countedSent, named, parseQlog, type ParsedQlog } from "./qlog-schema.js";

/** A tracer factory keeping each connection's qlog text in memory, by role. */
function memoryTraces(): { factory: TracerFactory; text: Map<string, string>; finished: Set<string> } {
  const text = new Map<string, string>();
  const finished = new Set<string>();
  const factory: TracerFactory = (start) => {
    const role = start.connection.role;
    text.set(role, "");
    return new QlogTracer(start, { write: (r) => text.set(role, text.get(role)! + r), finish: () => finished.add(role) });
  };
  return { factory, text, finished };
}

test("qlog of a lossy transfer: JSON-SEQ records in time order, the required events, and packet counts equal to the statistics", () => {
  const traces = memoryTraces();
  const cond = { delay: 10, loss: 0.05 };
  const p = makePair({ config: { tracer: traces.factory }, aToB: cond, bToA: cond, seed: 11 });
  const server = establish(p, 10_000);
  const r = transfer(p, server, { streams: 2, bytesPerStream: 200_000 });
  assert.ok(r.completed && r.intact);
  p.link.run(() => false, 1_000);
  drain(p.conn);
  p.conn.close(0, "done", p.link.now);
  p.link.run(() => p.conn.isClosed && server.isClosed, 10_000);
  assert.ok(p.conn.isClosed && server.isClosed, "both sides reach the closed state");
  assert.deepEqual([...traces.finished].sort(), ["client", "server"], "each trace is finished when its connection closes");

  for (const [role, conn] of [["client", p.conn], ["server", server]] as const) {
    const q: ParsedQlog = parseQlog(traces.text.get(role)!);
    assert.equal(q.header.trace.vantage_point.type, role);
    const names = new Set(q.events.map((e) => e.name));
    for (const required of [
      "connectivity:connection_started",
      "connectivity:connection_state_updated",
      "connectivity:connection_closed",
      "transport:parameters_set",
      "transport:packet_sent",
      "transport:packet_received",
      "transport:version_information",
      "transport:alpn_information",
      "recovery:metrics_updated",
      "recovery:congestion_state_updated",
      "recovery:loss_timer_updated",
      "security:key_updated",
      "security:key_discarded",
    ]) {
      assert.ok(names.has(required), `${role} trace lacks ${required}`);
    }
    const stats = conn.stats();
    assert.equal(countedSent(q.events), stats.packetsSent, `${role}: packet_sent events vs packets sent`);
    assert.equal(named(q.events, "transport:packet_received").length, stats.packetsReceived, `${role}: packet_received events vs packets received`);
    assert.equal(named(q.events, "transport:packet_dropped").length, stats.packetsDropped, `${role}: packet_dropped events vs packets dropped`);
    assert.equal(named(q.events, "recovery:packet_lost").length, stats.packetsLost, `${role}: packet_lost events vs packets lost`);
    const params = named(q.events, "transport:parameters_set");
    assert.deepEqual(params.map((e) => e.data.owner), ["local", "remote"]);
    const states = named(q.events, "connectivity:connection_state_updated").map((e) => e.data.new);
    assert.ok(states.includes("handshake_complete") && states.includes("handshake_confirmed") && states.at(-1) === "closed", `${role} states: ${states}`);
    // Every STREAM byte the client sent is in its trace: 2 x 200,000 plus the retransmissions.
    if (role === "client") {
      let streamBytes = 0;
      for (const e of named(q.events, "transport:packet_sent")) for (const f of e.data.frames) if (f.frame_type === "stream") streamBytes += f.length;
      assert.equal(streamBytes, 400_000 + stats.retransmittedBytes - countCryptoRetransmit(q), "STREAM bytes in packet_sent frames");
    }
  }
  const client = parseQlog(traces.text.get("client")!);
  assert.ok(named(client.events, "recovery:packet_lost").length > 0, "5% loss but no packet_lost event");
  const keyTypes = new Set(named(client.events, "security:key_updated").map((e) => e.data.key_type));
  for (const k of ["client_initial_secret", "server_initial_secret", "client_handshake_secret", "server_handshake_secret", "client_1rtt_secret", "server_1rtt_secret"]) {
    assert.ok(keyTypes.has(k), `client trace lacks key_updated ${k}`);
  }
  const closed = named(client.events, "connectivity:connection_closed")[0]!;
  assert.deepEqual({ owner: closed.data.owner, trigger: closed.data.trigger, reason: closed.data.reason }, { owner: "local", trigger: "clean", reason: "done" });
  assert.equal(client.header.trace.common_fields.ODCID.length, 16, "the trace is named by the 8-byte original DCID");
});

/** CRYPTO bytes sent again, which the statistics count with STREAM retransmissions. */
function countCryptoRetransmit(q: ParsedQlog): number {
  const seen = new Map<string, number>();
  let again = 0;
  for (const e of named(q.events, "transport:packet_sent")) {
    for (const f of e.data.frames) {
      if (f.frame_type !== "crypto") continue;
      const key = `${e.data.header.packet_type}:${f.offset}`;
      if (seen.has(key)) again += f.length;
      seen.set(key, f.length);
    }
  }
  return again;
}

test("a key update shows in the qlog as key_updated with the new generation, local on one side and remote on the other", () => {
  const traces = memoryTraces();
  const p = makePair({ config: { tracer: traces.factory } });
  const server = establish(p);
  p.link.run(() => false, 200);
  assert.ok(p.conn.updateKey(), "the key update was refused");
  p.conn.ping();
  p.link.run(() => server.keyPhase === 1 && p.conn.stats().keyUpdates === 1, 2_000);
  p.link.run(() => false, 200);
  const oneRtt = (role: string) =>
    named(parseQlog(traces.text.get(role)!).events, "security:key_updated")
      .filter((e) => e.data.key_type.endsWith("1rtt_secret") && e.data.generation === 1)
      .map((e) => `${e.data.key_type}:${e.data.trigger}`)
      .sort();
  assert.deepEqual(oneRtt("client"), ["client_1rtt_secret:local_update", "server_1rtt_secret:remote_update"]);
  assert.deepEqual(oneRtt("server"), ["client_1rtt_secret:remote_update", "server_1rtt_secret:remote_update"]);
});

test("without a tracer a connection has none, and the configuration makes none", () => {
  const p = makePair();
  const server = establish(p);
  assert.equal(p.conn.tracer, undefined);
  assert.equal(server.tracer, undefined);
});
