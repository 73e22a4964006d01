import { test } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../src/quic/connection.js";
import { resolveConfig } from "../../src/quic/config.js";
import { TransportErrorCode } from "../../src/quic/errors.js";
import { parsePacketHeader } from "../../src/quic/packet/index.js";
import { PacketNumberSpace } from "../../src/quic/recovery/constants.js";
import type { OutgoingDatagram, PathInfo, SansIo } from "../../src/quic/types.js";
import { SimulatedLink } from "../../src/testing/link.js";
import { drain, establish, makePair, packetTypesIn, Spy, stripShortHeaderPacket, testConfigs } from "./harness.js";
import { Endpoint } from "../../src/quic/endpoint.js";
import { randomConnectionId } from "../../src/quic/cid.js";

test("client and server complete a handshake over a simulated link", () => {
  const p = makePair();
  establish(p);
  assert.equal(p.conn.alpnProtocol, "test");
  assert.equal(p.serverConn()!.alpnProtocol, "test");
});

test("both sides emit exactly one handshake_done event", () => {
  const p = makePair();
  const server = establish(p);
  p.link.run(() => false, 1_000);
  const count = (c: Connection) => drain(c).filter((e) => e.type === "handshake_done").length;
  assert.equal(count(p.conn), 1);
  assert.equal(count(server), 1);
});

test("transport parameters are exchanged: each side sees the other's settings and connection IDs", () => {
  const p = makePair({
    clientConfig: { transport: { maxIdleTimeout: 12_000, initialMaxData: 555_555, initialMaxStreamsBidi: 17, initialMaxStreamDataBidiLocal: 70_000, maxAckDelay: 20, activeConnectionIdLimit: 3 } },
    serverConfig: { transport: { maxIdleTimeout: 9_000, initialMaxData: 444_444, initialMaxStreamsUni: 5, initialMaxStreamDataBidiRemote: 80_000, ackDelayExponent: 5, activeConnectionIdLimit: 5 } },
  });
  const server = establish(p);
  const fromServer = p.conn.peerParams!;
  assert.equal(fromServer.maxIdleTimeout, 9_000);
  assert.equal(fromServer.initialMaxData, 444_444);
  assert.equal(fromServer.initialMaxStreamsUni, 5);
  assert.equal(fromServer.initialMaxStreamDataBidiRemote, 80_000);
  assert.equal(fromServer.ackDelayExponent, 5);
  assert.equal(fromServer.activeConnectionIdLimit, 5);
  // RFC 9000 section 7.3: the server authenticates the connection IDs of the handshake.
  assert.deepEqual(fromServer.initialSourceConnectionId, server.sourceConnectionIds[0]);
  assert.ok(fromServer.originalDestinationConnectionId && fromServer.originalDestinationConnectionId.length >= 8);
  assert.equal(fromServer.retrySourceConnectionId, undefined);
  assert.ok(fromServer.statelessResetToken && fromServer.statelessResetToken.length === 16);

  const fromClient = server.peerParams!;
  assert.equal(fromClient.maxIdleTimeout, 12_000);
  assert.equal(fromClient.initialMaxData, 555_555);
  assert.equal(fromClient.initialMaxStreamsBidi, 17);
  assert.equal(fromClient.initialMaxStreamDataBidiLocal, 70_000);
  assert.equal(fromClient.maxAckDelay, 20);
  assert.equal(fromClient.activeConnectionIdLimit, 3);
  assert.deepEqual(fromClient.initialSourceConnectionId, p.conn.sourceConnectionIds[0]);
  // A client sends none of the server-only parameters (RFC 9000 section 18.2).
  assert.equal(fromClient.originalDestinationConnectionId, undefined);
  assert.equal(fromClient.statelessResetToken, undefined);

  // The limits are applied: the client may open 100 streams (server default), the server 17.
  assert.equal(p.conn.streams.availableStreams(true), 100);
  assert.equal(server.streams.availableStreams(true), 17);
  assert.equal(server.streams.availableStreams(false), 100);
  assert.equal(p.conn.streams.availableStreams(false), 5);
  // Each side keeps the peer supplied with CIDs up to the peer's active_connection_id_limit (RFC 9000 section 5.1.1).
  p.link.run(() => false, 1_000);
  assert.equal(server.sourceConnectionIds.length, 3);
  assert.equal(p.conn.sourceConnectionIds.length, 5);
});

