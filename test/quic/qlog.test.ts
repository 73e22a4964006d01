import { test } from "node:test";
import assert from "node:assert/strict";
import type { Connection } from "../../src/quic/connection.js";
import { parsePacketHeader } from "../../src/quic/packet/index.js";
import { formatAddress } from "../../src/quic/types.js";
import { toHex } from "../../src/util/bytes.js";
import { attackerCopiesNextDatagram, drain, establish, makePair, packetTypesIn, transfer } from "./harness.js";
import { countedSent, memoryTraces, named, type ParsedQlog } from "./qlog-schema.js";

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
  assert.ok(traces.finished.has(p.conn) && traces.finished.has(server), "each trace is finished when its connection closes");

  for (const [role, conn] of [["client", p.conn], ["server", server]] as const) {
    const q: ParsedQlog = traces.of(conn);
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
  const client = traces.of(p.conn);
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
  const oneRtt = (c: Connection) =>
    named(traces.of(c).events, "security:key_updated")
      .filter((e) => e.data.key_type.endsWith("1rtt_secret") && e.data.generation === 1)
      .map((e) => `${e.data.key_type}:${e.data.trigger}`)
      .sort();
  assert.deepEqual(oneRtt(p.conn), ["client_1rtt_secret:local_update", "server_1rtt_secret:remote_update"]);
  assert.deepEqual(oneRtt(server), ["client_1rtt_secret:remote_update", "server_1rtt_secret:remote_update"]);
});

test("without a tracer a connection has none, and the configuration makes none", () => {
  const p = makePair();
  const server = establish(p);
  assert.equal(p.conn.tracer, undefined);
  assert.equal(server.tracer, undefined);
});

test("qlog: a client logs the Retry it acts on as packet_received with its token, and a second copy as packet_dropped", () => {
  const traces = memoryTraces();
  const copies: Uint8Array[] = [];
  const p = makePair({
    config: { tracer: traces.factory },
    serverOptions: { requireRetry: true },
    bToA: { delay: 10, tamper: (d) => (packetTypesIn(d)[0] === "retry" && copies.length === 0 && copies.push(new Uint8Array(d)), d) },
  });
  p.link.run(() => copies.length > 0, 1_000);
  p.link.inject(1, copies[0]!, 15);
  establish(p);
  const q = traces.of(p.conn);
  const retries = named(q.events, "transport:packet_received").filter((e) => e.data.header.packet_type === "retry");
  assert.equal(retries.length, 1);
  const retry = parsePacketHeader(copies[0]!, 0, copies[0]!.length, 8);
  assert.equal(retries[0]!.data.retry_token.data, toHex(retry.token));
  assert.equal(retries[0]!.data.header.scid, toHex(retry.scid));
  assert.equal(retries[0]!.data.raw.length, copies[0]!.length);
  const dropped = named(q.events, "transport:packet_dropped");
  assert.deepEqual(dropped.map((e) => [e.data.header?.packet_type, e.data.trigger]), [["retry", "unexpected_packet"]]);
  assert.equal(p.conn.stats().packetsDropped, 1);
  // The new Initial keys the Retry brings are logged after it.
  const keysAfter = q.events.slice(q.events.indexOf(retries[0]!)).filter((e) => e.name === "security:key_updated").map((e) => e.data.key_type);
  assert.deepEqual(keysAfter.slice(0, 2), ["client_initial_secret", "server_initial_secret"]);
});

test("qlog: a client logs the Version Negotiation packets that end its attempt, with the server's versions", () => {
  const traces = memoryTraces();
  const p = makePair({ config: { tracer: traces.factory }, clientConfig: { versions: [0x1a2a3a4a] } });
  p.link.run(() => p.conn.isClosed, 2_000);
  const q = traces.of(p.conn);
  // The first VN and the one that confirms it (the client asks again before it believes one).
  const vn = named(q.events, "transport:packet_received");
  assert.equal(vn.length, 2);
  for (const v of vn) {
    assert.equal(v.data.header.packet_type, "version_negotiation");
    assert.equal(v.data.supported_versions[0], "1");
    assert.equal(v.data.header.dcid, toHex(p.conn.sourceConnectionIds[0]!));
  }
  const closed = named(q.events, "connectivity:connection_closed");
  assert.equal(closed[0]!.data.trigger, "version_mismatch");
  assert.ok(q.events.indexOf(vn[1]!) < q.events.indexOf(closed[0]!));
});

/** The path events of a trace, in short: name, new migration state, path_id and the remote port. */
function pathEvents(q: ParsedQlog): string[] {
  return q.events
    .filter((e) => e.name === "connectivity:path_assigned" || e.name === "connectivity:migration_state_updated")
    .map((e) => `${e.name.slice(13)} ${e.data.new ?? ""} [${e.data.path_id}] ${e.data.path_remote.ip_v4}:${e.data.path_remote.port_v4}`.replace("  ", " "));
}

test("qlog: a client migration shows as path_assigned and migration_state_updated on both sides", () => {
  const traces = memoryTraces();
  const p = makePair({ config: { tracer: traces.factory } });
  const server = establish(p);
  p.link.run(() => false, 100);
  p.conn.migrate({ address: "10.0.0.9", port: 50_000 }, p.link.now);
  p.link.run(() => server.remote.address === "10.0.0.9" && server.isAddressValidated, 2_000);
  const [client, serverSide] = [`10.0.0.9:50000-${formatAddress(p.link.address(1))}`, `${formatAddress(p.link.address(1))}-10.0.0.9:50000`];
  // The client moves once its probe is answered.
  assert.deepEqual(pathEvents(traces.of(p.conn)), [`path_assigned [${client}] 10.0.0.2:443`, `migration_state_updated migration_complete [${client}] 10.0.0.2:443`]);
  // The server validates the path the client probes, then follows the client there.
  assert.deepEqual(pathEvents(traces.of(server)), [
    `migration_state_updated probing_successful [${serverSide}] 10.0.0.9:50000`,
    `path_assigned [${serverSide}] 10.0.0.9:50000`,
    `migration_state_updated migration_complete [${serverSide}] 10.0.0.9:50000`,
  ]);
});

test("qlog: a server led to a spoofed address logs the move as started, then abandoned, and the handshake path (path_id \"\") assigned again", () => {
  const traces = memoryTraces();
  const p = makePair({ config: { tracer: traces.factory } });
  const server = establish(p);
  const spoofed = { address: "10.66.6.6", port: 6666 };
  // The attacker's copy of a client packet arrives first; the client then falls silent, so the new path fails.
  attackerCopiesNextDatagram(p, spoofed, 1, true);
  p.conn.ping();
  p.link.run(() => server.remote.address === spoofed.address, 1_000);
  p.link.run(() => server.remote.address !== spoofed.address, 10_000);
  const spoofedPath = `${formatAddress(p.link.address(1))}-${formatAddress(spoofed)}`;
  const real = formatAddress(p.link.address(0));
  assert.deepEqual(pathEvents(traces.of(server)), [
    `path_assigned [${spoofedPath}] ${formatAddress(spoofed)}`,
    `migration_state_updated migration_started [${spoofedPath}] ${formatAddress(spoofed)}`,
    `path_assigned [] ${real}`,
    `migration_state_updated migration_abandoned [${spoofedPath}] ${formatAddress(spoofed)}`,
  ]);
  const abandoned = named(traces.of(server).events, "connectivity:migration_state_updated").at(-1)!;
  assert.equal(abandoned.data.old, "migration_started");
});
