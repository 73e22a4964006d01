import dgram from "node:dgram";
import { lookup as dnsLookup, type LookupOneOptions } from "node:dns";
import { isIP, isIPv6 } from "node:net";
import type { ClientConnectionOptions, Connection } from "../quic/connection.js";
import { TsquicError } from "../util/errors.js";
import type { ConnectionConfig, ResolvedConfig } from "../quic/config.js";
import { Endpoint, type EndpointOptions } from "../quic/endpoint.js";
import type { PreferredAddressConfig } from "../quic/path/preferred.js";
import type { OutgoingDatagram, SocketAddress } from "../quic/types.js";

/** Milliseconds since the Unix epoch with sub-millisecond precision: the core's clock. */
export function clock(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Default socket buffer size. Linux's default receive buffer (208 KiB) holds
 * under a hundred full-sized datagrams, so a burst of one congestion window
 * overflows it whenever the receiving process is busy for a moment, and
 * every such drop halves the sender's window. The buffer only costs memory
 * while datagrams wait in it.
 */
export const DEFAULT_SOCKET_BUFFER_SIZE = 4 * 1024 * 1024;

/**
 * The socket's address lookup. node:dgram resolves the destination of every
 * send through dns.lookup, which answers even an IP literal on a later tick
 * (a tick and a lookup per datagram). Literals (all this driver sends to)
 * are answered at once, so the datagram leaves inside send(); names still
 * go to dns.lookup.
 */
const literalLookup = ((hostname: string, options: unknown, callback: (err: Error | null, address: string, family: number) => void): void => {
  const family = isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dnsLookup(hostname, options as LookupOneOptions, callback as (err: NodeJS.ErrnoException | null, address: string, family: number) => void);
}) as unknown as typeof dnsLookup;

function ignoreErrors(f: () => void): void {
  try {
    f();
  } catch {
    // deliberately ignored
  }
}

/** Options of a {@link UdpEndpoint}. */
export interface UdpEndpointOptions extends EndpointOptions {
  /** Local address to bind. Default "0.0.0.0" (or "::" when `ipv6`). */
  address?: string;
  /** Local port; 0 picks a free one. */
  port?: number;
  /** Bind an IPv6 socket. Default: when `address` is an IPv6 literal. */
  ipv6?: boolean;
  /** For IPv6 sockets: refuse IPv4-mapped traffic. */
  ipv6Only?: boolean;
  /**
   * Receive / send buffer sizes in bytes (best effort; the kernel caps them
   * at net.core.rmem_max / wmem_max). Default {@link DEFAULT_SOCKET_BUFFER_SIZE}.
   */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /**
   * Server: addresses to offer clients in preferred_address (RFC 9000
   * section 9.6). A socket is bound on each (port 0 picks a free one) and
   * the bound addresses go into `config.preferredAddress`.
   */
  preferredAddress?: PreferredAddressConfig;
}

/** One bound socket and the local address datagrams arriving on it are reported with. */
interface BoundSocket {
  socket: dgram.Socket;
  address: SocketAddress;
}

/** Binds a UDP socket; resolves with it and its bound address. */
async function bindSocket(address: string, port: number, ipv6: boolean, ipv6Only: boolean): Promise<BoundSocket> {
  const socket = dgram.createSocket({ type: ipv6 ? "udp6" : "udp4", lookup: literalLookup, ...(ipv6Only ? { ipv6Only: true } : {}) });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once("error", onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off("error", onError);
      resolve();
    });
  });
  const a = socket.address();
  return { socket, address: { address: a.address, port: a.port } };
}

/** Receives the events of connections touched by an I/O or timer pass. */
export type ConnectionActivityHandler = (connection: Connection) => void;

/**
 * The driver: one `node:dgram` socket, one sans-IO {@link Endpoint} and one
 * timer for all its connections. It is the only layer that touches
 * sockets, timers and the clock. Received datagrams are processed as they
 * come; the datagrams they cause are sent once per event-loop turn, so
 * acknowledgements and data produced by a burst of arrivals go out
 * together.
 */
