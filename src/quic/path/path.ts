/**
 * One network path of a connection: the pair of addresses, what we know
 * of its validity (RFC 9000 section 8.2) and the anti-amplification
 * account of a peer address not yet validated (section 8.1 and 9.3).
 */
import type { ConnectionIdEntry } from "../cid.js";
import type { PathInfo, SocketAddress } from "../types.js";

/** An endpoint may send at most three times the bytes it received on an unvalidated path (RFC 9000 sections 8.1, 9.3). */
export const PATH_AMPLIFICATION_FACTOR = 3;

/** Length of the PATH_CHALLENGE payload (RFC 9000 section 19.17). */
export const PATH_CHALLENGE_LENGTH = 8;

/** The two addresses that name a path, as events report them. */
export interface PathAddresses {
  /** Our address; undefined when the driver did not say (one wildcard socket). */
  local: SocketAddress | undefined;
  /** The peer's address. */
  remote: SocketAddress;
}

/** True when two addresses are the same IP and port. */
export function sameAddress(a: SocketAddress | undefined, b: SocketAddress | undefined): boolean {
  if (a === b) return true;
  return a !== undefined && b !== undefined && a.port === b.port && a.address === b.address;
}

/** A network path and its validation state. */
export class NetworkPath implements PathAddresses {
  /** Our address on this path. */
  readonly local: SocketAddress | undefined;
  /** The peer's address on this path. */
  readonly remote: SocketAddress;
  /** Path validation succeeded here, or was not needed (RFC 9000 section 8.2). */
  validated: boolean;
  /** The peer's address is known to be the peer's: no amplification limit (RFC 9000 section 8.1). */
  addressValidated: boolean;
  /** Bytes received and sent while the address was unvalidated. */
  bytesReceived = 0;
  bytesSent = 0;
  /** The peer CID reserved for this path while it is not the active one (RFC 9000 section 9.5). */
  dcid: ConnectionIdEntry | undefined;
  /** The server's preferred address (RFC 9000 section 9.6), probed by a client. */
  preferred = false;
  /** A probe we start moves the connection once validated; a server's probe of a path the peer probes waits for the peer's packets. */
  moveWhenValidated = true;
  /**
   * The path we left for one the peer seemed to move to, challenged in
   * case the move was an attacker's copy of its packets: an answer before
   * the new path's brings the connection back (RFC 9000 section 9.3.3).
   */
  spuriousMoveCheck = false;
  /** Challenges sent and not yet answered, newest last; any answer validates (RFC 9000 section 8.2.3). */
  readonly challenges: Uint8Array[] = [];
  /** When the first challenge left, for an RTT sample of the new path. */
  firstChallengeAt = -1;
  /** A challenge is due at or after this time; Infinity when none. */
  nextChallengeAt = Infinity;
  /** Retransmission interval of challenges; doubles each time (RFC 9000 section 8.2.1). */
  challengeInterval = 0;
  /** Validation fails at this time (RFC 9000 section 8.2.4); Infinity when not validating. */
  validationDeadline = Infinity;

  constructor(local: SocketAddress | undefined, remote: SocketAddress, validated: boolean) {
    this.local = local;
    this.remote = remote;
    this.validated = validated;
    this.addressValidated = validated;
  }

  /** True when a datagram travelled on this path (our local address is compared only when both are known). */
  matches(info: PathInfo): boolean {
    return sameAddress(this.remote, info.from) && (this.local === undefined || info.to === undefined || sameAddress(this.local, info.to));
  }

  /** Bytes we may still send here: Infinity once the address is validated, else 3x received less sent. */
  get budget(): number {
    return this.addressValidated ? Infinity : PATH_AMPLIFICATION_FACTOR * this.bytesReceived - this.bytesSent;
  }

  /** True while a validation runs on this path. */
  get validating(): boolean {
    return this.validationDeadline !== Infinity;
  }

  /** Stops validating (success, failure or abandon). */
  endValidation(): void {
    this.challenges.length = 0;
    this.nextChallengeAt = Infinity;
    this.validationDeadline = Infinity;
  }

  /** The addresses, as a plain object safe to hand to the application. */
  addresses(): PathAddresses {
    return { local: this.local && { ...this.local }, remote: { ...this.remote } };
  }
}
