/**
 * A client's migrations to new local UDP sockets (RFC 9000 section 9.2)
 * as promises: started through {@link UdpEndpoint.migrate}, settled by
 * the connection's `path_validated` / `path_validation_failed` events.
 * Shared by the APIs that offer migration (`QuicSocket.migrate()` of
 * quic(), `QuicClientSession.setSocket()` of the Node-style API).
 */
import type { Connection } from "../quic/connection.js";
import type { PathAddresses, PathEvent } from "../quic/path/index.js";
import { formatAddress, type SocketAddress } from "../quic/types.js";
import { TsquicError } from "../util/errors.js";
import type { UdpEndpoint } from "./udp-endpoint.js";

/** How long the socket a migration left keeps receiving packets already on their way to it (ms). */
const OLD_SOCKET_GRACE_MS = 1000;

/** Options of a migration: the new socket's local address and port, or a NAT rebinding. */
export interface MigrateOptions {
  /** Local address of the new socket (default: the wildcard of the current family). */
  address?: string;
  /** Local port of the new socket (default: a free one). */
  port?: number;
  /** Move at once, without validation or new connection ID, as a NAT rebinding would look to the server. */
  natRebinding?: boolean;
}

const sameAddress = (a: SocketAddress | undefined, b: SocketAddress | undefined): boolean => a === b || (a !== undefined && b !== undefined && a.port === b.port && a.address === b.address);

/** The migrations under way on one client connection. */
export class Migrations {
  readonly #pending: Array<{ local: SocketAddress; resolve: (p: PathAddresses) => void; reject: (e: Error) => void }> = [];

  constructor(
    private readonly udp: UdpEndpoint,
    private readonly connection: Connection,
  ) {}

  /**
   * Binds a new socket and moves the connection there. Resolves with the
   * new path once the server answered the probe and the connection moved
   * (at once with `natRebinding`); rejects when validation fails or the
   * move is not allowed (the connection then stays where it was).
   */
  async start(options: MigrateOptions = {}): Promise<PathAddresses> {
    const local = await this.udp.migrate(this.connection, options);
    if (options.natRebinding) return { local: { ...local }, remote: { ...this.connection.remote } };
    return new Promise<PathAddresses>((resolve, reject) => this.#pending.push({ local, resolve, reject }));
  }

  /** Settles the migration a path event is about; closes the socket a successful one left, after a grace period. */
  onPathEvent(e: PathEvent): void {
    if (e.type === "path_validated") {
      this.#settle(e.path, undefined);
      const old = e.previous.local;
      if (this.connection.role === "client" && old && e.path.local && !sameAddress(old, e.path.local)) {
        const udp = this.udp;
        setTimeout(() => udp.removeSocket(old), OLD_SOCKET_GRACE_MS).unref();
      }
    } else if (e.type === "path_validation_failed") {
      this.#settle(e.path, pathValidationError(e.path, e.aborted));
    }
  }

  /** The connection closed: every migration under way fails with `error`. */
  abort(error: Error | undefined): void {
    for (const m of this.#pending.splice(0)) m.reject(error ?? new TsquicError("ERR_QUIC_CONNECTION_CLOSED", "the connection closed during migration"));
  }

  #settle(path: PathAddresses, error: Error | undefined): void {
    const i = this.#pending.findIndex((m) => sameAddress(m.local, path.local));
    if (i < 0) return;
    const [m] = this.#pending.splice(i, 1);
    if (error) {
      this.udp.removeSocket(m!.local);
      m!.reject(error);
    } else {
      m!.resolve(path);
    }
  }
}

/** The error of a failed path validation (RFC 9000 section 8.2.4). */
function pathValidationError(path: PathAddresses, aborted: boolean): TsquicError {
  return new TsquicError(
    "ERR_QUIC_PATH_VALIDATION_FAILED",
    aborted ? "migration abandoned for a newer one" : `path validation from ${path.local ? formatAddress(path.local) : "?"} to ${formatAddress(path.remote)} failed: no PATH_RESPONSE in time (RFC 9000 section 8.2.4)`,
  );
}
