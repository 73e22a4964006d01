// Path validation and connection migration (RFC 9000 sections 8.2 and 9) over the simulated link.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Connection, ConnectionEvent } from "../../src/quic/connection.js";
import { MAX_PENDING_PATH_RESPONSES } from "../../src/quic/path/index.js";
import { formatAddress, type SocketAddress } from "../../src/quic/types.js";
import type { TsquicError } from "../../src/util/errors.js";
import { Spy, attackerCopiesNextDatagram, drain, establish, forgeClientPacket, makePair, transfer, type Pair } from "./harness.js";

const KB = 1024;

/** Counts the congestion-controller and RTT resets of `c` (RFC 9000 section 9.4). */
function countPathResets(c: Connection): { count: number } {
  const n = { count: 0 };
  const original = c.recovery.onPathChange.bind(c.recovery);
  c.recovery.onPathChange = (now, sample) => {
    n.count++;
    original(now, sample);
  };
  return n;
}

/** Bytes and datagrams the server endpoint sends, by destination address. */
function watchServerSends(p: Pair): Map<string, { datagrams: number; bytes: number }> {
  const sent = new Map<string, { datagrams: number; bytes: number }>();
  p.link.replace(
    1,
    new Spy(p.server, {
      afterSend: (d) => {
        const k = formatAddress(d.to);
        const e = sent.get(k) ?? { datagrams: 0, bytes: 0 };
        e.datagrams++;
        e.bytes += d.data.length;
        sent.set(k, e);
      },
    }),
  );
  return sent;
}

/** Checks that `server` gave up the path to `spoofed` for the one to `real`, and returns the path_validation_failed event saying so. */
function assertLeftSpoofedPath(server: Connection, spoofed: SocketAddress, real: SocketAddress): Extract<ConnectionEvent, { type: "path_validation_failed" }> {
  const failed = eventOf(drain(server), "path_validation_failed");
  assert.ok(failed, "no path_validation_failed event for the spoofed path");
  assert.deepEqual(failed.path.remote, spoofed);
  assert.deepEqual(failed.active.remote, real);
  assert.deepEqual(server.remote, real);
  return failed;
}

function eventOf<T extends ConnectionEvent["type"]>(events: ConnectionEvent[], type: T): Extract<ConnectionEvent, { type: T }> | undefined {
  return events.find((e) => e.type === type) as Extract<ConnectionEvent, { type: T }> | undefined;
}

for (const [what, moved] of [
  ["a new port", (a: SocketAddress) => ({ address: a.address, port: a.port + 1 })],
  ["a new address", (a: SocketAddress) => ({ address: "10.0.0.77", port: a.port })],
] as const) {
  test(`NAT rebinding to ${what} mid-transfer: the server follows and validates the new address; data intact`, () => {
    const p = makePair();
    const server = establish(p);
    const resets = countPathResets(server);
    const before = p.link.address(0);
    const after = moved(before);
    const rebindAt = p.link.now + 60;
    p.link.schedule(rebindAt, () => {
      // The NAT forgets the old mapping: what the server still sends there is lost.
      p.link.rebind(0, after);
      p.link.unreachable(0, before);
    });
    const serverEvents: ConnectionEvent[] = [];
    const r = transfer(p, server, { streams: 2, bytesPerStream: 512 * KB, echo: true, serverEvents });
    assert.equal(r.error, undefined);
    assert.ok(r.completed && r.intact, "echoed data did not come back intact");
    assert.ok(p.link.now - r.elapsed < rebindAt && p.link.now > rebindAt, "the rebinding did not happen during the transfer");
    assert.deepEqual(server.remote, after);
    const changed = eventOf(serverEvents, "peer_address_changed");
    assert.ok(changed, "no peer_address_changed event on the server");
    assert.deepEqual(changed.previous.remote, before);
    assert.deepEqual(changed.path.remote, after);
    const validated = eventOf(serverEvents, "path_validated");
    assert.ok(validated, "the server did not validate the new address");
    assert.deepEqual(validated.path.remote, after);
    assert.equal(server.isAddressValidated, true);
    // Congestion control and RTT start over unless only the port changed (RFC 9000 section 9.4).
    assert.equal(resets.count, what === "a new port" ? 0 : 1);
  });
}

