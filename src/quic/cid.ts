import { randomBytesFast } from "../crypto/random.js";
import { equalBytes, toHex } from "../util/bytes.js";
import { QuicTransportError, TransportErrorCode } from "./errors.js";
export { statelessResetToken as resetTokenFor } from "./packet/stateless-reset.js";

/** One connection ID with its sequence number and stateless reset token. */
export interface ConnectionIdEntry {
  sequence: number;
  cid: Uint8Array;
  /** Stateless reset token; absent for the handshake CIDs that carry none. */
  resetToken?: Uint8Array;
}

/** A fresh random connection ID of `length` bytes. */
export function randomConnectionId(length = 8): Uint8Array {
  return randomBytesFast(length);
}

/**
 * The connection IDs we issued to the peer, which it puts in the
 * destination field to reach us (RFC 9000 section 5.1.1). Sequence 0 is the
 * one from the handshake; later ones travel in NEW_CONNECTION_ID frames.
 */
export class LocalConnectionIds {
  private readonly entries = new Map<number, ConnectionIdEntry>();
  private nextSequence = 0;
  /** Sequence numbers issued but not yet announced in NEW_CONNECTION_ID. */
  readonly pendingAnnounce: number[] = [];

  constructor(
    private readonly generate: () => Uint8Array,
    private readonly tokenFor: (cid: Uint8Array) => Uint8Array,
  ) {}

  /** Registers the handshake CID (sequence 0). */
  addInitial(cid: Uint8Array, withToken: boolean): ConnectionIdEntry {
    const e: ConnectionIdEntry = { sequence: this.nextSequence++, cid };
    if (withToken) e.resetToken = this.tokenFor(cid);
    this.entries.set(e.sequence, e);
    return e;
  }

  /**
   * Issues a new CID to announce with NEW_CONNECTION_ID, or with
   * `announce` false one that travels elsewhere (the preferred_address
   * transport parameter's, sequence 1: RFC 9000 section 5.1.1).
   */
  issue(announce = true): ConnectionIdEntry {
    const cid = this.generate();
    const e: ConnectionIdEntry = { sequence: this.nextSequence++, cid, resetToken: this.tokenFor(cid) };
    this.entries.set(e.sequence, e);
    if (announce) this.pendingAnnounce.push(e.sequence);
    return e;
  }

  /** Active (not retired) CIDs. */
  get active(): ConnectionIdEntry[] {
    return [...this.entries.values()];
  }

  /** Number of active CIDs. */
  get count(): number {
    return this.entries.size;
  }

  /** Looks up an entry by sequence number. */
  get(sequence: number): ConnectionIdEntry | undefined {
    return this.entries.get(sequence);
  }

  /**
   * Handles RETIRE_CONNECTION_ID (RFC 9000 section 19.16): a sequence number
   * never issued is a PROTOCOL_VIOLATION, and so is retiring the CID the
   * frame's own packet was sent to. Returns the retired entry, if it was active.
   */
  retire(sequence: number, packetDcid: Uint8Array): ConnectionIdEntry | undefined {
    if (sequence >= this.nextSequence) {
      throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `RETIRE_CONNECTION_ID for unissued sequence ${sequence}`, 0x19);
    }
    const e = this.entries.get(sequence);
    if (!e) return undefined;
    if (equalBytes(e.cid, packetDcid)) {
      throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, "RETIRE_CONNECTION_ID retires the CID its packet used", 0x19);
    }
    this.entries.delete(sequence);
    return e;
  }

  /** True when `cid` is one of ours. */
  has(cid: Uint8Array): boolean {
    for (const e of this.entries.values()) if (equalBytes(e.cid, cid)) return true;
    return false;
  }
}

/**
 * The connection IDs the peer issued to us, from which we pick the
 * destination CID of our packets (RFC 9000 section 5.1.1 and 5.1.2).
 */
export class PeerConnectionIds {
  private readonly entries = new Map<number, ConnectionIdEntry>();
  /** The entry in use as destination. */
  current: ConnectionIdEntry;
  private retirePriorTo = 0;
  /** Sequence numbers we must retire with RETIRE_CONNECTION_ID. */
  readonly pendingRetire: number[] = [];

  /**
   * @param initial the peer's handshake CID (sequence 0)
   * @param limit our active_connection_id_limit (RFC 9000 section 18.2)
   * @param maxPendingRetire most CIDs awaiting RETIRE_CONNECTION_ID; default twice `limit`, the least RFC 9000 section 5.1.2 asks for
   */
  constructor(
    initial: Uint8Array,
    private readonly limit: number,
    private readonly maxPendingRetire = 2 * limit,
  ) {
    this.current = { sequence: 0, cid: initial };
    this.entries.set(0, this.current);
  }

  /** Replaces the handshake CID (the server's SCID replaces the client's random DCID; Retry does too). */
  replaceInitial(cid: Uint8Array): void {
    this.current.cid = cid;
  }

  /** A CID by sequence number, while active. */
  get(sequence: number): ConnectionIdEntry | undefined {
    return this.entries.get(sequence);
  }

  /** Sets the reset token of sequence 0 (from the server's stateless_reset_token parameter). */
  setInitialResetToken(token: Uint8Array): void {
    const e = this.entries.get(0);
    if (e) e.resetToken = token;
  }

