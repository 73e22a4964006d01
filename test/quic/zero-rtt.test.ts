// 0-RTT, resumption and NEW_TOKEN over the in-memory link (RFC 9001 section 4.6, RFC 9000 sections 7.4.1 and 8.1.3).
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveConfig, type ConnectionConfig } from "../../src/quic/config.js";
import type { Connection, ConnectionEvent } from "../../src/quic/connection.js";
import { Endpoint } from "../../src/quic/endpoint.js";
import { parsePacketHeader } from "../../src/quic/packet/index.js";
import type { SessionTicket } from "../../src/tls/ticket.js";
import { SimulatedLink } from "../../src/testing/link.js";
import { drain, establish, lastAccepted, makePair, packetTypesIn, testConfigs, type Pair } from "./harness.js";
import { memoryTraces, named } from "./qlog-schema.js";

const REQUEST = new TextEncoder().encode("GET /early\n");

/** Runs a first connection to completion and returns the ticket and NEW_TOKEN token it left. */
function firstSession(p: Pair): { ticket: SessionTicket; token: Uint8Array | undefined } {
  establish(p);
  const events: ConnectionEvent[] = [];
  assert.ok(p.link.run(() => drain(p.conn, events).some((e) => e.type === "session_ticket"), 2000), "no session ticket arrived");
  const last = events.filter((e) => e.type === "session_ticket").pop()!;
  assert.ok(last.type === "session_ticket");
  p.conn.close(0, "", p.link.now);
  p.link.run(() => p.conn.isClosed, 2000);
  return { ticket: last.ticket, token: last.token };
}

/** A second connection from the same client endpoint with the ticket, writing REQUEST on stream 0 before any packet leaves. */
function resume(p: Pair, session: { ticket: SessionTicket; token: Uint8Array | undefined }, earlyData = true): Connection {
  const c = p.client.connect({ serverName: "localhost", remote: p.link.address(1), now: p.link.now, sessionTicket: session.ticket, ...(session.token ? { token: session.token } : {}), earlyData });
  const s = c.openStream(true);
  if (s) c.streamWrite(s.id, REQUEST, true);
  return c;
}

/** The bytes the server read on stream 0 of `server`, once it has them all. */
function readRequest(p: Pair, server: () => Connection | undefined): string {
  let got = "";
  const ok = p.link.run(() => {
    const c = server();
    if (!c) return false;
    for (let r = c.streamRead(0); r; r = c.streamRead(0)) {
      got += new TextDecoder().decode(r.data);
      if (r.fin) return true;
    }
    return false;
  }, 5000);
  assert.ok(ok, `the server never read the request (got ${JSON.stringify(got)})`);
  return got;
}

function earlyPair(extra: { server?: Partial<ConnectionConfig>; config?: Partial<ConnectionConfig>; recordUp?: Array<string[]> } = {}): Pair {
  const up = extra.recordUp;
  return makePair({
    ...(extra.config ? { config: extra.config } : {}),
    serverConfig: { serverTls: { ...testConfigs().server.serverTls!, earlyData: true }, ...(extra.server ?? {}) },
    ...(up ? { aToB: { delay: 25, tamper: (d) => (up.push(packetTypesIn(d)), d) } } : { aToB: { delay: 25 } }),
    bToA: { delay: 25 },
  });
}

