import { test } from "node:test";
import assert from "node:assert/strict";
import { establish, largeChain, makePair, type Pair, type PairOptions } from "./harness.js";

/**
 * Runs `p` for `ms`, checking after every step that, while the server has
 * not validated the client's address, it has sent at most three times what
 * reached it (RFC 9000 section 8.1). Returns the largest ratio seen.
 */
function runChecked(p: Pair, ms: number, until: () => boolean = () => false): number {
  let worst = 0;
  p.link.run(() => {
    const s = p.serverConn();
    if (s && !s.isAddressValidated) {
      const received = p.link.stats[0].deliveredBytes;
      const sent = p.link.stats[1].sentBytes;
      assert.ok(sent <= 3 * received, `server sent ${sent} bytes having received ${received} before validating the address`);
      worst = Math.max(worst, sent / received);
    }
    return until();
  }, ms);
  return worst;
}

for (const big of [false, true]) {
  test(`the server never sends more than 3x what it received before address validation, and completes once the client gets through${big ? " (8 KB certificate chain)" : ""}`, () => {
    let dropping = true;
    const chain = big ? largeChain() : undefined;
    const opts: PairOptions = {
      // Only the client's first datagram gets through until the drop stops.
      aToB: { delay: 10, drop: (i) => dropping && i > 1 },
      config: { handshakeTimeout: 60_000 },
      ...(chain ? { clientConfig: { clientTls: { ca: chain.caPem } }, serverConfig: { serverTls: chain.serverTls } } : {}),
    };
    const p = makePair(opts);
    const worst = runChecked(p, 4_000);
    const server = p.serverConn()!;
    assert.equal(server.isAddressValidated, false);
    assert.equal(server.isEstablished, false);
    // A small flight fits the budget and lets the client finish; only the server can confirm it.
    assert.equal(p.conn.isHandshakeConfirmed, false);
    if (big) assert.equal(p.conn.isEstablished, false);
    assert.equal(p.link.stats[0].deliveredBytes, 1200);
    if (big) {
      // The flight is larger than the budget: the server used all of it and then stopped.
      assert.ok(worst > 2.5, `server used only ${worst.toFixed(2)}x of its budget`);
      assert.ok(p.link.stats[1].sentBytes <= 3600);
    }
    dropping = false;
    runChecked(p, 60_000, () => p.conn.isEstablished && server.isEstablished);
    assert.ok(p.conn.isEstablished && server.isEstablished, `handshake did not complete: ${p.conn.closeInfo?.error?.message}`);
    assert.equal(server.isAddressValidated, true);
  });
}

test("with an 8 KB certificate chain and no loss, the handshake completes and the limit holds at every step", () => {
  const chain = largeChain();
  const p = makePair({ clientConfig: { clientTls: { ca: chain.caPem } }, serverConfig: { serverTls: chain.serverTls } });
  runChecked(p, 5_000, () => p.conn.isEstablished && (p.serverConn()?.isEstablished ?? false));
  establish(p);
  assert.ok(p.link.stats[1].sentBytes > 3 * 1200, "the chain was too small to test the limit");
});

test("the client's anti-deadlock probes keep an amplification-limited handshake alive under loss (RFC 9002 section 6.2.2.1)", () => {
  const chain = largeChain();
  for (const seed of [11, 12, 13]) {
    const p = makePair({
      seed,
      aToB: { delay: 20, loss: 0.3 },
      bToA: { delay: 20, loss: 0.3 },
      config: { handshakeTimeout: 60_000 },
      clientConfig: { clientTls: { ca: chain.caPem } },
      serverConfig: { serverTls: chain.serverTls },
    });
    runChecked(p, 60_000, () => p.conn.isEstablished && (p.serverConn()?.isEstablished ?? false));
    assert.ok(p.conn.isEstablished, `seed ${seed}: ${p.conn.state} ${p.conn.closeInfo?.error?.message ?? ""}`);
  }
});

test("an amplification-limited server whose first datagram is lost retransmits it once the client's probe brings more credit", () => {
  const chain = largeChain();
  const p = makePair({
    bToA: { delay: 10, drop: (i) => i === 1 },
    config: { handshakeTimeout: 60_000 },
    clientConfig: { clientTls: { ca: chain.caPem } },
    serverConfig: { serverTls: chain.serverTls },
  });
  runChecked(p, 30_000, () => p.conn.isEstablished && (p.serverConn()?.isEstablished ?? false));
  assert.ok(p.conn.isEstablished, `${p.conn.state} ${p.conn.closeInfo?.error?.message ?? ""}`);
});