export class UdpEndpoint {
  /** The sans-IO endpoint. */
  readonly endpoint: Endpoint;
  private readonly socket: dgram.Socket;
  private localAddress: SocketAddress = { address: "0.0.0.0", port: 0 };
  /** Sockets besides the first: a server's preferred addresses, a client's new socket after {@link migrate}. */
  private readonly extraSockets: BoundSocket[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private flushScheduled = false;
  /** A send pass is queued behind the handlers' promise continuations. */
  private sendPending = false;
  private closed = false;
  private refed = true;
  private readonly touched = new Set<Connection>();
  private readonly activity: ConnectionActivityHandler;
  private readonly onSocketError: (err: Error) => void;
  /** Gate on received datagrams: false drops one before the endpoint sees it (block lists, diagnostic loss). */
  acceptDatagram: ((from: SocketAddress) => boolean) | undefined;
  /** Gate on datagrams to send: false drops one (diagnostic loss). */
  sendDatagram: ((d: OutgoingDatagram) => boolean) | undefined;

  private constructor(bound: BoundSocket, options: UdpEndpointOptions, activity: ConnectionActivityHandler, onSocketError: (err: Error) => void) {
    this.socket = bound.socket;
    this.localAddress = bound.address;
    // The driver completes each burst itself before it leaves: one header-protection call per burst.
    this.endpoint = new Endpoint({ ...options, batchHeaderProtection: true });
    this.activity = activity;
    this.onSocketError = onSocketError;
    this.listen(bound);
  }

  /** Binds a UDP socket (and one per preferred address) and starts the endpoint. */
  static async bind(options: UdpEndpointOptions, activity: ConnectionActivityHandler, onSocketError: (err: Error) => void = () => {}): Promise<UdpEndpoint> {
    const ipv6 = options.ipv6 ?? (options.address !== undefined && isIPv6(options.address));
    const extra: BoundSocket[] = [];
    let bound: BoundSocket | undefined;
    try {
      const preferred: PreferredAddressConfig = {};
      for (const family of ["ipv4", "ipv6"] as const) {
        const want = options.preferredAddress?.[family];
        if (!want) continue;
        const b = await bindSocket(want.address, want.port, family === "ipv6", family === "ipv6");
        extra.push(b);
        preferred[family] = b.address;
      }
      bound = await bindSocket(options.address ?? (ipv6 ? "::" : "0.0.0.0"), options.port ?? 0, ipv6, options.ipv6Only ?? false);
      const config = options.preferredAddress ? { ...options.config, preferredAddress: preferred } : options.config;
      const ep = new UdpEndpoint(bound, { ...options, config }, activity, onSocketError);
      for (const b of extra) ep.addBound(b);
      for (const { socket } of [bound, ...extra]) {
        // Buffer sizes are a hint; the kernel may refuse them.
        ignoreErrors(() => socket.setRecvBufferSize(options.recvBufferSize || DEFAULT_SOCKET_BUFFER_SIZE));
        ignoreErrors(() => socket.setSendBufferSize(options.sendBufferSize || DEFAULT_SOCKET_BUFFER_SIZE));
      }
      return ep;
    } catch (e) {
      for (const b of bound ? [bound, ...extra] : extra) b.socket.close();
      throw e;
    }
  }

  private listen(b: BoundSocket): void {
    b.socket.on("message", (msg, rinfo) => this.onMessage(msg, rinfo, b.address));
    b.socket.on("error", (err) => this.onSocketError(err));
  }

  private addBound(b: BoundSocket): void {
    this.listen(b);
    if (!this.refed) b.socket.unref();
    this.extraSockets.push(b);
  }

  /** Every local address this endpoint receives on: the first socket's, then the others'. */
  get addresses(): SocketAddress[] {
    return [this.localAddress, ...this.extraSockets.map((b) => b.address)];
  }

  /**
   * Binds one more socket feeding the same endpoint (same family as the
   * first unless `address` says otherwise; port 0 picks a free one) and
   * returns its address. Datagrams a connection sends from that address
   * leave through it.
   */
  async addSocket(options: { address?: string; port?: number } = {}): Promise<SocketAddress> {
    if (this.closed) throw new TsquicError("ERR_QUIC_ENDPOINT_CLOSED", "the UDP endpoint is closed");
    const family = this.socket.address().family;
    const ipv6 = options.address !== undefined ? isIPv6(options.address) : family === "IPv6";
    const b = await bindSocket(options.address ?? (ipv6 ? "::" : "0.0.0.0"), options.port ?? 0, ipv6, false);
    if (this.closed) {
      b.socket.close();
      throw new TsquicError("ERR_QUIC_ENDPOINT_CLOSED", "the UDP endpoint is closed");
    }
    this.addBound(b);
    return b.address;
  }

  /** Closes a socket opened by {@link addSocket} (the first socket stays until {@link close}). */
  removeSocket(address: SocketAddress): void {
    const i = this.extraSockets.findIndex((b) => b.address.port === address.port && b.address.address === address.address);
    if (i < 0) return;
    const [b] = this.extraSockets.splice(i, 1);
    b!.socket.close();
  }

  /**
   * Client: moves `connection` to a new socket (RFC 9000 section 9.2):
   * binds it, then starts {@link Connection.migrate} from its address.
   * Resolves with the new local address once the probe is under way; the
   * connection's `path_validated` / `path_validation_failed` event tells
   * the outcome (close the socket of the path left behind with
   * {@link removeSocket}).
   */
  async migrate(connection: Connection, options: { address?: string; port?: number; natRebinding?: boolean } = {}): Promise<SocketAddress> {
    const local = await this.addSocket(options);
    try {
      connection.migrate(local, clock(), { natRebinding: options.natRebinding ?? false });
    } catch (e) {
      this.removeSocket(local);
      throw e;
    }
    this.touch(connection);
    return local;
  }

  /** The bound local address. */
  get address(): SocketAddress {
    return this.localAddress;
  }

  /** True after {@link close}. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** The dgram socket, for socket options (TTL, multicast, broadcast). */
  get dgram(): dgram.Socket {
    return this.socket;
  }

  /** Starts a client connection from this socket; `config` replaces the endpoint's for this connection. */
  connect(options: Omit<ClientConnectionOptions, "config" | "statelessResetKey" | "local" | "now"> & { config?: ConnectionConfig | ResolvedConfig }): Connection {
    const c = this.endpoint.connect({ ...options, local: this.localAddress, now: clock() });
    this.touch(c);
    return c;
  }

  /** Marks a connection as changed by the application (a write, a close): it will be flushed this turn. */
  touch(c: Connection): void {
    this.endpoint.wake(c);
    this.touched.add(c);
    this.scheduleFlush();
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo, local: SocketAddress): void {
    if (this.closed) return;
    if (this.acceptDatagram && !this.acceptDatagram({ address: rinfo.address, port: rinfo.port })) return;
    const c = this.endpoint.recv(msg, { from: { address: rinfo.address, port: rinfo.port }, to: local }, clock());
    if (c) this.touched.add(c);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.sendPending || this.closed) return;
    this.flushScheduled = true;
    setImmediate(this.flushFromLoop);
  }

