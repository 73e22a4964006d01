import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import type { Connection } from "../quic/connection.js";
import { Endpoint, type EndpointOptions } from "../quic/endpoint.js";
import type { OutgoingDatagram, SocketAddress } from "../quic/types.js";

/** Milliseconds since the Unix epoch with sub-millisecond precision: the core's clock. */
export function clock(): number {
  return performance.timeOrigin + performance.now();
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
  /** Receive / send buffer sizes in bytes (best effort; the kernel caps them). */
  recvBufferSize?: number;
  sendBufferSize?: number;
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
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private flushScheduled = false;
  private closed = false;
  private refed = true;
  private readonly touched = new Set<Connection>();
  private readonly activity: ConnectionActivityHandler;
  private readonly onSocketError: (err: Error) => void;

  private constructor(socket: dgram.Socket, options: UdpEndpointOptions, activity: ConnectionActivityHandler, onSocketError: (err: Error) => void) {
    this.socket = socket;
    this.endpoint = new Endpoint(options);
    this.activity = activity;
    this.onSocketError = onSocketError;
    socket.on("message", (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on("error", (err) => this.onSocketError(err));
  }

  /** Binds a UDP socket and starts the endpoint. */
  static async bind(options: UdpEndpointOptions, activity: ConnectionActivityHandler, onSocketError: (err: Error) => void = () => {}): Promise<UdpEndpoint> {
    const ipv6 = options.ipv6 ?? (options.address !== undefined && isIPv6(options.address));
    const socket = dgram.createSocket({ type: ipv6 ? "udp6" : "udp4", ...(options.ipv6Only ? { ipv6Only: true } : {}) });
    const ep = new UdpEndpoint(socket, options, activity, onSocketError);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      socket.once("error", onError);
      socket.bind({ port: options.port ?? 0, address: options.address ?? (ipv6 ? "::" : "0.0.0.0"), exclusive: true }, () => {
        socket.off("error", onError);
        resolve();
      });
    });
    try {
      if (options.recvBufferSize) socket.setRecvBufferSize(options.recvBufferSize);
      if (options.sendBufferSize) socket.setSendBufferSize(options.sendBufferSize);
    } catch {
      // Buffer sizes are a hint; the kernel may refuse them.
    }
    const a = socket.address();
    ep.localAddress = { address: a.address, port: a.port };
    return ep;
  }

  /** The bound local address. */
  get address(): SocketAddress {
    return this.localAddress;
  }

  /** True after {@link close}. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Starts a client connection from this socket. */
  connect(options: { serverName?: string; remote: SocketAddress; sessionTicket?: Uint8Array }): Connection {
    const c = this.endpoint.connect({ ...options, local: this.localAddress, now: clock() });
    this.touch(c);
    return c;
  }

  /** Marks a connection as changed by the application (a write, a close): it will be flushed this turn. */
  touch(c: Connection): void {
    this.touched.add(c);
    this.scheduleFlush();
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const c = this.endpoint.recv(msg, { from: { address: rinfo.address, port: rinfo.port }, to: this.localAddress }, clock());
    if (c) this.touched.add(c);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Dispatches events, sends everything that is ready and re-arms the timer. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    // Events first: handlers may write, which produces more to send.
    this.dispatch();
    const now = clock();
    let sent = 0;
    for (let d = this.endpoint.send(now); d; d = this.endpoint.send(now)) {
      this.transmit(d);
      // Yield to the event loop now and then so receives and timers are not starved.
      if (++sent >= 256) {
        this.scheduleFlush();
        break;
      }
    }
    // Sending can close connections (e.g. a close frame) or surface events.
    this.dispatch();
    this.armTimer();
  }

  private dispatch(): void {
    if (this.touched.size === 0) return;
    const list = [...this.touched];
    this.touched.clear();
    for (const c of list) this.activity(c);
  }

  private transmit(d: OutgoingDatagram): void {
    // node:dgram copies nothing until the send completes; our buffers are not reused, so no copy is needed.
    this.sendsInFlight++;
    this.socket.send(d.data, d.to.port, d.to.address, (err) => {
      if (err && !this.closed) this.onSocketError(err);
      if (--this.sendsInFlight === 0 && this.onSendsDrained) {
        const f = this.onSendsDrained;
        this.onSendsDrained = undefined;
        f();
      }
    });
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
    this.timer?.unref();
  }

  /** Keeps the process alive while this socket is open (the default). */
  ref(): void {
    this.refed = true;
    this.socket.ref();
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