test("a resumed client sends stream data in 0-RTT; the server accepts it and reads it before the handshake completes (RFC 9001 section 4.6)", () => {
  const up: string[][] = [];
  const p = earlyPair({ recordUp: up });
  const session = firstSession(p);
  assert.ok(session.ticket.maxEarlyDataSize === 0xffffffff, "the server's ticket does not allow 0-RTT (RFC 9001 section 4.6.1)");
  up.length = 0;
  const c = resume(p, session);
  assert.equal(c.earlyDataStatus, "attempted");
  assert.ok(c.canSendApplicationData);
  assert.deepEqual(up.length, 0);
  const server = () => (p.server.connectionCount > 0 ? lastAccepted(p.server) : undefined);
  assert.equal(readRequest(p, server), "GET /early\n");
  // The request left in the first datagram, coalesced with the Initial.
  assert.deepEqual(up[0], ["initial", "0rtt"]);
  const s = server()!;
  assert.equal(s.earlyDataStatus, "accepted");
  assert.ok(s.receivedInEarlyData(0), "stream 0 is not marked as received in early data");
  assert.ok(p.link.run(() => c.isEstablished && s.isEstablished, 2000));
  const events = drain(c);
  const early = events.find((e) => e.type === "early_data");
  assert.deepEqual(early, { type: "early_data", accepted: true });
  assert.ok(events.findIndex((e) => e.type === "early_data") < events.findIndex((e) => e.type === "handshake_done"), "early_data must come before handshake_done");
  assert.equal(c.earlyDataStatus, "accepted");
  assert.ok(c.tls.resumed && s.tls.resumed);
  // The request crossed once: nothing was sent again.
  assert.equal(c.stats().retransmittedBytes, 0);
});

test("a server that turned early data off since issuing the ticket rejects 0-RTT; the client sends the data again in 1-RTT and says so", () => {
  const p = earlyPair();
  const session = firstSession(p);
  // The same server (same ticket keys) restarted with 0-RTT off.
  const off = new Endpoint({ config: { ...testConfigs().server, serverTls: { ...p.server.config.serverTls!, earlyData: false } } });
  p.link.replace(1, off);
  const c = resume(p, session);
  assert.equal(c.earlyDataStatus, "attempted");
  const server = () => (off.connectionCount > 0 ? lastAccepted(off) : undefined);
  assert.equal(readRequest(p, server), "GET /early\n");
  const s = server()!;
  assert.equal(s.earlyDataStatus, "none");
  assert.equal(s.receivedInEarlyData(0), false, "the request came in 1-RTT");
  assert.ok(s.tls.resumed, "the PSK is still accepted: only 0-RTT is refused");
  const events = drain(c);
  assert.deepEqual(events.find((e) => e.type === "early_data"), { type: "early_data", accepted: false });
  assert.equal(c.earlyDataStatus, "rejected");
  assert.ok(c.stats().retransmittedBytes >= REQUEST.length, "the early data was not counted as sent again");
});

test("0-RTT is rejected when the server's limits are now lower than those in the ticket, and the data is sent again in 1-RTT (RFC 9000 section 7.4.1)", () => {
  const p = earlyPair();
  const session = firstSession(p);
  // Same server, same ticket keys, but a reconfiguration lowered a limit the client's 0-RTT relies on.
  const cfg = testConfigs();
  const lowered = new Endpoint({
    config: { ...cfg.server, serverTls: { ...p.server.config.serverTls!, earlyData: true }, transport: { initialMaxStreamsBidi: 10 } },
  });
  p.link.replace(1, lowered);
  const c = resume(p, session);
  const server = () => (lowered.connectionCount > 0 ? lastAccepted(lowered) : undefined);
  assert.equal(readRequest(p, server), "GET /early\n");
  assert.equal(server()!.earlyDataStatus, "none");
  assert.ok(p.link.run(() => c.isEstablished, 2000));
  assert.equal(c.earlyDataStatus, "rejected");
  assert.equal(server()!.receivedInEarlyData(0), false);
});

