/**
 * The paths of one connection (RFC 9000 sections 8.2 and 9): the active
 * path, the last validated one to fall back to, and one path being
 * probed: by a client before it moves there (its own new socket, or the
 * server's preferred address), by a server when a client probes a new
 * path or reaches its preferred address. Answers PATH_CHALLENGE on the path it came from,
 * validates new paths with PATH_CHALLENGE, follows a peer that moved
 * (NAT rebinding or migration), and tells the connection what to send.
 * The connection builds the packets; this module decides.
 */
import { randomFillSync } from "node:crypto";
import { equalBytes } from "../../util/bytes.js";
import type { ConnectionIdEntry, PeerConnectionIds } from "../cid.js";
import type { PathInfo, SocketAddress } from "../types.js";
import { NetworkPath, PATH_AMPLIFICATION_FACTOR, PATH_CHALLENGE_LENGTH, sameAddress, type PathAddresses } from "./path.js";

/** Challenges remembered per path; a flood of retransmissions cannot grow it (RFC 9000 section 8.2.1). */
export const MAX_OUTSTANDING_CHALLENGES = 4;

/**
 * PATH_RESPONSE frames queued at most, one per path: a newer challenge on
 * a path replaces the older one, and challenges from further paths are
 * ignored until the queue drains (RFC 9000 section 8.2.2 allows dropping them).
 */
export const MAX_PENDING_PATH_RESPONSES = 4;

/** Smallest probe datagram worth sending: a short header, a path frame and the AEAD tag. */
const MIN_PROBE_SIZE = 64;

/** Events about paths, queued with the connection's other events. */
export type PathEvent =
  /**
   * A path passed validation (RFC 9000 section 8.2.3). When this side
   * chose it (a client's migration or preferred address), the connection
   * now uses it; a server moves to a path the client probes once the
   * client's packets do (`peer_address_changed`).
   */
  | { type: "path_validated"; path: PathAddresses; previous: PathAddresses; preferredAddress: boolean }
  /**
   * Validation failed (no answer within three PTOs, RFC 9000 section 8.2.4)
   * or was abandoned for a newer probe: the connection stays on, or falls
   * back to, `active`.
   */
  | { type: "path_validation_failed"; path: PathAddresses; active: PathAddresses; preferredAddress: boolean; aborted: boolean }
  /** The peer's packets come from a new address and the connection follows it (server side, RFC 9000 section 9.3). */
  | { type: "peer_address_changed"; path: PathAddresses; previous: PathAddresses }
  /** The connection moved to the server's preferred address (RFC 9000 section 9.6): a client once it validated it, the server once it validated the path from there. */
  | { type: "preferred_address_used"; path: PathAddresses };

/** What the path manager needs from its connection. */
export interface PathHost {
  /** The peer's connection IDs: a new path gets an unused one (RFC 9000 section 9.5). */
  readonly peerCids: PeerConnectionIds;
  /** Congestion control and RTT start over on a new path (RFC 9000 section 9.4). */
  onPathChange(now: number, rttSample?: number): void;
  /** The current PTO, and the PTO with the initial RTT (both in ms) for the validation timer (RFC 9000 section 8.2.4). */
  pto(): { current: number; initial: number };
  /** Queues an event for the application. */
  emit(e: PathEvent): void;
}

/** A datagram the connection must build now: a PATH_RESPONSE and/or PATH_CHALLENGE for one path. */
export interface PathProbe {
  local: SocketAddress | undefined;
  remote: SocketAddress;
  /** The destination CID to use. */
  dcid: Uint8Array;
  response: Uint8Array | undefined;
  challenge: Uint8Array | undefined;
  /** Largest datagram allowed by anti-amplification; padded to 1200 bytes when it allows (RFC 9000 sections 8.2.1, 8.2.2). */
  budget: number;
}

interface PendingResponse {
  data: Uint8Array;
  local: SocketAddress | undefined;
  remote: SocketAddress;
  /** For a path we know nothing of: three times the datagram that carried the challenge (RFC 9000 section 8.1). */
  budget: number;
}

