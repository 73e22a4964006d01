// Building blocks of migration: the preferred_address parameter, peer CIDs reserved per path, and the path manager's bounds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PeerConnectionIds } from "../../src/quic/cid.js";
import { resolveConfig } from "../../src/quic/config.js";
import { MAX_OUTSTANDING_CHALLENGES, MAX_PENDING_PATH_RESPONSES, PathManager, preferredAddressParameter, reachablePreferredAddress, type PathEvent } from "../../src/quic/path/index.js";
import { decodeTransportParameters, defaultTransportParameters, encodeTransportParameters, preferredAddressEndpoints } from "../../src/quic/transport-params.js";

const cid = (b: number): Uint8Array => new Uint8Array(8).fill(b);
const token = (b: number): Uint8Array => new Uint8Array(16).fill(b);

test("preferred_address built from socket addresses survives encoding and names the same addresses (RFC 9000 section 18.2)", () => {
  const pa = preferredAddressParameter({ ipv4: { address: "192.0.2.7", port: 8443 }, ipv6: { address: "2001:db8::1:2", port: 9443 } }, cid(7), token(9));
  const p = defaultTransportParameters();
  p.preferredAddress = pa;
  p.initialSourceConnectionId = cid(1);
  p.originalDestinationConnectionId = cid(2);
  p.statelessResetToken = token(3);
  const back = decodeTransportParameters(encodeTransportParameters(p, "server"), "server").preferredAddress!;
  assert.deepEqual(preferredAddressEndpoints(back), { ipv4: { address: "192.0.2.7", port: 8443 }, ipv6: { address: "2001:db8:0:0:0:0:1:2", port: 9443 } });
  assert.deepEqual(back.connectionId, cid(7));
  assert.deepEqual(back.statelessResetToken, token(9));
  // A client picks the family it already uses; an absent family is all zeros.
  assert.deepEqual(reachablePreferredAddress(back, { address: "198.51.100.1", port: 443 }), { address: "192.0.2.7", port: 8443 });
  assert.deepEqual(reachablePreferredAddress(back, { address: "::1", port: 443 }), { address: "2001:db8:0:0:0:0:1:2", port: 9443 });
  const v4only = preferredAddressParameter({ ipv4: { address: "192.0.2.7", port: 8443 } }, cid(7), token(9));
  assert.deepEqual(v4only.ipv6Address, new Uint8Array(16));
  assert.equal(reachablePreferredAddress(v4only, { address: "::1", port: 443 }), undefined);
  // IPv4-mapped tails and a bare "::" parse too.
  assert.deepEqual(preferredAddressEndpoints(preferredAddressParameter({ ipv6: { address: "::ffff:10.1.2.3", port: 1 } }, cid(1), token(1))).ipv6?.address, "0:0:0:0:0:ffff:a01:203");
});

test("preferredAddress and preferredAddressPolicy are checked when the configuration is resolved", () => {
  assert.throws(() => resolveConfig({ alpn: ["x"], preferredAddress: { ipv4: { address: "::1", port: 1 } } }), /ipv4.address must be an IPv4 literal/);
  assert.throws(() => resolveConfig({ alpn: ["x"], preferredAddress: { ipv4: { address: "10.0.0.1", port: 0 } } }), /port must be 1..65535/);
  assert.throws(() => resolveConfig({ alpn: ["x"], preferredAddress: {} }), /needs an ipv4 or an ipv6/);
  assert.throws(() => resolveConfig({ alpn: ["x"], preferredAddressPolicy: "maybe" as "accept" }), /preferredAddressPolicy/);
  assert.equal(resolveConfig({ alpn: ["x"] }).preferredAddressPolicy, "accept");
});

test("peer CIDs: a probed path reserves an unused CID; switching retires the old one; a failed probe's CID is retired, never reused (RFC 9000 section 9.5)", () => {
  const ids = new PeerConnectionIds(cid(0), 4);
  assert.equal(ids.peekSpare(), undefined);
  ids.add(1, 0, cid(1), token(1));
  ids.add(2, 0, cid(2), token(2));
  const probe = ids.takeSpare()!;
  assert.equal(probe.sequence, 1);
  assert.equal(ids.peekSpare()?.sequence, 2, "a reserved CID is not offered to another path");
  ids.release(probe);
  assert.deepEqual(ids.pendingRetire, [1]);
  assert.equal(ids.get(1), undefined);
  const next = ids.takeSpare()!;
  ids.switchTo(next);
  assert.equal(ids.current.sequence, 2);
  assert.deepEqual(ids.pendingRetire, [1, 0]);
  assert.equal(ids.spare, 0);
});

/** A path manager over a CID set with spares, recording its events and path resets. */
function manager(): { m: PathManager; events: PathEvent[]; resets: number[] } {
  const ids = new PeerConnectionIds(cid(0), 8);
  for (let i = 1; i < 5; i++) ids.add(i, 0, cid(i), token(i));
  const events: PathEvent[] = [];
  const resets: number[] = [];
  const m = new PathManager(
    { peerCids: ids, onPathChange: (now) => void resets.push(now), pto: () => ({ current: 100, initial: 1000 }), emit: (e) => void events.push(e) },
    { address: "10.0.0.2", port: 443 },
    { address: "10.0.0.1", port: 5000 },
  );
  return { m, events, resets };
}

test("path manager: validation retries with backoff, remembers a bounded number of challenges and fails after 3 x max(PTO, initial PTO)", () => {
  const { m, events } = manager();
  m.migrate({ address: "10.0.0.2", port: 6000 }, 0);
  const sentAt: number[] = [];
  let remembered = 0;
  for (let now = 0; now < 5000; now++) {
    const p = m.nextProbe(now);
    if (p?.challenge) sentAt.push(now);
    if (now === 2000) remembered = m.probe!.challenges.length;
    if (now === m.timeout() && now >= 3000) m.onTimeout(now);
  }
  // PTO 100 doubling: 0, 100, 300, 700, 1500 (RFC 9000 section 8.2.1); the deadline is 3 x 1000 (section 8.2.4).
  assert.deepEqual(sentAt, [0, 100, 300, 700, 1500]);
  assert.equal(remembered, MAX_OUTSTANDING_CHALLENGES, "five challenges sent, only the last four remembered");
  assert.equal(m.probing, false);
  const failed = events.find((e) => e.type === "path_validation_failed");
  assert.ok(failed && failed.type === "path_validation_failed" && !failed.aborted);
  assert.deepEqual(failed.path.local, { address: "10.0.0.2", port: 6000 });
});

test("path manager: one queued PATH_RESPONSE per path, at most a few paths, each limited to 3x what its datagram carried", () => {
  const { m } = manager();
  const to = { address: "10.0.0.2", port: 443 };
  for (let i = 0; i < 10; i++) m.onChallenge(new Uint8Array(8).fill(i), { from: { address: "10.9.9.9", port: 1 }, to }, 100, 0);
  for (let i = 0; i < 10; i++) m.onChallenge(new Uint8Array(8).fill(i), { from: { address: `10.8.0.${i}`, port: 1 }, to }, 30, 0);
  const probes = [];
  for (let p = m.nextProbe(0); p; p = m.nextProbe(0)) probes.push(p);
  // The first path's latest challenge; the 30-byte datagrams buy 90 bytes each, enough for a small answer.
  assert.equal(probes.length, MAX_PENDING_PATH_RESPONSES);
  assert.deepEqual(probes[0]!.response, new Uint8Array(8).fill(9));
  assert.equal(probes[0]!.budget, 300);
  assert.ok(probes.slice(1).every((p) => p.budget === 90));
});