test("0-RTT is rejected when the server now prefers another ALPN; the client's early data cannot be replayed and the connection fails", () => {
  const p = makePair({
    clientConfig: { alpn: ["one", "two"] },
    serverConfig: { alpn: ["one"], serverTls: { ...testConfigs().server.serverTls!, earlyData: true } },
    aToB: { delay: 25 },
    bToA: { delay: 25 },
  });
  const session = firstSession(p);
  assert.equal(session.ticket.alpnProtocol, "one");
  const cfg = testConfigs();
  const other = new Endpoint({ config: { ...cfg.server, alpn: ["two", "one"], serverTls: { ...p.server.config.serverTls!, earlyData: true } } });
  p.link.replace(1, other);
  const c = resume(p, session);
  assert.ok(p.link.run(() => c.isClosing, 3000));
  assert.match(c.closeInfo?.error?.message ?? "", /0-RTT rejected and the server chose ALPN two instead of one/);
  assert.equal(lastAccepted(other)?.receivedInEarlyData(0), false);
});

test("a ticket allows early data once: a second 0-RTT attempt with it is refused and falls back to 1-RTT (RFC 8446 section 8.1)", () => {
  const p = earlyPair();
  const session = firstSession(p);
  const first = resume(p, session);
  assert.ok(p.link.run(() => first.isEstablished, 3000));
  assert.equal(first.earlyDataStatus, "accepted");
  first.close(0, "", p.link.now);
  const replay = resume(p, session);
  const server = () => lastAccepted(p.server);
  assert.ok(p.link.run(() => replay.isEstablished, 3000));
  assert.equal(replay.earlyDataStatus, "rejected");
  assert.equal(readRequest(p, server), "GET /early\n");
  assert.equal(server()!.receivedInEarlyData(0), false);
  assert.ok(server()!.tls.resumed, "resumption itself is still allowed");
});

test("a replayed 0-RTT flight (the same datagrams sent again) gets no early data accepted", () => {
  const first: Uint8Array[] = [];
  let capture = false;
  const p = earlyPair();
  const session = firstSession(p);
  p.link.setConditions(0, { delay: 25, tamper: (d) => (capture && first.push(new Uint8Array(d)), d) });
  capture = true;
  const c = resume(p, session);
  assert.ok(p.link.run(() => c.isEstablished, 3000));
  capture = false;
  assert.equal(c.earlyDataStatus, "accepted");
  // Once the original connection is gone, its Initial's DCID routes nowhere and a replay makes a new server connection.
  c.close(0, "", p.link.now);
  assert.ok(p.link.run(() => p.server.connectionCount === 0, 5000), "the server kept the first connection");
  const before = p.server.stats.serverConnections;
  // An attacker replays the client's first datagram (Initial + 0-RTT) from another address.
  const attacker = new Endpoint({ config: testConfigs().client });
  const link2 = new SimulatedLink(attacker, p.server, { aToB: { delay: 5 }, bToA: { delay: 5 }, seed: 3 });
  link2.now = p.link.now;
  link2.inject(0, first[0]!);
  link2.run(() => false, 200);
  assert.equal(p.server.stats.serverConnections, before + 1, "the replayed Initial did not reach a new server connection");
  const replayed = lastAccepted(p.server)!;
  assert.equal(replayed.earlyDataStatus, "none", "the replayed ClientHello had its 0-RTT accepted");
  assert.equal(replayed.receivedInEarlyData(0), false);
  assert.equal(replayed.streamRead(0), null, "replayed early data reached the application");
});

test("early data larger than one packet goes out in several 0-RTT packets, all accepted", () => {
  const p = earlyPair();
  const session = firstSession(p);
  const c = p.client.connect({ serverName: "localhost", remote: p.link.address(1), now: p.link.now, sessionTicket: session.ticket, earlyData: true });
  const s = c.openStream(true)!;
  c.streamWrite(s.id, new Uint8Array(5000).fill(7), true);
  let total = 0;
  const ok = p.link.run(() => {
    const sc = lastAccepted(p.server);
    if (!sc) return false;
    for (let r = sc.streamRead(0); r; r = sc.streamRead(0)) {
      total += r.data.length;
      if (r.fin) return true;
    }
    return false;
  }, 3000);
  assert.ok(ok);
  assert.equal(total, 5000);
  const server = lastAccepted(p.server)!;
  assert.equal(server.earlyDataStatus, "accepted");
  assert.ok(server.receivedInEarlyData(0));
  // The server acknowledges the 0-RTT packets in 1-RTT packets; that must not confirm the client's handshake
  // before its Finished is sent (only an acknowledged 1-RTT packet does, RFC 9001 section 4.1.2).
  assert.ok(p.link.run(() => c.isHandshakeConfirmed && server.isEstablished, 3000), `server ${server.state}, client confirmed ${c.isHandshakeConfirmed}`);
});

