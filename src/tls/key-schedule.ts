/**
 * The TLS 1.3 key schedule (RFC 8446 section 7.1) and transcript hash
 * (RFC 8446 section 4.4.1).
 */
import { createHash, createHmac, type Hash } from "node:crypto";
import { deriveSecret, digest, hkdfExpandLabel, hkdfExtract, type HashName } from "../crypto/hkdf.js";
import type { CipherSuite } from "../crypto/suites.js";
import { concatBytes } from "../util/bytes.js";
import { HandshakeType } from "./constants.js";
import { frameHandshake } from "./messages.js";

/**
 * The running transcript: every handshake message (header included) in
 * order. Messages are kept, because the client learns the hash function
 * only from ServerHello and a HelloRetryRequest rewrites the start of the
 * transcript, and each hash function asked for gets a running hash fed as
 * messages arrive, so a Transcript-Hash costs one copy of the hash state
 * rather than hashing the whole transcript again.
 */
export class Transcript {
  private messages: Uint8Array[] = [];
  private readonly running = new Map<HashName, Hash>();
  private discarded = false;

  /** Appends one complete handshake message. */
  add(message: Uint8Array): void {
    if (this.discarded) throw new Error("the transcript was discarded at the end of the handshake");
    this.messages.push(message);
    for (const h of this.running.values()) h.update(message);
  }

  /** Transcript-Hash of every message so far, plus `extra` (a truncated ClientHello for binders). */
  hash(hash: HashName, extra?: Uint8Array): Uint8Array {
    if (this.discarded) throw new Error("the transcript was discarded at the end of the handshake");
    let h = this.running.get(hash);
    if (!h) {
      h = createHash(hash);
      for (const m of this.messages) h.update(m);
      this.running.set(hash, h);
    }
    const c = h.copy();
    if (extra) c.update(extra);
    return new Uint8Array(c.digest());
  }

  /**
   * Replaces ClientHello1 by the synthetic message_hash message after a
   * HelloRetryRequest (RFC 8446 section 4.4.1):
   * message_hash(254) || 00 00 Hash.length || Hash(ClientHello1).
   */
  replaceWithMessageHash(hash: HashName): void {
    const h = digest(hash, concatBytes(...this.messages));
    this.messages = [frameHandshake(HandshakeType.message_hash, h)];
    this.running.clear();
  }

  /**
   * Frees the messages once the handshake is over: TLS 1.3 over QUIC has no
   * later use for them (no post-handshake authentication, RFC 9001 section
   * 4.4), and an idle connection should not hold its certificate chain.
   */
  discard(): void {
    this.discarded = true;
    this.messages = [];
    this.running.clear();
  }

  /** Number of messages recorded. */
  get length(): number {
    return this.messages.length;
  }
}

/** Traffic key and IV for a traffic secret (RFC 8446 section 7.3). */
export function trafficKeys(suite: CipherSuite, secret: Uint8Array): { key: Uint8Array; iv: Uint8Array } {
  return {
    key: hkdfExpandLabel(suite.hash, secret, "key", new Uint8Array(0), suite.keyLength),
    iv: hkdfExpandLabel(suite.hash, secret, "iv", new Uint8Array(0), suite.ivLength),
  };
}

/** finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (RFC 8446 section 4.4.4). */
export function finishedKey(hash: HashName, baseKey: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, baseKey, "finished", new Uint8Array(0), baseKey.length);
}

/** verify_data = HMAC(finished_key, transcript hash) (RFC 8446 section 4.4.4); also the PSK binder (4.2.11.2). */
export function finishedVerifyData(hash: HashName, baseKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(hash, finishedKey(hash, baseKey)).update(transcriptHash).digest());
}

/** application_traffic_secret_N+1 (RFC 8446 section 7.2). */
export function nextTrafficSecret(hash: HashName, secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, secret, "traffic upd", new Uint8Array(0), secret.length);
}

/** The PSK of a ticket: HKDF-Expand-Label(resumption_master_secret, "resumption", nonce, Hash.length) (RFC 8446 section 4.6.1). */
export function resumptionPsk(hash: HashName, resumptionMasterSecret: Uint8Array, ticketNonce: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, resumptionMasterSecret, "resumption", ticketNonce, resumptionMasterSecret.length);
}