  /**
   * Handles NEW_CONNECTION_ID (RFC 9000 section 19.15). Reusing a sequence
   * number with a different CID is a PROTOCOL_VIOLATION; more active CIDs than
   * our limit is CONNECTION_ID_LIMIT_ERROR; Retire Prior To retires older ones.
   */
  add(sequence: number, retirePriorTo: number, cid: Uint8Array, resetToken: Uint8Array): void {
    const existing = this.entries.get(sequence);
    if (existing) {
      if (!equalBytes(existing.cid, cid) || (existing.resetToken && !equalBytes(existing.resetToken, resetToken))) {
        throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `NEW_CONNECTION_ID reuses sequence ${sequence} with another CID`, 0x18);
      }
      return;
    }
    for (const e of this.entries.values()) {
      if (equalBytes(e.cid, cid)) {
        throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `NEW_CONNECTION_ID repeats CID ${toHex(cid)} under sequence ${sequence}`, 0x18);
      }
    }
    if (sequence < this.retirePriorTo) {
      // Already retired by an earlier Retire Prior To: retire it at once (RFC 9000 section 19.15).
      this.pendingRetire.push(sequence);
      this.checkPendingRetire();
      return;
    }
    this.entries.set(sequence, { sequence, cid, resetToken });
    if (retirePriorTo > this.retirePriorTo) {
      this.retirePriorTo = retirePriorTo;
      for (const seq of [...this.entries.keys()]) {
        if (seq < retirePriorTo) {
          this.entries.delete(seq);
          this.reserved.delete(seq);
          this.pendingRetire.push(seq);
        }
      }
    }
    if (this.entries.size > this.limit) {
      throw new QuicTransportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, `peer has ${this.entries.size} active CIDs, limit ${this.limit}`, 0x18);
    }
    this.checkPendingRetire();
    if (!this.entries.has(this.current.sequence)) {
      this.current = this.lowest()!;
      this.reserved.delete(this.current.sequence);
    }
  }

  /**
   * A peer can make us retire CIDs faster than we send RETIRE_CONNECTION_ID
   * (for instance while it withholds acknowledgements); past the cap that is
   * CONNECTION_ID_LIMIT_ERROR, as RFC 9000 section 5.1.2 allows.
   */
  private checkPendingRetire(): void {
    if (this.pendingRetire.length > this.maxPendingRetire) {
      throw new QuicTransportError(
        TransportErrorCode.CONNECTION_ID_LIMIT_ERROR,
        `${this.pendingRetire.length} connection IDs await RETIRE_CONNECTION_ID, limit ${this.maxPendingRetire}`,
        0x18,
      );
    }
  }

  /** Switches to an unused CID (for migration); returns false when none is spare. The old one is retired. */
  rotate(): boolean {
    const next = this.peekSpare();
    if (!next) return false;
    this.switchTo(next);
    return true;
  }

  /** Number of CIDs held, the one in use included. */
  get count(): number {
    return this.entries.size;
  }

  /** Number of unused CIDs available for new paths. */
  get spare(): number {
    return this.entries.size - 1 - this.reserved.size;
  }

  /**
   * The CID a new path would use: the lowest one neither current nor
   * reserved by another path (RFC 9000 section 9.5: a CID is never used
   * on two paths). Undefined when the peer gave us none to spare.
   */
  peekSpare(): ConnectionIdEntry | undefined {
    let next: ConnectionIdEntry | undefined;
    for (const e of this.entries.values()) {
      if (e === this.current || this.reserved.has(e.sequence)) continue;
      if (!next || e.sequence < next.sequence) next = e;
    }
    return next;
  }

  /** Reserves {@link peekSpare}'s CID for a path being probed. */
  takeSpare(): ConnectionIdEntry | undefined {
    const e = this.peekSpare();
    if (e) this.reserved.add(e.sequence);
    return e;
  }

  /** True while `e` is neither retired nor replaced (Retire Prior To can drop a reserved CID). */
  isActive(e: ConnectionIdEntry): boolean {
    return this.entries.get(e.sequence) === e;
  }

  /** Makes `e` the CID of the active path and retires the one used so far (RFC 9000 section 9.5). */
  switchTo(e: ConnectionIdEntry): void {
    if (e === this.current) return;
    this.reserved.delete(e.sequence);
    this.entries.delete(this.current.sequence);
    this.pendingRetire.push(this.current.sequence);
    this.current = e;
  }

  /** Retires a CID a path used and no longer needs (a failed probe): it may not be used on another path. */
  release(e: ConnectionIdEntry): void {
    if (e === this.current || !this.reserved.delete(e.sequence)) return;
    if (this.entries.delete(e.sequence)) this.pendingRetire.push(e.sequence);
  }

  /**
   * Adds the CID of the server's preferred_address, sequence 1 (RFC 9000
   * section 5.1.1), as if it came in a NEW_CONNECTION_ID frame.
   */
  addPreferred(cid: Uint8Array, resetToken: Uint8Array): ConnectionIdEntry {
    this.add(1, 0, cid, resetToken);
    return this.entries.get(1)!;
  }

  /** Sequence numbers of CIDs reserved by paths being probed. */
  private readonly reserved = new Set<number>();

  private lowest(): ConnectionIdEntry | undefined {
    let best: ConnectionIdEntry | undefined;
    for (const e of this.entries.values()) if (!best || e.sequence < best.sequence) best = e;
    return best;
  }
}