test("a NEW_TOKEN token lets the next connection skip Retry (RFC 9000 section 8.1.3); a bad token is ignored, not fatal", () => {
  const tokens: Uint8Array[] = [];
  const p = makePair({
    serverOptions: { requireRetry: true },
    aToB: {
      delay: 10,
      tamper: (d) => {
        const h = parsePacketHeader(d, 0, d.length, 8);
        if (packetTypesIn(d)[0] === "initial") tokens.push(h.token.slice());
        return d;
      },
    },
  });
  const session = firstSession(p);
  assert.equal(p.server.stats.retriesSent, 1);
  assert.ok(session.token && session.token.length > 0, "the server sent no NEW_TOKEN token");
  tokens.length = 0;
  const c = resume(p, session, false);
  assert.ok(p.link.run(() => c.isEstablished, 3000));
  assert.equal(p.server.stats.retriesSent, 1, "the server asked for a Retry despite a valid NEW_TOKEN token");
  assert.deepEqual(tokens[0], session.token);
  assert.ok(lastAccepted(p.server)!.isAddressValidated, "a valid NEW_TOKEN token validates the address");
  // A corrupted token: the server falls back to Retry and the connection still completes.
  const bad = session.token!.slice();
  bad[bad.length - 1]! ^= 1;
  const d = resume(p, { ticket: session.ticket, token: bad }, false);
  assert.ok(p.link.run(() => d.isEstablished, 3000));
  assert.equal(p.server.stats.retriesSent, 2);
});

test("a Retry token is not accepted as a NEW_TOKEN token, nor the reverse", async () => {
  const { AddressTokens } = await import("../../src/quic/address-token.js");
  const t = new AddressTokens();
  const from = { address: "192.0.2.1", port: 4433 };
  const retry = t.sealRetry(new Uint8Array(8), new Uint8Array(8), from, 0);
  const fresh = t.sealNewToken(from, 0);
  assert.equal(t.openNewToken(retry, from, 0), false);
  assert.equal(t.openRetry(fresh, from, 0), undefined);
  // Flipping the kind byte breaks authentication.
  const flipped = retry.slice();
  flipped[0] = 0x02;
  assert.equal(t.openNewToken(flipped, from, 0), false);
  // NEW_TOKEN tokens are bound to the IP address, not the port, and expire.
  assert.equal(t.openNewToken(fresh, { address: "192.0.2.1", port: 5555 }, 1000), true);
  assert.equal(t.openNewToken(fresh, { address: "192.0.2.2", port: 4433 }, 1000), false);
  assert.equal(t.openNewToken(fresh, from, 25 * 3600_000), false);
});

test("when the datagram with the Initial and the 0-RTT data is lost, the handshake and the early data still get through", () => {
  let dropFirst = false;
  let dropped = 0;
  const p = earlyPair();
  const session = firstSession(p);
  p.link.setConditions(0, {
    delay: 25,
    drop: () => {
      if (!dropFirst) return false;
      dropFirst = false;
      dropped++;
      return true;
    },
  });
  dropFirst = true;
  const c = resume(p, session);
  const server = () => (p.server.stats.serverConnections > 1 ? lastAccepted(p.server) : undefined);
  assert.equal(readRequest(p, server), "GET /early\n");
  assert.equal(dropped, 1);
  assert.ok(p.link.run(() => c.isHandshakeConfirmed, 5000));
});