/** True unless the only change between the two paths is a port (RFC 9000 section 9.4 then keeps congestion state). */
function addressChanged(a: NetworkPath, b: NetworkPath): boolean {
  return a.remote.address !== b.remote.address || (a.local !== undefined && b.local !== undefined && a.local.address !== b.local.address);
}

/** When `p` next needs a timer: its validation deadline, or a challenge due that its amplification budget allows. */
function deadlineOf(p: NetworkPath): number {
  if (!p.validating) return Infinity;
  // A challenge the budget does not allow yet waits for bytes from the peer, not for a timer.
  return p.budget >= MIN_PROBE_SIZE ? Math.min(p.validationDeadline, p.nextChallengeAt) : p.validationDeadline;
}

/** `p` when a challenge is due on it at `now` and its budget allows one. */
function challengeDue(p: NetworkPath | undefined, now: number): NetworkPath | undefined {
  return p !== undefined && p.nextChallengeAt <= now && p.budget >= MIN_PROBE_SIZE ? p : undefined;
}

/** The paths of one connection; see the module comment. */
export class PathManager {
  /** The path packets are sent on. */
  current: NetworkPath;
  /** The last validated path, kept while the current one is being validated (RFC 9000 section 9.3.2). */
  previous: NetworkPath | undefined;
  /** The path being probed besides the current one (see the module comment). */
  probe: NetworkPath | undefined;
  /** Our CID the peer put on its latest packet on the current path: another one on a new path means it migrated on purpose. */
  localCidInUse: Uint8Array | undefined;
  private readonly responses: PendingResponse[] = [];
  private readonly host: PathHost;

  constructor(host: PathHost, local: SocketAddress | undefined, remote: SocketAddress) {
    this.host = host;
    // The handshake path: its anti-amplification is the connection's own account (RFC 9000 section 8.1).
    this.current = new NetworkPath(local, remote, true);
  }

  /** The known path a datagram travelled on, if any. */
  find(info: PathInfo): NetworkPath | undefined {
    if (this.current.matches(info)) return this.current;
    if (this.probe?.matches(info)) return this.probe;
    if (this.previous?.matches(info)) return this.previous;
    return undefined;
  }

  /**
   * Credits a received datagram to the amplification account of its path
   * while that address is unvalidated: the current path or a path the
   * peer probes (the fallback was validated; a client chose its probe's
   * address). True when it raised the current path's budget.
   */
  onDatagram(info: PathInfo, length: number): boolean {
    const p = this.current;
    if (!p.addressValidated && p.matches(info)) {
      p.bytesReceived += length;
      return true;
    }
    const probe = this.probe;
    if (probe && !probe.addressValidated && probe.matches(info)) probe.bytesReceived += length;
    return false;
  }

  /** Changes whenever the peer CID in use changed here, so the endpoint re-reads the connection's reset token. */
  cidChanges = 0;

  /** Counts bytes sent on the current path while its address is unvalidated. */
  onSent(bytes: number): void {
    if (!this.current.addressValidated) this.current.bytesSent += bytes;
  }

  /** Bytes the current path may still carry (Infinity once validated). */
  get budget(): number {
    return this.current.budget;
  }

  /**
   * PATH_CHALLENGE arrived (RFC 9000 section 8.2.2): its answer goes back
   * on the path it came from. With `validate` (a server past the
   * handshake), a challenge from an unknown path also starts our own
   * validation of it, so a client that then moves there is followed
   * without delay (section 9.6.3: servers SHOULD validate a probing
   * client's new address). One such path at a time.
   */
  onChallenge(data: Uint8Array, info: PathInfo, datagramLength: number, now: number, validate = false): void {
    if (validate && !this.probe && !this.find(info)) this.probePeerPath(info, datagramLength, now);
    for (const r of this.responses) {
      if (sameAddress(r.remote, info.from) && sameAddress(r.local, info.to)) {
        r.data = data.slice();
        return;
      }
    }
    if (this.responses.length >= MAX_PENDING_PATH_RESPONSES) return;
    this.responses.push({ data: data.slice(), local: info.to, remote: info.from, budget: PATH_AMPLIFICATION_FACTOR * datagramLength });
  }