test("client migration to a new local address: probed under a new CID, switched after validation; the server answers with a new CID too", () => {
  const p = makePair();
  const server = establish(p);
  const newLocal = { address: "10.0.0.9", port: 50_000 };
  const clientCid = p.conn.peerCids.current.sequence;
  const serverCid = server.peerCids.current.sequence;
  p.link.schedule(p.link.now + 60, () => p.conn.migrate(newLocal, p.link.now));
  const clientEvents: ConnectionEvent[] = [];
  const serverEvents: ConnectionEvent[] = [];
  const r = transfer(p, server, { streams: 2, bytesPerStream: 512 * KB, echo: true, clientEvents, serverEvents });
  assert.ok(r.completed && r.intact, r.error ?? "echo incomplete");
  const validated = eventOf(clientEvents, "path_validated");
  assert.ok(validated, "no path_validated event on the client");
  assert.deepEqual(validated.path.local, newLocal);
  assert.equal(validated.preferredAddress, false);
  assert.deepEqual(p.conn.local, newLocal);
  assert.deepEqual(server.remote, newLocal);
  // RFC 9000 section 9.5: neither side uses a CID on two paths.
  assert.notEqual(p.conn.peerCids.current.sequence, clientCid);
  assert.notEqual(server.peerCids.current.sequence, serverCid);
  // The server validated the path the client probed before the client moved there, so it followed at once (RFC 9000 section 9.6.3).
  const validatedAt = serverEvents.findIndex((e) => e.type === "path_validated");
  const movedAt = serverEvents.findIndex((e) => e.type === "peer_address_changed");
  assert.ok(validatedAt >= 0, "the server did not validate the client's new address");
  assert.ok(movedAt > validatedAt, "the server followed the client before validating its new address");
  assert.equal(server.isAddressValidated, true);
});

test("a client may not migrate before the handshake is confirmed, and a server never initiates migration", () => {
  const p = makePair();
  assert.throws(() => p.conn.migrate({ address: "10.0.0.9", port: 1 }, p.link.now), (e: TsquicError) => e.code === "ERR_QUIC_MIGRATION_NOT_ALLOWED");
  const server = establish(p);
  assert.throws(() => server.migrate({ address: "10.0.0.8", port: 1 }, p.link.now), (e: TsquicError) => e.code === "ERR_QUIC_MIGRATION_NOT_ALLOWED");
});

test("a spoofed copy of a client packet moves the server to an address that cannot answer: it sends at most 3x there, then falls back", () => {
  const p = makePair();
  const server = establish(p);
  const real = p.link.address(0);
  const spoofed = { address: "10.66.6.6", port: 6666 };
  const sent = watchServerSends(p);
  // The attacker's copy arrives first (RFC 9000 section 9.3.3); then the client falls silent so only the timer can end the validation.
  const attack = attackerCopiesNextDatagram(p, spoofed, 1, true);
  p.conn.ping();
  p.link.run(() => server.remote.address === spoofed.address, 1_000);
  assert.deepEqual(server.remote, spoofed, "the server did not follow the packet with the highest number");
  assert.equal(server.isAddressValidated, false);
  p.link.run(() => server.remote.address === real.address, 10_000);
  assertLeftSpoofedPath(server, spoofed, real);
  // Anti-amplification on the unvalidated path (RFC 9000 sections 8.1, 9.3).
  const toSpoofed = sent.get(formatAddress(spoofed));
  assert.ok(toSpoofed && toSpoofed.datagrams >= 1, "the server never challenged the new address");
  assert.ok(toSpoofed.bytes <= 3 * attack.bytes, `sent ${toSpoofed.bytes} B to an address that sent ${attack.bytes} B`);
  // The client is heard again and the connection carries data on the old path.
  attack.silent = false;
  p.link.setConditions(0, { delay: 10 });
  const r = transfer(p, server, { streams: 1, bytesPerStream: 64 * KB, echo: true });
  assert.ok(r.completed && r.intact, r.error ?? "no data after the fallback");
});

test("a flood of PATH_CHALLENGE from many addresses gets a bounded number of small answers and moves nothing", () => {
  const p = makePair();
  const server = establish(p);
  const real = p.link.address(0);
  const sent = watchServerSends(p);
  // The forged packets' numbers confuse the real client's acknowledgements: keep the server's answers from it.
  p.link.setConditions(1, { delay: 10, drop: () => true });
  const lengths = new Map<string, number>();
  for (let i = 0; i < 100; i++) {
    const challenges = Array.from({ length: 20 }, () => ({ type: "path_challenge" as const, data: new Uint8Array(randomBytes(8)) }));
    const d = forgeClientPacket(p, challenges, { pnAhead: 1000 + i });
    const from = { address: `10.66.0.${i}`, port: 1000 + i };
    lengths.set(formatAddress(from), d.length);
    p.link.inject(0, d, 5, from);
  }
  p.link.run(() => false, 200);
  let datagrams = 0;
  for (const [to, s] of sent) {
    if (to === formatAddress(real)) continue;
    datagrams += s.datagrams;
    assert.ok(s.bytes <= 3 * lengths.get(to)!, `${s.bytes} B answered to ${to}, which sent ${lengths.get(to)} B`);
  }
  assert.ok(datagrams >= 1, "no challenge was answered");
  assert.ok(datagrams <= MAX_PENDING_PATH_RESPONSES, `${datagrams} answers to 2000 challenges`);
  assert.deepEqual(server.remote, real, "probing packets moved the server");
  assert.equal(server.isClosing, false);
});