test("sessions round-trip through encodeResumptionState; malformed bytes are refused with a DecodeError, and toResumptionState (what quic() uses) ignores them", async () => {
  const { encodeResumptionState, decodeResumptionState, toResumptionState } = await import("../../src/quic/resumption.js");
  const { DecodeError } = await import("../../src/util/errors.js");
  const p = earlyPair();
  const session = firstSession(p);
  const bytes = encodeResumptionState({ ticket: session.ticket, token: session.token! });
  const back = decodeResumptionState(bytes);
  assert.deepEqual(back.ticket, session.ticket);
  assert.deepEqual(back.token, session.token);
  for (let cut = 0; cut < bytes.length; cut += 7) assert.throws(() => decodeResumptionState(bytes.subarray(0, cut)), DecodeError);
  assert.equal(toResumptionState(new Uint8Array([1, 2, 3])), undefined);
});

test("the anti-replay store refuses a ticket's second use and, when full of live tickets, any new one (RFC 8446 section 8)", async () => {
  const { ReplayGuard } = await import("../../src/quic/early-data.js");
  const g = new ReplayGuard(2);
  const t = (n: number): Uint8Array => new Uint8Array(32).fill(n);
  assert.equal(g.claim(t(1), 1000, 0), true);
  assert.equal(g.claim(t(1), 1000, 10), false, "a ticket allowed early data twice");
  assert.equal(g.claim(t(2), 2000, 10), true);
  assert.equal(g.claim(t(3), 3000, 20), false, "a full store accepted another ticket");
  // Once the first ticket expired, its slot is free again; the expired ticket itself can no longer be resumed anyway.
  assert.equal(g.claim(t(3), 3000, 1500), true);
  assert.equal(g.size, 2);
});

test("0-RTT data sent before a Retry goes again after it, to the new connection ID, and is accepted", () => {
  const p = makePair({
    serverOptions: { requireRetry: true, newTokens: false },
    serverConfig: { serverTls: { ...testConfigs().server.serverTls!, earlyData: true } },
    aToB: { delay: 25 },
    bToA: { delay: 25 },
  });
  const session = firstSession(p);
  assert.equal(session.token, undefined, "newTokens: false still sent a NEW_TOKEN token");
  const c = resume(p, session);
  const server = () => (p.server.stats.serverConnections > 1 ? lastAccepted(p.server) : undefined);
  assert.equal(readRequest(p, server), "GET /early\n");
  assert.equal(p.server.stats.retriesSent, 2);
  assert.equal(server()!.earlyDataStatus, "accepted");
  assert.ok(server()!.receivedInEarlyData(0));
  assert.ok(p.link.run(() => c.isHandshakeConfirmed, 3000));
});

test("a DATAGRAM frame queued before the handshake goes in 0-RTT under the remembered max_datagram_frame_size (RFC 9221 section 3)", () => {
  const p = makePair({
    config: { transport: { maxDatagramFrameSize: 1200 } },
    serverConfig: { serverTls: { ...testConfigs().server.serverTls!, earlyData: true } },
    aToB: { delay: 25 },
    bToA: { delay: 25 },
  });
  const session = firstSession(p);
  const c = p.client.connect({ serverName: "localhost", remote: p.link.address(1), now: p.link.now, sessionTicket: session.ticket, earlyData: true });
  assert.ok(c.maxDatagramSize > 0, "no datagram size from the remembered parameters");
  assert.equal(c.sendDatagram(new TextEncoder().encode("early datagram")), true);
  let got: string | undefined;
  let atEstablished: boolean | undefined;
  assert.ok(
    p.link.run(() => {
      const s = p.server.stats.serverConnections > 1 ? lastAccepted(p.server) : undefined;
      for (let e = s?.poll(); e; e = s!.poll()) {
        if (e.type === "datagram") {
          got = new TextDecoder().decode(e.data);
          atEstablished = s!.isEstablished;
        }
      }
      return got !== undefined;
    }, 3000),
  );
  assert.equal(got, "early datagram");
  assert.equal(atEstablished, false, "the datagram did not arrive in 0-RTT");
});