/** A server that accepts one connection itself, claiming in its transport parameters a Retry that never happened. */
class LyingServer implements SansIo {
  conn: Connection | undefined;
  private readonly config = resolveConfig(testConfigs().server);

  recv(datagram: Uint8Array, path: PathInfo, now: number): void {
    if (!this.conn) {
      const h = parsePacketHeader(datagram, 0, datagram.length, 8);
      this.conn = Connection.accept({
        config: this.config,
        remote: path.from,
        now,
        scid: randomConnectionId(8),
        initialDcid: h.dcid.slice(),
        peerScid: h.scid.slice(),
        version: h.version,
        retry: { originalDcid: h.dcid.slice(), retrySourceCid: randomConnectionId(8) },
        statelessResetKey: new Uint8Array(32),
      });
    }
    this.conn.recv(datagram, path, now);
  }
  send(now: number): OutgoingDatagram | null {
    return this.conn?.send(now) ?? null;
  }
  timeout(): number | undefined {
    return this.conn?.timeout();
  }
  onTimeout(now: number): void {
    this.conn?.onTimeout(now);
  }
}

test("a client closes with TRANSPORT_PARAMETER_ERROR when the server claims a Retry that never happened", () => {
  const client = new Endpoint({ config: testConfigs().client });
  const server = new LyingServer();
  const link = new SimulatedLink(client, server, { aToB: { delay: 10 }, bToA: { delay: 10 } });
  const conn = client.connect({ serverName: "localhost", remote: link.address(1), now: link.now });
  link.run(() => conn.isClosing && (server.conn?.isClosing ?? false), 5_000);
  assert.equal(conn.isEstablished, false);
  assert.equal(conn.closeInfo?.errorCode, TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
  assert.equal(conn.closeInfo?.remote, false);
  assert.match(conn.closeInfo?.reason ?? "", /retry_source_connection_id/);
  // The server learns why (RFC 9000 section 10.2.3: CONNECTION_CLOSE in a packet it can read).
  assert.equal(server.conn!.closeInfo?.errorCode, TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
  assert.equal(server.conn!.closeInfo?.remote, true);
});

test("Initial keys go when the client first sends a Handshake packet and the server first receives one; Handshake keys at confirmation (RFC 9001 section 4.9)", () => {
  const p = makePair();
  const log: string[] = [];
  p.link.replace(
    0,
    new Spy(p.client, {
      afterSend: (d) => {
        const types = packetTypesIn(d.data);
        if (types.includes("handshake")) {
          assert.equal(p.conn.hasKeys("initial"), false, "client kept Initial keys after sending a Handshake packet");
          log.push("client sent handshake");
        } else if (!log.includes("client sent handshake")) {
          assert.equal(p.conn.hasKeys("initial"), true, "client dropped Initial keys before sending a Handshake packet");
        }
      },
    }),
  );
  p.link.replace(
    1,
    new Spy(p.server, {
      afterRecv: (d) => {
        const s = p.serverConn();
        if (!s) return;
        if (packetTypesIn(d).includes("handshake")) {
          assert.equal(s.hasKeys("initial"), false, "server kept Initial keys after a Handshake packet");
          log.push("server got handshake");
        } else if (!log.includes("server got handshake")) {
          assert.equal(s.hasKeys("initial"), true, "server dropped Initial keys before any Handshake packet");
        }
        // The server confirms at completion and drops Handshake keys then (RFC 9001 section 4.1.2).
        assert.equal(s.hasKeys("handshake"), !s.isEstablished, "server Handshake keys do not follow completion");
      },
    }),
  );
  let clientEstablishedUnconfirmed = false;
  p.link.run(() => {
    if (p.conn.isEstablished && !p.conn.isHandshakeConfirmed) {
      clientEstablishedUnconfirmed = true;
      assert.equal(p.conn.hasKeys("handshake"), true, "client dropped Handshake keys before confirmation");
    }
    return p.conn.isHandshakeConfirmed;
  }, 5_000);
  assert.ok(clientEstablishedUnconfirmed, "the client was never complete-but-unconfirmed");
  assert.deepEqual(log.slice(0, 2).sort(), ["client sent handshake", "server got handshake"]);
  assert.equal(p.conn.hasKeys("initial"), false);
  assert.equal(p.conn.hasKeys("handshake"), false);
  assert.equal(p.conn.hasKeys("oneRtt"), true);
  const s = p.serverConn()!;
  assert.equal(s.isHandshakeConfirmed, true);
  assert.equal(s.hasKeys("initial"), false);
  assert.equal(s.hasKeys("handshake"), false);
});

test("HANDSHAKE_DONE alone confirms the client when none of its 1-RTT packets is acknowledged", () => {
  // Strip the client's 1-RTT packets from every datagram: the server can only confirm it by HANDSHAKE_DONE.
  const p = makePair({ aToB: { delay: 10, tamper: (d) => stripShortHeaderPacket(d) } });
  const ok = p.link.run(() => p.conn.isHandshakeConfirmed, 5_000);
  assert.ok(ok, "client never confirmed the handshake");
  assert.equal(p.conn.recovery.largestAcked(PacketNumberSpace.Application), -1, "a 1-RTT ACK, not HANDSHAKE_DONE, confirmed the client");
  assert.equal(p.conn.hasKeys("handshake"), false);
});

test("every client datagram carrying an Initial, and the server's first flight, is at least 1200 bytes (RFC 9000 section 14.1)", () => {
  const sizes: Array<{ who: string; size: number; types: string[] }> = [];
  const p = makePair({
    aToB: { delay: 10, tamper: (d) => (sizes.push({ who: "client", size: d.length, types: packetTypesIn(d) }), d) },
    bToA: { delay: 10, tamper: (d) => (sizes.push({ who: "server", size: d.length, types: packetTypesIn(d) }), d) },
  });
  establish(p);
  const clientInitials = sizes.filter((s) => s.who === "client" && s.types.includes("initial"));
  assert.ok(clientInitials.length >= 2);
  for (const s of clientInitials) assert.ok(s.size >= 1200, `client Initial datagram of ${s.size} bytes`);
  const firstServer = sizes.find((s) => s.who === "server")!;
  assert.ok(firstServer.types.includes("initial") && firstServer.size >= 1200, `server's first datagram is ${firstServer.size} bytes`);
});

test("an established connection with nothing to say sends nothing: ACKs are not answered with ACKs (RFC 9000 section 13.2.1)", () => {
  const p = makePair();
  establish(p);
  p.link.run(() => false, 2_000);
  const before = p.link.stats[0].sent + p.link.stats[1].sent;
  p.link.run(() => false, 10_000);
  assert.equal(p.link.stats[0].sent + p.link.stats[1].sent, before);
  assert.ok(p.conn.isEstablished);
});

for (const seed of [1, 2, 3]) {
  test(`the handshake completes with 30% loss in both directions (seed ${seed})`, () => {
    const p = makePair({ aToB: { delay: 15, loss: 0.3 }, bToA: { delay: 15, loss: 0.3 }, seed });
    establish(p, 10_000);
    p.link.run(() => p.conn.isHandshakeConfirmed, 10_000);
    assert.ok(p.conn.isHandshakeConfirmed);
  });
}
