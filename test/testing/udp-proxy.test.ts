import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import dgram from "node:dgram";
import { setTimeout as sleep } from "node:timers/promises";
import { UdpProxy, type ProxyEndpoint, type UdpProxyOptions } from "../../src/testing/udp-proxy.js";
import { DirectionImpairment, validateConditions } from "../../src/testing/udp-proxy-impair.js";

/** A UDP echo server that records where each datagram came from. */
class Echo {
  readonly seen: Array<{ from: ProxyEndpoint; data: Buffer }> = [];
  /** When false, datagrams are recorded but not echoed. */
  echo = true;
  private constructor(readonly socket: dgram.Socket) {
    socket.on("message", (msg, rinfo) => {
      this.seen.push({ from: { address: rinfo.address, port: rinfo.port }, data: msg });
      if (this.echo) socket.send(msg, rinfo.port, rinfo.address);
    });
  }

  static async start(address = "127.0.0.1"): Promise<Echo> {
    const s = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
    await new Promise<void>((ok) => s.bind(0, address, ok));
    return new Echo(s);
  }

  get endpoint(): ProxyEndpoint {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  close(): Promise<void> {
    return new Promise((ok) => this.socket.close(() => ok()));
  }
}

/** A client socket that collects what comes back. */
class Client {
  readonly got: Array<{ data: Buffer; at: number }> = [];
  private constructor(readonly socket: dgram.Socket, private readonly to: ProxyEndpoint) {
    socket.on("message", (msg) => this.got.push({ data: msg, at: performance.now() }));
  }

  static async start(to: ProxyEndpoint, address = "127.0.0.1"): Promise<Client> {
    const s = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
    await new Promise<void>((ok) => s.bind(0, address, ok));
    return new Client(s, to);
  }

  send(data: Uint8Array | string): void {
    this.socket.send(typeof data === "string" ? Buffer.from(data) : data, this.to.port, this.to.address);
  }