  private readonly flushFromLoop = (): void => {
    this.flushScheduled = false;
    if (this.closed) return;
    // Events first: handlers may write, which produces more to send.
    const dispatched = this.dispatch();
    // What is already due (ACKs, handshake flights) leaves before any
    // handler continuation can change the connection (a close must not
    // overtake the handshake's last flight).
    this.sendAll();
    if (!dispatched || this.closed) return;
    // Handlers answer from promise continuations (an awaited quic(), a fetch
    // handler's response): send again once they have all run, in this same
    // turn of the event loop rather than the next. A tick queued from a
    // microtask runs after the whole microtask queue.
    this.sendPending = true;
    queueMicrotask(this.deferSend);
  };

  private readonly deferSend = (): void => {
    process.nextTick(this.sendAfterHandlers);
  };

  private readonly sendAfterHandlers = (): void => {
    this.sendPending = false;
    if (!this.closed) this.sendAll();
  };

  /** Dispatches events, then sends everything that is ready and re-arms the timer, all at once. */
  private flush(): void {
    this.flushScheduled = false;
    this.sendPending = false;
    if (this.closed) return;
    this.dispatch();
    this.sendAll();
  }

  /** Sends everything that is ready, surfaces what sending changed, and re-arms the timer. */
  private sendAll(): void {
    const now = clock();
    const batch = this.batch;
    let sent = 0;
    for (let d = this.endpoint.send(now); d; d = this.endpoint.send(now)) {
      batch.push(d);
      // Yield to the event loop now and then so receives and timers are not starved.
      if (++sent >= 256) {
        this.scheduleFlush();
        break;
      }
    }
    this.transmitBatch();
    // Sending can close connections (e.g. a close frame) or surface events.
    this.dispatch();
    this.armTimer();
  }

