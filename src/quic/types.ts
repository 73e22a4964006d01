/** A UDP address: IP literal and port. */
export interface SocketAddress {
  /** IPv4 or IPv6 literal, e.g. `127.0.0.1` or `::1`. */
  address: string;
  /** UDP port. */
  port: number;
}

/** Where a datagram came from and where it arrived (the local address matters for migration). */
export interface PathInfo {
  /** The peer's address. */
  from: SocketAddress;
  /** Our local address the datagram arrived on. */
  to: SocketAddress;
}

/**
 * A datagram the core wants sent. `sendAt` is the pacing time: the earliest
 * moment (ms, same clock as `now`) the driver should put it on the wire.
 */
export interface OutgoingDatagram {
  data: Uint8Array;
  to: SocketAddress;
  /** The local address to send from (a driver with several sockets picks that one); the driver's default when absent. */
  from?: SocketAddress | undefined;
  sendAt: number;
}

/**
 * The sans-IO contract every QUIC participant (a single connection or a
 * whole endpoint) offers its driver, after quiche's recv/send/timeout/on_timeout.
 * Time is always passed in as milliseconds since the Unix epoch (fractions
 * allowed; certificate validity is checked against it); the core never reads a clock.
 */
export interface SansIo {
  /** Processes one received UDP datagram. Never throws for bad input. */
  recv(datagram: Uint8Array, path: PathInfo, now: number): void;
  /** The next datagram to send, or null when there is nothing to send now. */
  send(now: number): OutgoingDatagram | null;
  /** The next absolute deadline (ms) at which {@link onTimeout} must be called, or undefined. */
  timeout(): number | undefined;
  /** Runs timers that have expired at `now`. */
  onTimeout(now: number): void;
}

/** Formats an address for messages and map keys: `1.2.3.4:443` or `[::1]:443`. */
export function formatAddress(a: SocketAddress): string {
  return a.address.includes(":") ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