test("0-RTT packets that arrive before the ClientHello is complete are buffered up to maxUndecryptablePackets; the rest are dropped and sent again", () => {
  // A ClientHello over two Initial packets (a long ALPN list), the second one lost: the server holds a half ClientHello.
  const alpn = [...Array.from({ length: 12 }, (_, i) => `padding-protocol-${i}-${"x".repeat(90)}`), "test"];
  let index = 0;
  const cfg = testConfigs();
  const client = new Endpoint({ config: { ...cfg.client, alpn } });
  // A resolved config, so the small bound is taken as given.
  const serverEndpoint = new Endpoint({ config: resolveConfig({ ...cfg.server, serverTls: { ...cfg.server.serverTls!, earlyData: true }, maxUndecryptablePackets: 4 }) });
  const link = new SimulatedLink(client, serverEndpoint, { aToB: { delay: 25 }, bToA: { delay: 25 }, seed: 5 });
  const conn = client.connect({ serverName: "localhost", remote: link.address(1), now: link.now });
  const p: Pair = { client, server: serverEndpoint, link, conn, serverConn: () => lastAccepted(serverEndpoint), clientKeylog: [] };
  const session = firstSession(p);
  const types: string[][] = [];
  p.link.setConditions(0, {
    delay: 25,
    drop: (_i, d) => {
      index++;
      types.push(packetTypesIn(d));
      return index === 2; // the datagram with the rest of the ClientHello
    },
  });
  const c = p.client.connect({ serverName: "localhost", remote: p.link.address(1), now: p.link.now, sessionTicket: session.ticket, earlyData: true });
  const s = c.openStream(true)!;
  const body = new Uint8Array(20_000).map((_, i) => i & 0xff);
  c.streamWrite(s.id, body, true);
  let total = 0;
  let intact = true;
  assert.ok(
    p.link.run(() => {
      const sc = p.server.stats.serverConnections > 1 ? lastAccepted(p.server) : undefined;
      for (let r = sc?.streamRead(0); r; r = sc!.streamRead(0)) {
        for (let i = 0; i < r.data.length; i++) if (r.data[i] !== ((total + i) & 0xff)) intact = false;
        total += r.data.length;
        if (r.fin) return true;
      }
      return false;
    }, 10_000),
    `the early data never fully arrived (${total} bytes)`,
  );
  assert.ok(types[0]!.includes("initial") && types[1]!.includes("initial"), `the ClientHello took one datagram: ${JSON.stringify(types.slice(0, 3))}`);
  assert.equal(total, body.length);
  assert.ok(intact, "the early data arrived corrupted");
  const server = lastAccepted(p.server)!;
  assert.ok(server.stats().packetsDropped > 0, "nothing beyond the buffer bound was dropped");
  assert.ok(p.link.run(() => c.isHandshakeConfirmed, 5000));
});