  /**
   * PATH_RESPONSE arrived: when it echoes one of our challenges, that
   * path is validated, whichever path the answer took (RFC 9000 section
   * 8.2.3). A probed path becomes the current one. Unmatched responses
   * are ignored. `info` is the path the answer came on.
   */
  onResponse(data: Uint8Array, info: PathInfo, now: number): void {
    const p = this.challenged(data);
    if (!p) return;
    if (p === this.previous && p.spuriousMoveCheck) return this.onSpuriousMoveCheckAnswered(p, info, now);
    p.endValidation();
    p.validated = true;
    p.addressValidated = true;
    if (p === this.probe && !p.moveWhenValidated) {
      // A path the peer probes: we move there when its packets do.
      this.host.emit({ type: "path_validated", path: p.addresses(), previous: this.current.addresses(), preferredAddress: p.preferred });
    } else if (p === this.probe) {
      const old = this.current;
      this.probe = undefined;
      this.switchTo(p, now, now - p.firstChallengeAt);
      // Packets from the path left behind are still accepted for a while (RFC 9000 section 9.6.2); it is no fallback.
      this.previous = old;
      this.host.emit({ type: "path_validated", path: p.addresses(), previous: old.addresses(), preferredAddress: p.preferred });
      if (p.preferred) this.host.emit({ type: "preferred_address_used", path: p.addresses() });
    } else if (p === this.current) {
      const old = this.previous ?? p;
      this.previous = undefined;
      this.host.emit({ type: "path_validated", path: p.addresses(), previous: old.addresses(), preferredAddress: false });
    }
  }

  /**
   * The path we left answered before the one we moved to (which clears
   * `previous` when it answers). When the answer came on that old path,
   * the peer is still there: the move was spurious, a copy of its packet
   * forwarded from elsewhere (RFC 9000 section 9.3.3). Back to the old
   * path; the new one is abandoned. An answer from elsewhere (a NAT that
   * rebound the peer and still forwards to its old mapping) leaves the move as it is.
   */
  private onSpuriousMoveCheckAnswered(old: NetworkPath, info: PathInfo, now: number): void {
    this.endSpuriousMoveCheck(old);
    if (!old.matches(info)) return;
    const moved = this.current;
    moved.endValidation();
    this.current = old;
    this.previous = undefined;
    if (addressChanged(moved, old)) this.host.onPathChange(now);
    this.host.emit({ type: "path_validation_failed", path: moved.addresses(), active: old.addresses(), preferredAddress: false, aborted: true });
  }

  /** Ends the challenge of a path we left (see {@link NetworkPath.spuriousMoveCheck}); it stays validated. */
  private endSpuriousMoveCheck(p: NetworkPath): void {
    p.spuriousMoveCheck = false;
    p.dcid = undefined;
    p.endValidation();
  }

  /** The path with an outstanding challenge equal to `data`. */
  private challenged(data: Uint8Array): NetworkPath | undefined {
    for (const p of [this.current, this.probe, this.previous]) {
      if (!p) continue;
      for (const c of p.challenges) if (equalBytes(c, data)) return p;
    }
    return undefined;
  }