  close(): Promise<void> {
    return new Promise((ok) => this.socket.close(() => ok()));
  }
}

/** Polls `cond` every few ms until it holds; fails after `ms`. */
async function until(cond: () => boolean, ms = 2000, what = "condition"): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Starts an echo server, a proxy in front of it and a client; runs `body`; closes all three. */
async function withSetup(
  options: Omit<UdpProxyOptions, "listen" | "target">,
  body: (ctx: { echo: Echo; proxy: UdpProxy; client: Client }) => Promise<void>,
  address = "127.0.0.1",
): Promise<void> {
  const echo = await Echo.start(address);
  const proxy = await UdpProxy.start({ listen: { address, port: 0 }, target: echo.endpoint, ...options });
  const client = await Client.start(proxy.address, address);
  try {
    await body({ echo, proxy, client });
  } finally {
    await client.close();
    await proxy.close();
    await echo.close();
  }
}

/** Sends `n` numbered datagrams in batches, waiting for the proxy to take each batch so no kernel buffer overflows. */
async function pump(client: Client, proxy: UdpProxy, n: number, size = 16, batch = 200): Promise<void> {
  for (let i = 1; i <= n; i++) {
    // The index, then a hash of it: no single bit flip turns one datagram into another.
    const b = Buffer.concat([Buffer.alloc(4), createHash("sha256").update(String(i)).digest()]).subarray(0, size);
    b.writeUInt32BE(i, 0);
    client.send(b);
    if (i % batch === 0 || i === n) await until(() => proxy.stats.clientToServer.received >= i, 2000, "proxy intake");
  }
}

const ids = (list: Array<{ data: Buffer }>): number[] => list.map((x) => x.data.readUInt32BE(0));

test("forwards both ways through a per-client upstream socket", async () => {
  const forwarded: number[] = [0, 0];
  await withSetup(
    { onForward: (dir, p) => (forwarded[dir === "clientToServer" ? 0 : 1]! += p.length) },
    async ({ echo, proxy, client }) => {
      for (let i = 0; i < 10; i++) client.send(`hello ${i}`);
      await until(() => client.got.length === 10);
      assert.deepEqual(
        client.got.map((g) => g.data.toString()),
        Array.from({ length: 10 }, (_, i) => `hello ${i}`),
      );
      const [info] = proxy.clients();
      assert.ok(info);
      assert.equal(info.client.port, client.socket.address().port);
      // The server sees the proxy's upstream socket, not the client.
      for (const s of echo.seen) assert.deepEqual(s.from, info.upstream);
      assert.notEqual(info.upstream.port, info.client.port);
      const st = proxy.stats;
      assert.equal(st.clients, 1);
      assert.equal(st.clientToServer.received, 10);
      assert.equal(st.clientToServer.forwarded, 10);
      assert.equal(st.serverToClient.forwarded, 10);
      assert.equal(st.clientToServer.dropped + st.serverToClient.dropped, 0);
      assert.equal(forwarded[0], st.clientToServer.forwardedBytes);
      assert.equal(forwarded[1], st.serverToClient.forwardedBytes);
    },
  );
});

test("forwards over IPv6", async () => {
  await withSetup(
    {},
    async ({ echo, proxy, client }) => {
      assert.equal(proxy.address.family, "IPv6");
      client.send("six");
      await until(() => client.got.length === 1);
      assert.equal(client.got[0]!.data.toString(), "six");
      assert.equal(echo.seen[0]!.from.address, "::1");
    },
    "::1",
  );
});

test("loss is near the configured rate and repeats with the same seed", async () => {
  const run = async (seed: number): Promise<number[]> => {
    let seen: number[] = [];
    await withSetup({ seed, clientToServer: { loss: 0.1 } }, async ({ echo, proxy, client }) => {
      echo.echo = false;
      await pump(client, proxy, 2000);
      const st = proxy.stats.clientToServer;
      await until(() => echo.seen.length === st.forwarded, 2000, "echo intake");
      assert.equal(st.dropped, st.droppedBy.loss);
      assert.equal(st.received, 2000);
      // 200 expected, standard deviation about 13.
      assert.ok(st.dropped > 150 && st.dropped < 250, `dropped ${st.dropped}`);
      seen = ids(echo.seen);
    });
    return seen;
  };
  const a = await run(42);
  const b = await run(42);
  const c = await run(43);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test("delay makes datagrams arrive later", async () => {
  const rtt = async (client: Client, n: number): Promise<number> => {
    let best = Infinity;
    for (let i = 0; i < n; i++) {
      const before = client.got.length;
      const t0 = performance.now();
      client.send(`ping ${i}`);
      await until(() => client.got.length > before);
      best = Math.min(best, client.got[before]!.at - t0);
    }
    return best;
  };
  await withSetup({}, async ({ proxy, client }) => {
    const plain = await rtt(client, 3);
    proxy.setConditions("clientToServer", { delay: 40 });
    proxy.setConditions("serverToClient", { delay: 20, jitter: 5 });
    const delayed = await rtt(client, 3);
    assert.ok(delayed - plain >= 30, `plain ${plain} ms, delayed ${delayed} ms`);
  });
});

test("reordering delivers out of order", async () => {
  await withSetup({ seed: 7, clientToServer: { reorder: 0.3, reorderDelay: 30 } }, async ({ echo, proxy, client }) => {
    await pump(client, proxy, 100);
    await until(() => client.got.length === 100);
    const order = ids(client.got);
    assert.notDeepEqual(order, [...order].sort((x, y) => x - y));
    assert.deepEqual([...order].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + 1));
    const st = proxy.stats.clientToServer;
    assert.ok(st.reordered > 10 && st.reordered < 50, `reordered ${st.reordered}`);
    assert.equal(echo.seen.length, 100);
  });
});

test("duplication and corruption are counted and observable", async () => {
  await withSetup(
    { seed: 3, clientToServer: { duplicate: 0.2 }, serverToClient: { corrupt: 1 } },
    async ({ echo, proxy, client }) => {
      await pump(client, proxy, 200, 32);
      const dup = proxy.stats.clientToServer.duplicated;
      assert.ok(dup > 15 && dup < 70, `duplicated ${dup}`);
      await until(() => echo.seen.length === 200 + dup && client.got.length === 200 + dup);
      const st = proxy.stats;
      assert.equal(st.clientToServer.forwarded, 200 + dup);
      assert.equal(st.serverToClient.corrupted, 200 + dup);
      // The server sees intact copies; the client sees each reply with exactly one bit flipped.
      const sent = new Set(echo.seen.map((s) => s.data.toString("hex")));
      assert.equal(sent.size, 200);
      const distance = (x: Buffer, y: Buffer): number => {
        let bits = 0;
        for (let i = 0; i < x.length; i++) for (let v = x[i]! ^ y[i]!; v; v &= v - 1) bits++;
        return bits;
      };
      for (const g of client.got) assert.equal(Math.min(...echo.seen.map((s) => distance(g.data, s.data))), 1);
    },
  );
});

test("chosen indices and the drop hook drop exactly those datagrams", async () => {
  await withSetup(
    { clientToServer: { dropIndices: [[2, 7], 9] }, serverToClient: { drop: (index) => index % 2 === 0 } },
    async ({ echo, proxy, client }) => {
      await pump(client, proxy, 12);
      await until(() => proxy.stats.serverToClient.received === 5);
      await until(() => client.got.length === 3);
      assert.deepEqual(ids(echo.seen), [1, 8, 10, 11, 12]);
      // Replies 1..5 in server order; the even ones are dropped.
      assert.deepEqual(ids(client.got), [1, 10, 12]);
      const st = proxy.stats;
      assert.equal(st.clientToServer.droppedBy.index, 7);
      assert.equal(st.serverToClient.droppedBy.predicate, 2);
    },
  );
});

test("blackhole windows drop everything inside them", async () => {
  await withSetup(
    { clientToServer: { blackhole: { everyMs: 10_000, durationMs: 300, startMs: 200 } } },
    async ({ echo, proxy, client }) => {
      const sentAt = new Map<number, number>();
      for (let i = 1; proxy.now() < 650; i++) {
        const b = Buffer.alloc(8);
        b.writeUInt32BE(i, 0);
        sentAt.set(i, proxy.now());
        client.send(b);
        await sleep(20);
      }
      await sleep(20);
      const through = new Set(ids(echo.seen));
      let early = 0;
      let inside = 0;
      let late = 0;
      for (const [i, t] of sentAt) {
        // Margins around the window edges absorb scheduling noise.
        if (t < 150) early += through.has(i) ? 0 : 1;
        else if (t > 250 && t < 450) inside += through.has(i) ? 1 : 0;
        else if (t > 550) late += through.has(i) ? 0 : 1;
      }
      assert.equal(early, 0, "dropped before the window");
      assert.equal(inside, 0, "forwarded inside the window");
      assert.equal(late, 0, "dropped after the window");
      const bh = proxy.stats.clientToServer.droppedBy.blackhole;
      assert.ok(bh >= 5, `blackholed ${bh}`);
      assert.equal(bh, sentAt.size - through.size);
    },
  );
});

test("rebinding moves the client to a new port, then a new address", async () => {
  await withSetup({}, async ({ echo, proxy, client }) => {
    client.send("a");
    await until(() => client.got.length === 1);
    const first = echo.seen[0]!.from;

    const [second] = await proxy.rebind();
    assert.ok(second);
    client.send("b");
    await until(() => client.got.length === 2);
    assert.deepEqual(echo.seen[1]!.from, second);
    assert.equal(second.address, first.address);
    assert.notEqual(second.port, first.port);

    const [third] = await proxy.rebind({ newAddress: true });
    client.send("c");
    await until(() => client.got.length === 3);
    assert.deepEqual(echo.seen[2]!.from, third);
    assert.equal(third!.address, "127.0.0.2");
    const [fourth] = await proxy.rebind({ newAddress: true });
    assert.equal(fourth!.address, "127.0.0.3");

    // A late reply to an old mapping goes nowhere.
    echo.socket.send("late", first.port, first.address);
    await until(() => proxy.stats.serverToClient.droppedBy.stale === 1);
    assert.equal(client.got.length, 3);
    assert.equal(proxy.stats.rebinds, 3);
  });
});

test("automatic rebinding every N ms", async () => {
  await withSetup({ rebind: { everyMs: 60 } }, async ({ echo, client }) => {
    client.send("a");
    await until(() => client.got.length === 1);
    await sleep(150);
    client.send("b");
    await until(() => client.got.length === 2);
    assert.notEqual(echo.seen[1]!.from.port, echo.seen[0]!.from.port);
  });
});

test("the bandwidth limit queues and tail-drops", async () => {
  // 100 kB/s with a 10 kB queue: a burst of fifty 1,000-byte datagrams keeps about ten.
  await withSetup({ clientToServer: { bandwidth: 100_000, queueBytes: 10_000 } }, async ({ echo, proxy, client }) => {
    echo.echo = false;
    const arrivals: number[] = [];
    echo.socket.on("message", () => arrivals.push(performance.now()));
    for (let i = 1; i <= 50; i++) {
      const b = Buffer.alloc(1000);
      b.writeUInt32BE(i, 0);
      client.send(b);
    }
    await until(() => proxy.stats.clientToServer.received === 50);
    const st = proxy.stats.clientToServer;
    assert.ok(st.droppedBy.queue >= 30 && st.droppedBy.queue <= 42, `tail-dropped ${st.droppedBy.queue}`);
    await until(() => echo.seen.length === 50 - st.droppedBy.queue);
    // Serialising the kept ones at 1 ms per 100 bytes spreads them out.
    const spread = arrivals[arrivals.length - 1]! - arrivals[0]!;
    assert.ok(spread >= 50, `spread ${spread} ms`);
    assert.deepEqual(ids(echo.seen), [...ids(echo.seen)].sort((x, y) => x - y));
  });
});

test("close drops datagrams still delayed and releases everything", async () => {
  const echo = await Echo.start();
  const proxy = await UdpProxy.start({ listen: { address: "127.0.0.1", port: 0 }, target: echo.endpoint, clientToServer: { delay: 5_000 } });
  const client = await Client.start(proxy.address);
  client.send("x");
  await until(() => proxy.stats.clientToServer.received === 1);
  await proxy.close();
  assert.equal(proxy.stats.clientToServer.droppedBy.closed, 1);
  assert.equal(echo.seen.length, 0);
  await proxy.close();
  await client.close();
  await echo.close();
});

test("burst loss comes in runs and the impairment is deterministic", () => {
  const burst = { pGoodToBad: 0.02, pBadToGood: 0.25 };
  const fates = (seed: number): boolean[] => {
    const d = new DirectionImpairment(seed, { burst });
    return Array.from({ length: 20_000 }, () => d.admit(new Uint8Array(10), 0).length === 0);
  };
  const a = fates(5);
  assert.deepEqual(a, fates(5));
  let lost = 0;
  let runs = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i]) lost++;
    if (a[i] && !a[i - 1]) runs++;
  }
  // Stationary loss = 0.02 / (0.02 + 0.25) ≈ 7.4 %; mean run length 1 / 0.25 = 4.
  assert.ok(lost / a.length > 0.05 && lost / a.length < 0.1, `loss ${lost / a.length}`);
  assert.ok(lost / runs > 3 && lost / runs < 5, `mean run ${lost / runs}`);
});

test("the n-th datagram's random fate does not depend on earlier drops", () => {
  const plain = new DirectionImpairment(9, { loss: 0.3 });
  const withIndexDrops = new DirectionImpairment(9, { loss: 0.3, dropIndices: [[1, 50]] });
  const fate = (d: DirectionImpairment): boolean[] => Array.from({ length: 200 }, () => d.admit(new Uint8Array(4), 0).length === 1);
  assert.deepEqual(fate(plain).slice(50), fate(withIndexDrops).slice(50));
});

test("invalid conditions are refused", () => {
  assert.throws(() => validateConditions({ loss: 1.5 }), RangeError);
  assert.throws(() => validateConditions({ delay: -1 }), RangeError);
  assert.throws(() => validateConditions({ blackhole: { everyMs: 0, durationMs: 1 } }), RangeError);
  assert.throws(() => validateConditions({ dropIndices: [1.5] }), RangeError);
  validateConditions({ loss: 0, burst: { pGoodToBad: 0.1, pBadToGood: 0.5 }, dropIndices: [1, [3, 4]] });
});
