import dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import {
  copyDirectionStats,
  DirectionImpairment,
  type DirectionStats,
  type DropReason,
  type Emission,
  type ProxyConditions,
} from "./udp-proxy-impair.js";

export {
  DROP_REASONS,
  inBlackhole,
  validateConditions,
  type Blackhole,
  type BurstLoss,
  type DirectionStats,
  type DropReason,
  type ProxyConditions,
} from "./udp-proxy-impair.js";

/** A UDP address: an IP literal (or a host name, resolved once at start) and a port. */
export interface ProxyEndpoint {
  address: string;
  port: number;
}

/** A direction through the proxy. */
export type ProxyDirection = "clientToServer" | "serverToClient";

/** Configuration of {@link UdpProxy.start}. */
export interface UdpProxyOptions {
  /** Where clients send; port 0 picks a free one (read it back from `proxy.address`). */
  listen: ProxyEndpoint;
  /** The server the proxy forwards to. */
  target: ProxyEndpoint;
  /** Impairments of datagrams from clients to the server. */
  clientToServer?: ProxyConditions;
  /** Impairments of datagrams from the server to clients. */
  serverToClient?: ProxyConditions;
  /** Seed of the PRNGs (one per direction, derived from it); default 1. */
  seed?: number;
  /**
   * Local address of the upstream sockets toward the server (default the
   * loopback address of the target's family, so nothing listens on other interfaces).
   */
  upstreamAddress?: string;
  /** Automatic NAT rebinding of every client every `everyMs` ms. */
  rebind?: { everyMs: number; newAddress?: boolean };
  /** Receive and send buffer size asked of every socket, so bursts are not lost in the kernel (default 2 MiB). */
  socketBufferBytes?: number;
  /** Replaced upstream sockets kept open per client to drop late replies as "stale" (default 4). */
  staleSockets?: number;
  /** Called for every datagram the proxy receives, before any impairment (time: ms since start). */
  onReceive?: (direction: ProxyDirection, payload: Uint8Array, time: number) => void;
  /** Called for every datagram the proxy puts on the wire (time: ms since start). */
  onForward?: (direction: ProxyDirection, payload: Uint8Array, time: number) => void;
}

/** Totals of the proxy; a snapshot, safe to keep. */
export interface ProxyStats {
  clientToServer: DirectionStats;
  serverToClient: DirectionStats;
  /** Clients seen since start. */
  clients: number;
  /** Upstream sockets replaced by rebinding, over all clients. */
  rebinds: number;
}

/** One client as the proxy sees it. */
export interface ProxyClientInfo {
  /** The client's own address. */
  client: ProxyEndpoint;
  /** The address the server currently sees for this client. */
  upstream: ProxyEndpoint;
}

interface Session {
  client: ProxyEndpoint;
  upstream: dgram.Socket;
  /** Local address of `upstream`. */
  host: string;
  /** Replaced upstream sockets, oldest first. */
  stale: dgram.Socket[];
  /** Next x of 127.0.0.x for an address rebinding. */
  nextHost: number;
}

interface Pending {
  due: number;
  seq: number;
  direction: ProxyDirection;
  session: Session;
  payload: Uint8Array;
}

/** A timer may fire up to this much before its due time (ms rounding); such datagrams go out with it. */
const TIMER_SLACK_MS = 1;

const DEFAULT_BUFFER_BYTES = 2 * 1024 * 1024;

function before(a: Pending, b: Pending): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** A binary min-heap of delayed datagrams ordered by (due, seq), so equal due times keep arrival order. */
class DelayQueue {
  private items: Pending[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Pending | undefined {
    return this.items[0];
  }

  push(p: Pending): void {
    const a = this.items;
    a.push(p);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): Pending | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }

  drain(): Pending[] {
    const all = this.items;
    this.items = [];
    return all;
  }
}

async function resolve(e: ProxyEndpoint): Promise<ProxyEndpoint> {
  if (isIP(e.address)) return { address: e.address, port: e.port };
  const r = await lookup(e.address);
  return { address: r.address, port: e.port };
}

function bindSocket(socket: dgram.Socket, address: string, port: number, bufferBytes: number): Promise<void> {
  return new Promise((ok, fail) => {
    const onError = (err: Error): void => fail(err);
    socket.once("error", onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off("error", onError);
      try {
        socket.setRecvBufferSize(bufferBytes);
        socket.setSendBufferSize(bufferBytes);
      } catch {
        // The kernel caps buffers at rmem_max / wmem_max; the default size still works.
      }
      ok();
    });
  });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((ok) => {
    try {
      socket.close(() => ok());
    } catch {
      // Already closed.
      ok();
    }
  });
}

function key(e: ProxyEndpoint): string {
  return `${e.address}|${e.port}`;
}

/**
 * A userspace UDP impairment proxy for loopback tests (this machine has no
 * netem). Clients send to `proxy.address`; each client gets its own upstream
 * socket toward the target, so the server sees the proxy, like behind a NAT.
 * Each direction has its own loss, burst loss, delay, jitter, reordering,
 * duplication, corruption, bandwidth bottleneck, blackhole windows and chosen
 * drops, deterministic for a seed. Rebinding replaces the upstream sockets
 * (new port, or new 127.0.0.x address) to make the client appear to move.
 */