  /**
   * The peer's latest packet (highest packet number, non-probing) came
   * from another path: move there (RFC 9000 section 9.3). The new address
   * is validated unless it is one we know; until then we send at most
   * three times what it sent. When the peer also changed CID it migrated
   * on purpose, and we answer with a fresh CID of ours (section 9.5).
   */
  onPeerMigrated(info: PathInfo, now: number, dcid: Uint8Array, datagramLength: number): void {
    const old = this.current;
    const probe = this.probe?.matches(info) ? this.probe : undefined;
    // Our preferred address is used once we validated the path from it (RFC 9000 section 9.6.2): then onResponse moves.
    if (probe?.moveWhenValidated) return;
    if (probe?.preferred && !probe.validated) {
      probe.moveWhenValidated = true;
      return;
    }
    if (!probe && sameAddress(info.from, old.remote) && old.addressValidated && !sameAddress(info.to, old.local)) {
      this.probeOurNewAddress(info, dcid, now);
      return;
    }
    let next = probe ?? (this.previous?.matches(info) ? this.previous : undefined);
    if (probe) {
      this.probe = undefined;
      if (probe.dcid && this.host.peerCids.isActive(probe.dcid)) {
        this.host.peerCids.switchTo(probe.dcid);
        this.cidChanges++;
      }
      probe.dcid = undefined;
    }
    if (!next) {
      next = new NetworkPath(info.to, info.from, false);
      next.bytesReceived = datagramLength;
    }
    if (old.validating) old.endValidation();
    // Fall back to the last validated path if this one fails (RFC 9000 section 9.3.2).
    if (old.validated) this.previous = old;
    else if (this.previous === next) this.previous = undefined;
    this.current = next;
    const changedCid = this.localCidInUse !== undefined && !equalBytes(dcid, this.localCidInUse);
    this.localCidInUse = dcid.slice();
    if (changedCid && !probe) {
      const fresh = this.host.peerCids.peekSpare();
      if (fresh) {
        this.host.peerCids.switchTo(fresh);
        this.cidChanges++;
      }
    }
    if (addressChanged(old, next)) this.host.onPathChange(now);
    if (!next.validated && !next.validating) this.startValidation(next, now);
    // Back on a path we were checking: the peer's own packets came from there.
    if (next.spuriousMoveCheck) this.endSpuriousMoveCheck(next);
    // An off-path attacker's copy of the peer's packet looks just like this move: challenge the path we left too, and go
    // back if it answers first (RFC 9000 section 9.3.3). A new CID means the peer moved on purpose; a copy cannot change it.
    else if (this.previous === old && !next.validated && !changedCid && !probe) {
      old.spuriousMoveCheck = true;
      // The CID it used all along: no new one shows on that path (RFC 9000 section 9.5).
      old.dcid = this.host.peerCids.current;
      this.startValidation(old, now);
    }
    this.host.emit({ type: "peer_address_changed", path: next.addresses(), previous: old.addresses() });
  }

  /**
   * Server: starts validating a path the client probes from an address we
   * do not know, under the unused CID we answer it with (RFC 9000 section
   * 9.5), with the anti-amplification limit of an unvalidated address.
   */
  private probePeerPath(info: PathInfo, datagramLength: number, now: number): void {
    const p = new NetworkPath(info.to, info.from, false);
    p.moveWhenValidated = false;
    p.bytesReceived = datagramLength;
    p.dcid = this.host.peerCids.takeSpare();
    // The client's known address reaching another of ours: our preferred address (RFC 9000 section 9.6.2).
    if (sameAddress(info.from, this.current.remote) && this.current.addressValidated) {
      p.addressValidated = true;
      p.preferred = true;
    }
    this.probe = p;
    // Our challenge leaves in the datagram that answers the client's (see nextProbe).
    this.startValidation(p, now);
  }

  /**
   * Server: the client now sends to another of our addresses (the
   * preferred address) from its known address. We probe the path from
   * there, under a fresh CID when the client changed its own, and keep
   * sending from the original address until the probe is answered (RFC
   * 9000 section 9.6.2).
   */
  private probeOurNewAddress(info: PathInfo, dcid: Uint8Array, now: number): void {
    const p = new NetworkPath(info.to, info.from, false);
    p.addressValidated = true;
    p.preferred = true;
    if (this.localCidInUse !== undefined && !equalBytes(dcid, this.localCidInUse)) p.dcid = this.host.peerCids.takeSpare();
    this.abortProbe();
    this.probe = p;
    this.startValidation(p, now);
  }