test("preferred address: the client validates it after the handshake and moves there; the old address is no longer needed", () => {
  const preferred = { address: "10.0.0.3", port: 8443 };
  const p = makePair({ serverConfig: { preferredAddress: { ipv4: preferred } } });
  const server = establish(p);
  // Until it has validated the path from its preferred address, the server sends only probes from there (RFC 9000 section 9.6.2).
  let earlyFromPreferred = 0;
  p.link.replace(1, new Spy(p.server, { afterSend: (d) => void (d.from?.address === preferred.address && server.local?.address !== preferred.address && earlyFromPreferred++) }));
  assert.ok(p.link.run(() => p.conn.remote.address === preferred.address && server.local?.address === preferred.address, 5_000), "the client did not move");
  assert.ok(earlyFromPreferred >= 1 && earlyFromPreferred <= 2, `${earlyFromPreferred} datagrams from the preferred address before its path was validated`);
  assert.equal(eventOf(drain(server), "path_validated")?.preferredAddress, true);
  const events = drain(p.conn);
  const used = eventOf(events, "preferred_address_used");
  assert.ok(used, "no preferred_address_used event");
  assert.deepEqual(used.path.remote, preferred);
  assert.equal(eventOf(events, "path_validated")?.preferredAddress, true);
  assert.deepEqual(server.local, preferred);
  // Sequence 1 is the preferred address's CID (RFC 9000 section 5.1.1).
  assert.equal(p.conn.peerCids.current.sequence, 1);
  p.link.unreachable(1, p.link.address(1));
  const r = transfer(p, server, { streams: 2, bytesPerStream: 256 * KB, echo: true });
  assert.ok(r.completed && r.intact, r.error ?? "no data over the preferred address");
});

test("preferred address with policy reject: the client stays and never sends there", () => {
  const preferred = { address: "10.0.0.3", port: 8443 };
  const p = makePair({ serverConfig: { preferredAddress: { ipv4: preferred } }, clientConfig: { preferredAddressPolicy: "reject" } });
  const server = establish(p);
  let toPreferred = 0;
  p.link.replace(0, new Spy(p.client, { afterSend: (d) => void (d.to.address === preferred.address && toPreferred++) }));
  const r = transfer(p, server, { streams: 1, bytesPerStream: 128 * KB, echo: true });
  assert.ok(r.completed && r.intact);
  assert.deepEqual(p.conn.remote, p.link.address(1));
  assert.equal(toPreferred, 0);
  assert.equal(eventOf(drain(p.conn), "preferred_address_used"), undefined);
});

test("disable_active_migration: the client refuses to migrate, a server drops a migrating client's packets but follows a NAT rebinding", () => {
  const p = makePair({ serverConfig: { transport: { disableActiveMigration: true } } });
  const server = establish(p);
  p.link.run(() => p.conn.isHandshakeConfirmed, 1_000);
  assert.throws(() => p.conn.migrate({ address: "10.0.0.9", port: 1 }, p.link.now), (e: TsquicError) => e.code === "ERR_QUIC_MIGRATION_DISABLED");
  // A client that ignores the parameter: its probes from the new address are dropped and validation fails.
  (p.conn.peerParams as { disableActiveMigration: boolean }).disableActiveMigration = false;
  const dropped = server.stats().packetsDropped;
  const clientEvents: ConnectionEvent[] = [];
  p.conn.migrate({ address: "10.0.0.9", port: 50_000 }, p.link.now);
  p.link.run(() => eventOf(drain(p.conn, clientEvents), "path_validation_failed") !== undefined, 10_000);
  assert.ok(eventOf(clientEvents, "path_validation_failed"), "the probe was answered");
  assert.ok(server.stats().packetsDropped > dropped);
  assert.deepEqual(server.remote, p.link.address(0));
  // A NAT rebinding (same CID) is still followed: the client did not choose it.
  const after = { address: "10.0.0.1", port: 40_001 };
  p.link.unreachable(0, p.link.address(0));
  p.link.rebind(0, after);
  const r = transfer(p, server, { streams: 1, bytesPerStream: 128 * KB, echo: true });
  assert.ok(r.completed && r.intact, r.error ?? "no data after the rebinding");
  assert.deepEqual(server.remote, after);
});