/**
 * The three-stage secret chain of RFC 8446 section 7.1:
 * Early Secret → Handshake Secret → Master Secret, each stage an
 * HKDF-Extract whose salt is Derive-Secret(previous, "derived", "").
 */
export class KeySchedule {
  /** HKDF hash of the negotiated suite. */
  readonly hash: HashName;
  /** Hash.length. */
  readonly hashLength: number;
  /** Early Secret (RFC 8446 section 7.1). */
  earlySecret: Uint8Array | undefined;
  /** Handshake Secret. */
  handshakeSecret: Uint8Array | undefined;
  /** Master Secret. */
  masterSecret: Uint8Array | undefined;

  constructor(readonly suite: CipherSuite) {
    this.hash = suite.hash;
    this.hashLength = suite.hashLength;
  }

  private zeros(): Uint8Array {
    return new Uint8Array(this.hashLength);
  }

  /** Derive-Secret(secret, label, transcript hash) (RFC 8446 section 7.1). */
  derive(secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
    return deriveSecret(this.hash, secret, label, transcriptHash);
  }

  /** Derive-Secret(secret, "derived", ""): the salt of the next stage. */
  private derivedSalt(secret: Uint8Array): Uint8Array {
    return this.derive(secret, "derived", digest(this.hash, new Uint8Array(0)));
  }

  /** Early Secret = HKDF-Extract(0, PSK), with a zero PSK when none is used. */
  extractEarly(psk?: Uint8Array): Uint8Array {
    this.earlySecret = hkdfExtract(this.hash, new Uint8Array(0), psk ?? this.zeros());
    return this.earlySecret;
  }

  /** binder_key = Derive-Secret(Early Secret, "res binder" | "ext binder", ""). */
  binderKey(resumption = true): Uint8Array {
    return this.derive(this.requireEarly(), resumption ? "res binder" : "ext binder", digest(this.hash, new Uint8Array(0)));
  }

  /** client_early_traffic_secret = Derive-Secret(Early Secret, "c e traffic", ClientHello). */
  clientEarlyTrafficSecret(transcriptHash: Uint8Array): Uint8Array {
    return this.derive(this.requireEarly(), "c e traffic", transcriptHash);
  }

  /** Handshake Secret = HKDF-Extract(Derive-Secret(Early Secret, "derived", ""), (EC)DHE). */
  extractHandshake(sharedSecret: Uint8Array): Uint8Array {
    if (!this.earlySecret) this.extractEarly();
    this.handshakeSecret = hkdfExtract(this.hash, this.derivedSalt(this.earlySecret!), sharedSecret);
    return this.handshakeSecret;
  }

  /** client/server_handshake_traffic_secret over ClientHello...ServerHello. */
  handshakeTrafficSecrets(transcriptHash: Uint8Array): { client: Uint8Array; server: Uint8Array } {
    const hs = this.require(this.handshakeSecret, "handshake");
    return { client: this.derive(hs, "c hs traffic", transcriptHash), server: this.derive(hs, "s hs traffic", transcriptHash) };
  }

  /** Master Secret = HKDF-Extract(Derive-Secret(Handshake Secret, "derived", ""), 0). */
  extractMaster(): Uint8Array {
    this.masterSecret = hkdfExtract(this.hash, this.derivedSalt(this.require(this.handshakeSecret, "handshake")), this.zeros());
    return this.masterSecret;
  }

  /** client/server_application_traffic_secret_0 and exporter_master_secret over ClientHello...server Finished. */
  applicationTrafficSecrets(transcriptHash: Uint8Array): { client: Uint8Array; server: Uint8Array; exporter: Uint8Array } {
    const ms = this.require(this.masterSecret, "master");
    return {
      client: this.derive(ms, "c ap traffic", transcriptHash),
      server: this.derive(ms, "s ap traffic", transcriptHash),
      exporter: this.derive(ms, "exp master", transcriptHash),
    };
  }

  /** resumption_master_secret over ClientHello...client Finished. */
  resumptionMasterSecret(transcriptHash: Uint8Array): Uint8Array {
    return this.derive(this.require(this.masterSecret, "master"), "res master", transcriptHash);
  }

  private requireEarly(): Uint8Array {
    return this.require(this.earlySecret, "early");
  }

  private require(s: Uint8Array | undefined, stage: string): Uint8Array {
    if (!s) throw new Error(`key schedule: ${stage} secret not yet derived`);
    return s;
  }
}