  /**
   * Client: true for packets from an address of the server we chose: the
   * current one, one we probe, or the one we left (the server sends from
   * there until it has validated our move, RFC 9000 section 9.6.2). Packets
   * from any other server address are to be discarded (section 9.6).
   */
  knowsServerAddress(from: SocketAddress): boolean {
    return sameAddress(from, this.current.remote) || sameAddress(from, this.probe?.remote) || sameAddress(from, this.previous?.remote);
  }

  /**
   * Client: starts probing a path from a new local address to the peer
   * (RFC 9000 section 9.2) with an unused peer CID (section 9.5); the
   * connection moves there once the path is validated. With `rebinding`,
   * moves at once with no validation and no new CID, as a NAT rebinding
   * would (for tests of the peer's handling). Returns false, changing
   * nothing, when the peer has given no unused CID.
   */
  migrate(local: SocketAddress, now: number, rebinding = false): boolean {
    if (rebinding) {
      this.abortProbe();
      const next = new NetworkPath(local, this.current.remote, true);
      this.switchTo(next, now);
      this.previous = undefined;
      return true;
    }
    const dcid = this.host.peerCids.takeSpare();
    if (!dcid) return false;
    this.abortProbe();
    this.probe = new NetworkPath(local, this.current.remote, false);
    // We chose this peer address: no anti-amplification toward it.
    this.probe.addressValidated = true;
    this.probe.dcid = dcid;
    this.startValidation(this.probe, now);
    return true;
  }

  /** Client: probes the server's preferred address with the CID the server gave for it (RFC 9000 section 9.6.1). */
  probePreferred(remote: SocketAddress, dcid: ConnectionIdEntry, now: number): void {
    this.abortProbe();
    const p = new NetworkPath(this.current.local, remote, false);
    p.addressValidated = true;
    p.dcid = dcid;
    p.preferred = true;
    this.probe = p;
    this.startValidation(p, now);
  }

  /** True while a probe runs. */
  get probing(): boolean {
    return this.probe !== undefined;
  }

  private abortProbe(): void {
    const p = this.probe;
    if (!p) return;
    this.probe = undefined;
    p.endValidation();
    if (p.dcid) this.host.peerCids.release(p.dcid);
    this.host.emit({ type: "path_validation_failed", path: p.addresses(), active: this.current.addresses(), preferredAddress: p.preferred, aborted: true });
  }

  private switchTo(p: NetworkPath, now: number, rttSample?: number): void {
    const old = this.current;
    this.current = p;
    if (p.dcid) {
      if (this.host.peerCids.isActive(p.dcid)) {
        this.host.peerCids.switchTo(p.dcid);
        this.cidChanges++;
      }
      p.dcid = undefined;
    }
    if (addressChanged(old, p)) this.host.onPathChange(now, rttSample);
  }

  private startValidation(p: NetworkPath, now: number): void {
    const pto = this.host.pto();
    p.challenges.length = 0;
    p.firstChallengeAt = -1;
    p.challengeInterval = pto.current;
    p.nextChallengeAt = now;
    // Three times the larger of the current PTO and the new path's initial one (RFC 9000 section 8.2.4).
    p.validationDeadline = now + 3 * Math.max(pto.current, pto.initial);
  }

  /** The next time {@link onTimeout} has work: a challenge to resend or a validation deadline. */
  timeout(): number {
    let t = deadlineOf(this.current);
    if (this.probe) t = Math.min(t, deadlineOf(this.probe));
    return this.previous ? Math.min(t, deadlineOf(this.previous)) : t;
  }

