#!/usr/bin/env node
// Command-line front of the impairment UDP proxy (src/testing/udp-proxy.ts).
// Run `node dist/tools/udp-proxy.js --help` for the options.
import { parseArgs } from "node:util";
import { UdpProxy, type ProxyConditions, type ProxyDirection, type ProxyEndpoint } from "../src/testing/udp-proxy.js";

const USAGE = `Usage: node dist/tools/udp-proxy.js --listen HOST:PORT --target HOST:PORT [options]

Impairments apply to both directions; prefix one with c2s- or s2c- to set
only client-to-server or server-to-client (e.g. --s2c-loss 0.1). A prefixed
value wins over the unprefixed one.

  --loss P                 independent loss probability
  --burst GB,BG[,LB[,LG]]  Gilbert-Elliott: p(good->bad), p(bad->good), loss in bad (1), loss in good (0)
  --delay MS               fixed one-way delay
  --jitter MS              extra random delay in [0, MS)
  --reorder P              share of datagrams held back by --reorder-delay
  --reorder-delay MS       extra delay of held-back datagrams
  --duplicate P            duplication probability
  --corrupt P              probability of flipping one random payload bit
  --bandwidth BYTES/S      bottleneck rate
  --queue BYTES            bottleneck queue (tail drop)
  --blackhole EVERY,DUR[,START]  drop everything for DUR ms every EVERY ms (first at START, default EVERY)
  --drop LIST              1-based datagram indices to drop, e.g. 2-7,9

  --seed N                 PRNG seed (default 1)
  --rebind-every MS        NAT rebinding of every client every MS ms
  --rebind-address         rebind to a new 127.0.0.x address rather than a new port
  --stats-every MS         print the counters every MS ms
  --help

Signals: SIGUSR1 rebinds to a new port, SIGUSR2 to a new address; SIGINT and
SIGTERM print the counters and exit.`;

const IMPAIRMENTS = ["loss", "burst", "delay", "jitter", "reorder", "reorder-delay", "duplicate", "corrupt", "bandwidth", "queue", "blackhole", "drop"] as const;
type Impairment = (typeof IMPAIRMENTS)[number];

function fail(message: string): never {
  console.error(`udp-proxy: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function endpoint(s: string | undefined, name: string): ProxyEndpoint {
  if (!s) fail(`--${name} is required`);
  // [v6]:port or host:port; the last colon separates the port.
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) fail(`--${name} must be HOST:PORT or [IPV6]:PORT, got ${s}`);
  return { address: m[1]!, port: Number(m[2]) };
}

function num(s: string, name: string): number {
  const v = Number(s);
  if (s.trim() === "" || !Number.isFinite(v)) fail(`--${name} needs a number, got ${s}`);
  return v;
}

function numbers(s: string, name: string, min: number, max: number): number[] {
  const parts = s.split(",").map((x) => num(x, name));
  if (parts.length < min || parts.length > max) fail(`--${name} takes ${min} to ${max} comma-separated numbers`);
  return parts;
}

function apply(c: ProxyConditions, what: Impairment, value: string, flag: string): void {
  switch (what) {
    case "loss":
      c.loss = num(value, flag);
      break;
    case "burst": {
      const [pGoodToBad, pBadToGood, lossInBad, lossInGood] = numbers(value, flag, 2, 4);
      c.burst = { pGoodToBad: pGoodToBad!, pBadToGood: pBadToGood! };
      if (lossInBad !== undefined) c.burst.lossInBad = lossInBad;
      if (lossInGood !== undefined) c.burst.lossInGood = lossInGood;
      break;
    }
    case "delay":
      c.delay = num(value, flag);
      break;
    case "jitter":
      c.jitter = num(value, flag);
      break;
    case "reorder":
      c.reorder = num(value, flag);
      break;
    case "reorder-delay":
      c.reorderDelay = num(value, flag);
      break;
    case "duplicate":
      c.duplicate = num(value, flag);
      break;
    case "corrupt":
      c.corrupt = num(value, flag);
      break;
    case "bandwidth":
      c.bandwidth = num(value, flag);
      break;
    case "queue":
      c.queueBytes = num(value, flag);
      break;
    case "blackhole": {
      const [everyMs, durationMs, startMs] = numbers(value, flag, 2, 3);
      c.blackhole = startMs === undefined ? { everyMs: everyMs!, durationMs: durationMs! } : { everyMs: everyMs!, durationMs: durationMs!, startMs };
      break;
    }
    case "drop":
      c.dropIndices = value.split(",").map((part) => {
        const range = /^(\d+)-(\d+)$/.exec(part.trim());
        return range ? ([Number(range[1]), Number(range[2])] as const) : num(part, flag);
      });
      break;
  }
}

async function main(): Promise<void> {
  const options: Record<string, { type: "string" | "boolean" }> = {
    listen: { type: "string" },
    target: { type: "string" },
    seed: { type: "string" },
    "rebind-every": { type: "string" },
    "rebind-address": { type: "boolean" },
    "stats-every": { type: "string" },
    help: { type: "boolean" },
  };
  for (const i of IMPAIRMENTS) for (const prefix of ["", "c2s-", "s2c-"]) options[prefix + i] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ options, strict: true }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const conditions: Record<ProxyDirection, ProxyConditions> = { clientToServer: {}, serverToClient: {} };
  // Unprefixed first, so the prefixed values override them.
  for (const prefix of ["", "c2s-", "s2c-"]) {
    for (const i of IMPAIRMENTS) {
      const v = values[prefix + i];
      if (typeof v !== "string") continue;
      if (prefix !== "s2c-") apply(conditions.clientToServer, i, v, prefix + i);
      if (prefix !== "c2s-") apply(conditions.serverToClient, i, v, prefix + i);
    }
  }
  const rebindEvery = typeof values["rebind-every"] === "string" ? num(values["rebind-every"], "rebind-every") : undefined;
  let proxy: UdpProxy;
  try {
    proxy = await UdpProxy.start({
      listen: endpoint(values.listen as string | undefined, "listen"),
      target: endpoint(values.target as string | undefined, "target"),
      clientToServer: conditions.clientToServer,
      serverToClient: conditions.serverToClient,
      seed: typeof values.seed === "string" ? num(values.seed, "seed") : 1,
      ...(rebindEvery ? { rebind: { everyMs: rebindEvery, newAddress: values["rebind-address"] === true } } : {}),
    });
  } catch (e) {
    console.error(`udp-proxy: ${(e as Error).message}`);
    process.exit(1);
  }
  const a = proxy.address;
  const t = proxy.target;
  console.log(`udp-proxy: listening on ${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}, forwarding to ${t.address}:${t.port}`);
  const print = (): void => console.log(JSON.stringify(proxy.stats));
  if (typeof values["stats-every"] === "string") setInterval(print, num(values["stats-every"], "stats-every")).unref();
  const rebind = (newAddress: boolean): void => {
    proxy.rebind({ newAddress }).then(
      (to) => console.log(`udp-proxy: rebound to ${to.map((e) => `${e.address}:${e.port}`).join(", ") || "(no clients)"}`),
      (e: Error) => console.error(`udp-proxy: rebinding failed: ${e.message}`),
    );
  };
  process.on("SIGUSR1", () => rebind(false));
  process.on("SIGUSR2", () => rebind(true));
  const stop = (): void => {
    print();
    void proxy.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