  /** Hands touched connections to the activity handler; false when there were none. */
  private dispatch(): boolean {
    if (this.touched.size === 0) return false;
    const list = [...this.touched];
    this.touched.clear();
    for (const c of list) this.activity(c);
    return true;
  }

  /**
   * Datagrams of the current pass, handed to the socket once the pass is
   * built: a peer woken by a burst reads it in one go and acknowledges it
   * once, where datagrams sent one by one as they are built wake a fast
   * receiver (ngtcp2) for each and draw an ACK every other packet, which
   * cost this sender 35 % more CPU.
   */
  private readonly batch: OutgoingDatagram[] = [];

  private transmitBatch(): void {
    this.endpoint.finishSends();
    const batch = this.batch;
    for (let i = 0; i < batch.length; i++) this.transmit(batch[i]!);
    batch.length = 0;
  }

  private transmit(d: OutgoingDatagram): void {
    if (this.sendDatagram && !this.sendDatagram(d)) return;
    // node:dgram copies nothing until the send completes; our buffers are not reused, so no copy is needed.
    this.sendsInFlight++;
    this.socketFor(d.from).send(d.data, d.to.port, d.to.address, this.onSent);
  }

  /** Completion of every send: one function for all of them rather than a closure per datagram. */
  private readonly onSent = (err: Error | null): void => {
    if (err && !this.closed) this.onSocketError(err);
    if (--this.sendsInFlight === 0 && this.onSendsDrained) {
      const f = this.onSendsDrained;
      this.onSendsDrained = undefined;
      f();
    }
  };

  /** The socket bound to `from`; the first socket when there is one socket or no match. */
  private socketFor(from: SocketAddress | undefined): dgram.Socket {
    if (from === undefined || from === this.localAddress) return this.socket;
    for (const b of this.extraSockets) if (b.address === from || (b.address.port === from.port && b.address.address === from.address)) return b.socket;
    return this.socket;
  }

  private armTimer(): void {
    const t = this.endpoint.timeout();
    const at = t === undefined ? Infinity : t;
    if (at === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Infinity || this.closed) return;
    const delay = Math.max(0, at - clock());
    this.timer = setTimeout(() => this.onTimer(), Math.ceil(delay));
    if (!this.refed) this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    for (const c of this.endpoint.onTimeout(clock())) this.touched.add(c);
    this.flush();
  }

  /** Lets the process exit while this socket is open. */
  unref(): void {
    this.refed = false;
    this.socket.unref();
    for (const b of this.extraSockets) b.socket.unref();
    this.timer?.unref();
  }

  /** Keeps the process alive while this socket is open (the default). */
  ref(): void {
    this.refed = true;
    this.socket.ref();
    for (const b of this.extraSockets) b.socket.ref();
    this.timer?.ref();
  }

  /**
   * Closes the socket; connections are abandoned (close them first for a
   * clean shutdown). Datagrams already handed to the socket still go out:
   * node:dgram resolves the destination on a later tick before sending, so
   * closing at once would drop a final CONNECTION_CLOSE.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return new Promise((resolve) => {
      const finish = (): void => {
        for (const b of this.extraSockets.splice(0)) b.socket.close();
        this.socket.close(() => resolve());
      };
      if (this.sendsInFlight === 0) setImmediate(finish);
      else this.onSendsDrained = finish;
    });
  }

  private sendsInFlight = 0;
  private onSendsDrained: (() => void) | undefined;

  /** Flushes pending datagrams now (used before closing). */
  flushNow(): void {
    if (!this.closed) this.flush();
  }
}