  /**
   * Fails the validations whose time is up (RFC 9000 section 8.2.4): a
   * probe is abandoned; a current path falls back to the previous one
   * (section 9.3.2). Returns false when no validated path is left: the
   * connection cannot go on (it ends silently, section 8.2.4).
   */
  onTimeout(now: number): boolean {
    // The path we left did not answer: the move stands, and it stays the fallback (RFC 9000 section 9.3.2).
    const left = this.previous;
    if (left?.spuriousMoveCheck && now >= left.validationDeadline) this.endSpuriousMoveCheck(left);
    const probe = this.probe;
    if (probe && now >= probe.validationDeadline) {
      this.probe = undefined;
      probe.endValidation();
      if (probe.dcid) this.host.peerCids.release(probe.dcid);
      this.host.emit({ type: "path_validation_failed", path: probe.addresses(), active: this.current.addresses(), preferredAddress: probe.preferred, aborted: false });
    }
    const cur = this.current;
    if (cur.validating && now >= cur.validationDeadline) {
      cur.endValidation();
      const back = this.previous;
      if (!back) return false;
      if (back.spuriousMoveCheck) this.endSpuriousMoveCheck(back);
      this.previous = undefined;
      this.current = back;
      if (addressChanged(cur, back)) this.host.onPathChange(now);
      this.host.emit({ type: "path_validation_failed", path: cur.addresses(), active: back.addresses(), preferredAddress: false, aborted: false });
    }
    return true;
  }

  /**
   * What to send on a path other than the ordinary flow, if anything:
   * the oldest pending PATH_RESPONSE (with a challenge of ours for the
   * same path when one is due), else a due PATH_CHALLENGE. Responses the
   * amplification limit does not allow are dropped.
   */
  nextProbe(now: number): PathProbe | undefined {
    while (this.responses.length > 0) {
      const r = this.responses[0]!;
      const p = this.find({ from: r.remote, to: r.local! });
      const budget = p ? p.budget : r.budget;
      if (budget < MIN_PROBE_SIZE) {
        this.responses.shift();
        continue;
      }
      const challenge = p && p.nextChallengeAt <= now ? this.newChallenge(p, now) : undefined;
      this.responses.shift();
      return { local: r.local, remote: r.remote, dcid: this.dcidFor(p), response: r.data, challenge, budget };
    }
    const p = challengeDue(this.current, now) ?? challengeDue(this.probe, now) ?? challengeDue(this.previous, now);
    if (!p) return undefined;
    return { local: p.local, remote: p.remote, dcid: this.dcidFor(p), response: undefined, challenge: this.newChallenge(p, now), budget: p.budget };
  }

  /** Counts a probe datagram against its path's amplification budget. */
  onProbeSent(probe: PathProbe, bytes: number): void {
    const p = this.find({ from: probe.remote, to: probe.local! });
    if (p && !p.addressValidated) p.bytesSent += bytes;
  }

  /**
   * The destination CID for a packet on `p`: the current one on the
   * current path, the path's reserved one on a probed path, and for a path
   * the peer is probing the unused CID we will switch to if it moves
   * there, so no CID is seen on two paths (RFC 9000 section 9.5).
   */
  private dcidFor(p: NetworkPath | undefined): Uint8Array {
    const cids = this.host.peerCids;
    if (p === this.current) return cids.current.cid;
    if (p?.dcid) {
      if (cids.isActive(p.dcid)) return p.dcid.cid;
      // Retire Prior To took it: use another unused one, or the current one when none is left.
      p.dcid = cids.takeSpare();
      if (p.dcid) return p.dcid.cid;
    }
    return (cids.peekSpare() ?? cids.current).cid;
  }

  /** A fresh unpredictable challenge for `p` (RFC 9000 section 8.2.1), resent with backoff while unanswered. */
  private newChallenge(p: NetworkPath, now: number): Uint8Array {
    const data = new Uint8Array(PATH_CHALLENGE_LENGTH);
    randomFillSync(data);
    p.challenges.push(data);
    if (p.challenges.length > MAX_OUTSTANDING_CHALLENGES) p.challenges.shift();
    if (p.firstChallengeAt < 0) p.firstChallengeAt = now;
    // Not more often than an Initial would be resent (RFC 9000 section 8.2.1): PTO, doubling.
    p.nextChallengeAt = now + p.challengeInterval;
    p.challengeInterval *= 2;
    return data;
  }
}