test("a client discards 1-RTT packets from a server address it did not choose (RFC 9000 section 9.6)", () => {
  const p = makePair();
  const server = establish(p);
  p.link.run(() => p.conn.isHandshakeConfirmed, 1_000);
  const processed = p.conn.packetsProcessed;
  const dropped = p.conn.stats().packetsDropped;
  let copied = false;
  // The server's next datagram reaches the client only from another address.
  p.link.setConditions(1, {
    delay: 10,
    tamper: (d) => {
      if (!copied) {
        copied = true;
        p.link.inject(1, new Uint8Array(d), 1, { address: "10.0.0.99", port: 443 });
      }
      return null;
    },
  });
  server.ping();
  p.link.run(() => copied && p.conn.stats().packetsDropped > dropped, 5);
  assert.ok(copied, "the server sent nothing");
  assert.equal(p.conn.packetsProcessed, processed);
  assert.equal(p.conn.stats().packetsDropped, dropped + 1);
  assert.deepEqual(p.conn.remote, p.link.address(1));
});

test("an attacker's copy of a client packet, arriving first from a spoofed address, is undone within a round trip: the server challenges the old path and resumes there when it answers (RFC 9000 section 9.3.3)", () => {
  const p = makePair();
  const server = establish(p);
  p.link.run(() => false, 300);
  drain(server);
  const real = p.link.address(0);
  const spoofed = { address: "10.66.6.6", port: 6666 };
  const sent = watchServerSends(p);
  // The genuine copy of the client's next packet comes second and is dropped as a duplicate.
  const attack = attackerCopiesNextDatagram(p, spoofed, 2, false);
  const ptosBefore = p.conn.stats().ptoCount;
  const start = p.link.now;
  p.conn.ping();
  p.link.run(() => server.remote.address === spoofed.address, 100);
  assert.deepEqual(server.remote, spoofed, "the copy did not look like a migration");
  // The client sends nothing more of its own accord: only the server's challenge on the old path can bring it back now.
  p.link.run(() => server.remote.address === real.address, 5_000);
  assert.deepEqual(server.remote, real, "the server never came back to the client's real address");
  assert.ok(p.link.now - start <= 60, `back after ${p.link.now - start} ms; a round trip is 20 ms`);
  assert.equal(p.conn.stats().ptoCount, ptosBefore, "the client's probe timeout, not the server's challenge, brought the server back");
  assert.equal(assertLeftSpoofedPath(server, spoofed, real).aborted, true, "the spoofed path was abandoned, not timed out");
  assert.equal(server.isAddressValidated, true);
  const toSpoofed = sent.get(formatAddress(spoofed));
  assert.ok(!toSpoofed || toSpoofed.bytes <= 3 * attack.bytes, "more than 3x sent to the spoofed address");
  // The connection carries data on the real path afterwards.
  p.link.setConditions(0, { delay: 10 });
  const r = transfer(p, server, { streams: 1, bytesPerStream: 64 * KB, echo: true });
  assert.ok(r.completed && r.intact, r.error ?? "no data after the spurious migration");
  assert.deepEqual(server.remote, real);
});

test("a NAT rebinding whose old mapping still delivers: the server's challenge on the old path is answered from the new address, so it stays with the client there", () => {
  for (const seed of [1, 2, 4]) {
    const p = makePair({ seed, aToB: { delay: 10, jitter: 3 }, bToA: { delay: 10, jitter: 3 } });
    const server = establish(p);
    const before = p.link.address(0);
    const after = { address: before.address, port: before.port + 1 };
    p.link.schedule(p.link.now + 60, () => p.link.rebind(0, after));
    const serverEvents: ConnectionEvent[] = [];
    const r = transfer(p, server, { streams: 2, bytesPerStream: 128 * KB, echo: true, serverEvents });
    assert.ok(r.completed && r.intact, r.error ?? "echo incomplete");
    assert.deepEqual(server.remote, after);
    const paths = serverEvents.filter((e) => e.type === "peer_address_changed" || e.type === "path_validated" || e.type === "path_validation_failed").map((e) => e.type);
    assert.deepEqual(paths, ["peer_address_changed", "path_validated"], `seed ${seed}: the server went back and forth`);
  }
});