test("qlog: 0-RTT packets are logged as 0RTT where they are sent and where they are received, and the 0-RTT keys as key_updated on both sides", () => {
  const traces = memoryTraces();
  const up: string[][] = [];
  const p = earlyPair({ recordUp: up, config: { tracer: traces.factory } });
  const session = firstSession(p);
  up.length = 0;
  const c = resume(p, session);
  const server = () => (p.server.connectionCount > 0 ? lastAccepted(p.server) : undefined);
  assert.equal(readRequest(p, server), "GET /early\n");
  const s = server()!;
  assert.ok(p.link.run(() => c.isHandshakeConfirmed && s.isHandshakeConfirmed, 2000));
  assert.equal(s.earlyDataStatus, "accepted");
  const onWire = up.flat().filter((t) => t === "0rtt").length;
  assert.ok(onWire >= 1);
  const ofType = (conn: Connection, name: string, type: string) => named(traces.of(conn).events, name).filter((e) => e.data.header.packet_type === type);
  const sent = ofType(c, "transport:packet_sent", "0RTT");
  assert.equal(sent.length, onWire, "0-RTT packets on the wire vs 0RTT packet_sent events");
  assert.ok(sent.some((e) => e.data.frames.some((f: any) => f.frame_type === "stream" && f.stream_id === 0 && f.offset === 0)), "the early request is not in a 0RTT packet_sent");
  // Each 0-RTT packet has its own number, below those of the 1-RTT packets (the space is shared, RFC 9000 section 12.3).
  const firstOneRtt = Math.min(...ofType(c, "transport:packet_sent", "1RTT").map((e) => e.data.header.packet_number));
  assert.ok(sent.every((e) => e.data.header.packet_number < firstOneRtt));
  assert.equal(ofType(s, "transport:packet_received", "0RTT").length, onWire, "0RTT packet_received events on the server");
  for (const conn of [c, s]) {
    const keys = named(traces.of(conn).events, "security:key_updated").map((e) => e.data.key_type);
    assert.ok(keys.includes("client_0rtt_secret"), `${conn.role} trace lacks key_updated client_0rtt_secret: ${keys}`);
  }
});

test("after a HelloRetryRequest the client sends no more 0-RTT (RFC 8446 section 4.2.10) and its early data goes in 1-RTT", () => {
  const p = earlyPair();
  const session = firstSession(p);
  // The same server (same ticket keys) now wants a secp256r1 share: the client's x25519 one draws a HelloRetryRequest.
  const picky = new Endpoint({ config: { ...testConfigs().server, serverTls: { ...p.server.config.serverTls!, earlyData: true, groups: ["secp256r1"] } } });
  p.link.replace(1, picky);
  let retried = false;
  const up: Array<{ afterRetry: boolean; types: string[] }> = [];
  p.link.setConditions(0, { delay: 25, tamper: (d) => (up.push({ afterRetry: retried, types: packetTypesIn(d) }), d) });
  // More early data than the first flight carries: the rest would follow in 0-RTT once the server answers.
  const body = new Uint8Array(40_000).fill(0x61);
  const c = p.client.connect({ serverName: "localhost", remote: p.link.address(1), now: p.link.now, sessionTicket: session.ticket, earlyData: true });
  const recv = c.recv.bind(c);
  c.recv = (datagram, path, now) => {
    const initial = packetTypesIn(datagram)[0] === "initial";
    recv(datagram, path, now);
    if (initial) retried = true;
  };
  const id = c.openStream(true)!.id;
  c.streamWrite(id, body, true);
  assert.equal(c.earlyDataStatus, "attempted");
  let got = 0;
  assert.ok(
    p.link.run(() => {
      const s = picky.connectionCount > 0 ? lastAccepted(picky) : undefined;
      for (let r = s?.streamRead(id); r; r = s!.streamRead(id)) got += r.data.length;
      return got === body.length && c.isEstablished;
    }, 5000),
    `the server read ${got} of ${body.length} bytes`,
  );
  assert.ok(retried, "no HelloRetryRequest reached the client");
  assert.ok(up.some((u) => !u.afterRetry && u.types.includes("0rtt")), "the client never tried 0-RTT");
  const late = up.filter((u) => u.afterRetry && u.types.includes("0rtt")).length;
  assert.equal(late, 0, `${late} datagrams with 0-RTT packets after the HelloRetryRequest`);
  const s = lastAccepted(picky)!;
  assert.ok(s.tls.resumed, "the PSK survives the HelloRetryRequest");
  assert.equal(s.receivedInEarlyData(id), false);
  assert.equal(c.earlyDataStatus, "rejected");
  assert.deepEqual(drain(c).find((e) => e.type === "early_data"), { type: "early_data", accepted: false });
});