export class UdpProxy {
  /** Where clients send. */
  readonly address: ProxyEndpoint & { family: "IPv4" | "IPv6" };
  /** The server address (resolved). */
  readonly target: ProxyEndpoint;
  private readonly listenSocket: dgram.Socket;
  private readonly upstreamType: "udp4" | "udp6";
  private readonly upstreamAddress: string;
  private readonly impair: Record<ProxyDirection, DirectionImpairment>;
  private readonly options: UdpProxyOptions;
  private readonly sessions = new Map<string, Session>();
  private readonly queue = new DelayQueue();
  private readonly startedAt = performance.now();
  private readonly pendingRebinds = new Set<Promise<unknown>>();
  private seq = 0;
  private rebinds = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private rebindTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly bufferBytes: number;

  private constructor(listenSocket: dgram.Socket, target: ProxyEndpoint, options: UdpProxyOptions) {
    this.listenSocket = listenSocket;
    this.target = target;
    this.options = options;
    const a = listenSocket.address();
    this.address = { address: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
    this.upstreamType = isIP(target.address) === 6 ? "udp6" : "udp4";
    this.upstreamAddress = options.upstreamAddress ?? (this.upstreamType === "udp6" ? "::1" : "127.0.0.1");
    this.bufferBytes = options.socketBufferBytes ?? DEFAULT_BUFFER_BYTES;
    const seed = options.seed ?? 1;
    // Separate generators: the fate of one direction's n-th datagram does not depend on the other direction.
    this.impair = {
      clientToServer: new DirectionImpairment(seed, options.clientToServer ?? {}),
      serverToClient: new DirectionImpairment((seed ^ 0x5bd1e995) >>> 0, options.serverToClient ?? {}),
    };
    listenSocket.on("message", (msg, rinfo) => this.fromClient(msg, { address: rinfo.address, port: rinfo.port }));
    // A UDP socket reports errors as events; without a listener they would crash the process.
    listenSocket.on("error", () => {});
    if (options.rebind) {
      const { everyMs, newAddress } = options.rebind;
      if (!(everyMs > 0)) throw new RangeError("rebind.everyMs must be > 0");
      this.rebindTimer = setInterval(() => {
        this.rebind({ newAddress: newAddress ?? false }).catch(() => {});
      }, everyMs);
      this.rebindTimer.unref();
    }
  }

  /** Binds the listen socket and starts relaying. */
  static async start(options: UdpProxyOptions): Promise<UdpProxy> {
    const listen = await resolve(options.listen);
    const target = await resolve(options.target);
    const socket = dgram.createSocket(isIP(listen.address) === 6 ? "udp6" : "udp4");
    try {
      await bindSocket(socket, listen.address, listen.port, options.socketBufferBytes ?? DEFAULT_BUFFER_BYTES);
      return new UdpProxy(socket, target, options);
    } catch (e) {
      await closeSocket(socket);
      throw e;
    }
  }

  /** Milliseconds since the proxy started (the clock of blackholes and hooks). */
  now(): number {
    return performance.now() - this.startedAt;
  }

  /** Replaces the impairments of one direction; datagram indices and queues carry on. */
  setConditions(direction: ProxyDirection, conditions: ProxyConditions): void {
    this.impair[direction].set(conditions);
  }

  /** The current impairments of one direction. */
  conditions(direction: ProxyDirection): ProxyConditions {
    return this.impair[direction].get();
  }

  /** A snapshot of the counters. */
  get stats(): ProxyStats {
    return {
      clientToServer: copyDirectionStats(this.impair.clientToServer.stats),
      serverToClient: copyDirectionStats(this.impair.serverToClient.stats),
      clients: this.sessions.size,
      rebinds: this.rebinds,
    };
  }

  /** The clients seen so far and the address the server sees for each. */
  clients(): ProxyClientInfo[] {
    return [...this.sessions.values()].map((s) => {
      const a = s.upstream.address();
      return { client: { ...s.client }, upstream: { address: a.address, port: a.port } };
    });
  }

  /**
   * NAT rebinding: gives every client (or only `client`) a new upstream socket
   * with a new source port, or with `newAddress` a new source address
   * 127.0.0.x (x = 2, 3, ... per client; IPv4 only, an IPv6 proxy changes the
   * port only). Later replies to the old socket are dropped as "stale".
   * Resolves with the new upstream addresses.
   */
  async rebind(opts: { newAddress?: boolean; client?: ProxyEndpoint } = {}): Promise<ProxyEndpoint[]> {
    if (this.closed) return [];
    let sessions = [...this.sessions.values()];
    if (opts.client) sessions = sessions.filter((s) => key(s.client) === key(opts.client!));
    const work = Promise.all(sessions.map((s) => this.rebindSession(s, opts.newAddress ?? false)));
    this.pendingRebinds.add(work);
    try {
      return (await work).filter((e): e is ProxyEndpoint => e !== undefined);
    } finally {
      this.pendingRebinds.delete(work);
    }
  }

  /** Stops relaying: closes every socket and timer; datagrams still delayed are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.rebindTimer);
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const p of this.queue.drain()) this.impair[p.direction].countDrop("closed", p.payload.length);
    await Promise.allSettled([...this.pendingRebinds]);
    const sockets: dgram.Socket[] = [this.listenSocket];
    for (const s of this.sessions.values()) sockets.push(s.upstream, ...s.stale);
    await Promise.all(sockets.map(closeSocket));
  }

  private async rebindSession(s: Session, newAddress: boolean): Promise<ProxyEndpoint | undefined> {
    let host = s.host;
    if (newAddress && this.upstreamType === "udp4") {
      host = `127.0.0.${s.nextHost}`;
      s.nextHost = s.nextHost >= 254 ? 2 : s.nextHost + 1;
    }
    const socket = this.upstreamSocket(s);
    try {
      await bindSocket(socket, host, 0, this.bufferBytes);
    } catch (e) {
      await closeSocket(socket);
      throw e;
    }
    if (this.closed) {
      await closeSocket(socket);
      return undefined;
    }
    s.stale.push(s.upstream);
    const max = this.options.staleSockets ?? 4;
    while (s.stale.length > max) void closeSocket(s.stale.shift()!);
    s.upstream = socket;
    s.host = host;
    this.rebinds++;
    const a = socket.address();
    return { address: a.address, port: a.port };
  }

  private upstreamSocket(s: Session): dgram.Socket {
    const socket = dgram.createSocket(this.upstreamType);
    socket.on("message", (msg, rinfo) => {
      // Like an address-restricted NAT: only the target may answer.
      if (rinfo.port !== this.target.port || rinfo.address !== this.target.address) return;
      this.fromServer(s, socket, msg);
    });
    socket.on("error", () => {});
    return socket;
  }

  private fromClient(msg: Buffer, from: ProxyEndpoint): void {
    if (this.closed) return;
    let s = this.sessions.get(key(from));
    if (!s) {
      s = { client: from, upstream: undefined as unknown as dgram.Socket, host: this.upstreamAddress, stale: [], nextHost: 2 };
      s.upstream = this.upstreamSocket(s);
      // Sends issued while binding are queued by dgram, so the first datagram need not wait.
      bindSocket(s.upstream, s.host, 0, this.bufferBytes).catch(() => {});
      this.sessions.set(key(from), s);
    }
    this.admit("clientToServer", s, msg);
  }

  private fromServer(s: Session, socket: dgram.Socket, msg: Buffer): void {
    if (this.closed) return;
    if (socket !== s.upstream) {
      // The NAT mapping this reply targets is gone.
      const t = this.now();
      this.options.onReceive?.("serverToClient", msg, t);
      this.impair.serverToClient.countReceived(msg.length);
      this.impair.serverToClient.countDrop("stale", msg.length);
      return;
    }
    this.admit("serverToClient", s, msg);
  }

  private admit(direction: ProxyDirection, s: Session, msg: Buffer): void {
    const t = this.now();
    const payload = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    this.options.onReceive?.(direction, payload, t);
    const out: Emission[] = this.impair[direction].admit(payload, t);
    for (const e of out) {
      if (e.due <= t) this.emit(direction, s, e.payload);
      else this.queue.push({ due: e.due, seq: this.seq++, direction, session: s, payload: e.payload });
    }
    this.arm();
  }

  private arm(): void {
    const next = this.queue.peek();
    if (!next) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerDue = Infinity;
      return;
    }
    if (this.timer && this.timerDue <= next.due) return;
    clearTimeout(this.timer);
    this.timerDue = next.due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next.due - this.now()));
    // The sockets keep the process alive while the proxy is open; the timer need not.
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Infinity;
    if (this.closed) return;
    const limit = this.now() + TIMER_SLACK_MS;
    for (let p = this.queue.peek(); p && p.due <= limit; p = this.queue.peek()) {
      this.queue.pop();
      this.emit(p.direction, p.session, p.payload);
    }
    this.arm();
  }

  private emit(direction: ProxyDirection, s: Session, payload: Uint8Array): void {
    const imp = this.impair[direction];
    // The socket is looked up now: a datagram delayed across a rebinding leaves through the new mapping.
    const socket = direction === "clientToServer" ? s.upstream : this.listenSocket;
    const to = direction === "clientToServer" ? this.target : s.client;
    imp.countForward(payload.length);
    this.options.onForward?.(direction, payload, this.now());
    const failed = (reason: DropReason): void => {
      imp.stats.forwarded--;
      imp.stats.forwardedBytes -= payload.length;
      imp.countDrop(reason, payload.length);
    };
    try {
      socket.send(payload, to.port, to.address, (err) => {
        if (err) failed("error");
      });
    } catch {
      failed("error");
    }
  }
}
