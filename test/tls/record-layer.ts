/**
 * A thin TLS 1.3 record layer (RFC 8446 section 5) over a net.Socket, for
 * running our engines against node:tls (OpenSSL) in tests. It frames
 * handshake bytes into records, protects them with the keys the engine
 * announces (our Aead, per-record sequence numbers, TLSInnerPlaintext),
 * ignores ChangeCipherSpec (middlebox compatibility, RFC 8446 Appendix D.4)
 * and carries application data. Test code only: no record padding, no
 * early data, one read key at a time.
 */
import type { Socket } from "node:net";
import { Aead } from "../../src/crypto/aead.js";
import type { CipherSuite } from "../../src/crypto/suites.js";
import { concatBytes } from "../../src/util/bytes.js";
import { TlsAlertError, alertName } from "../../src/tls/alerts.js";
import type { TlsClient } from "../../src/tls/client.js";
import type { EncryptionLevel, TlsEvent } from "../../src/tls/engine.js";
import { trafficKeys } from "../../src/tls/key-schedule.js";
import type { TlsServer } from "../../src/tls/server.js";

/** TLS record content types (RFC 8446 section 5.1). */
const ContentType = { change_cipher_spec: 20, alert: 21, handshake: 22, application_data: 23 } as const;
/** Largest plaintext per record (RFC 8446 section 5.1). */
const MAX_FRAGMENT = 16384;

interface Protection {
  level: EncryptionLevel;
  aead: Aead;
  seq: number;
}

function protection(level: EncryptionLevel, suite: CipherSuite, secret: Uint8Array): Protection {
  const { key, iv } = trafficKeys(suite, secret);
  return { level, aead: new Aead(suite, key, iv), seq: 0 };
}

/** Drives a TLS engine over a socket. */
export class RecordConnection {
  /** Resolves when the engine reports handshakeComplete; rejects on any failure. */
  readonly handshake: Promise<void>;
  /** Application data received, in order. */
  readonly received: Uint8Array[] = [];
  /** Every event the engine emitted. */
  readonly events: TlsEvent[] = [];
  /** The failure that ended the connection, if any. */
  error: Error | undefined;
  /** The peer's close_notify arrived. */
  peerClosed = false;

  private inBuf: Uint8Array = new Uint8Array(0);
  private read: Protection | undefined;
  private readonly write = new Map<EncryptionLevel, Protection>();
  private settle!: { resolve: () => void; reject: (e: Error) => void };
  private waiters: Array<() => void> = [];

  constructor(
    readonly engine: TlsClient | TlsServer,
    readonly socket: Socket,
    private readonly options: { onHandshakeComplete?: (c: RecordConnection) => void } = {},
  ) {
    this.handshake = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.handshake.catch(() => {});
    socket.on("data", (chunk: Buffer) => this.onData(new Uint8Array(chunk)));
    socket.on("error", (e) => this.fail(e));
    socket.on("close", () => this.fail(new Error("socket closed")));
  }

  /** Client side: sends the ClientHello. */
  start(): void {
    (this.engine as TlsClient).start(Date.now());
    this.pump();
  }

  /** Sends application data at the 1-RTT level. */
  send(data: Uint8Array | string): void {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    this.writeRecords("oneRtt", ContentType.application_data, bytes);
  }

  /** Resolves once at least `n` bytes of application data have arrived. */
  async receiveBytes(n: number): Promise<Uint8Array> {
    for (;;) {
      const all = concatBytes(...this.received);
      if (all.length >= n) return all;
      if (this.error) throw this.error;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Waits until `predicate` holds on the engine's events (checked on each arrival). */
  async waitFor(predicate: () => boolean): Promise<void> {
    while (!predicate()) {
      if (this.error) throw this.error;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Sends close_notify and ends the socket. */
  close(): void {
    if (!this.socket.destroyed) {
      if (this.write.has("oneRtt")) this.writeRecords("oneRtt", ContentType.alert, Uint8Array.of(1, 0));
      this.socket.end();
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private fail(e: Error): void {
    this.error ??= e;
    this.settle.reject(e);
    this.wake();
  }

  private pump(): void {
    for (let ev = this.engine.poll(); ev; ev = this.engine.poll()) {
      this.events.push(ev);
      switch (ev.type) {
        case "data":
          this.writeRecords(ev.level, ContentType.handshake, ev.data);
          break;
        case "secret":
          if (ev.direction === "read") this.read = protection(ev.level, ev.suite, ev.secret);
          else this.write.set(ev.level, protection(ev.level, ev.suite, ev.secret));
          break;
        case "handshakeComplete":
          this.settle.resolve();
          this.options.onHandshakeComplete?.(this);
          break;
        default:
          break;
      }
    }
    this.wake();
  }

  private writeRecords(level: EncryptionLevel, type: number, data: Uint8Array): void {
    const prot = level === "initial" ? undefined : this.write.get(level);
    if (level !== "initial" && !prot) throw new Error(`no write key for ${level}`);
    for (let o = 0; o < data.length || (o === 0 && data.length === 0); o += MAX_FRAGMENT) {
      const frag = data.subarray(o, o + MAX_FRAGMENT);
      if (!prot) {
        this.socket.write(concatBytes(Uint8Array.of(type, 3, 3, frag.length >>> 8, frag.length & 0xff), frag));
      } else {
        // TLSInnerPlaintext: content || type, sealed under the AAD of the outer header (RFC 8446 section 5.2).
        const inner = concatBytes(frag, Uint8Array.of(type));
        const len = inner.length + 16;
        const header = Uint8Array.of(ContentType.application_data, 3, 3, len >>> 8, len & 0xff);
        this.socket.write(concatBytes(header, prot.aead.seal(prot.seq++, header, inner)));
      }
      if (data.length === 0) break;
    }
  }

  private onData(chunk: Uint8Array): void {
    this.inBuf = concatBytes(this.inBuf, chunk);
    try {
      while (this.inBuf.length >= 5) {
        const len = (this.inBuf[3]! << 8) | this.inBuf[4]!;
        if (this.inBuf.length < 5 + len) break;
        const header = this.inBuf.subarray(0, 5);
        const body = this.inBuf.slice(5, 5 + len);
        this.inBuf = this.inBuf.slice(5 + len);
        this.onRecord(header[0]!, header, body);
      }
    } catch (e) {
      if (e instanceof TlsAlertError && !e.fromPeer) {
        // Tell the peer, in the clear or under our current key.
        const lvl = (["oneRtt", "handshake"] as const).find((l) => this.write.has(l));
        try {
          if (lvl) this.writeRecords(lvl, ContentType.alert, Uint8Array.of(2, e.alert));
          else this.socket.write(Uint8Array.of(ContentType.alert, 3, 3, 0, 2, 2, e.alert));
        } catch {
          // the socket may already be gone
        }
      }
      this.fail(e as Error);
      this.socket.end();
    }
  }

  private onRecord(type: number, header: Uint8Array, body: Uint8Array): void {
    if (type === ContentType.change_cipher_spec) return; // RFC 8446 Appendix D.4: ignore
    let content = body;
    let innerType = type;
    let level: EncryptionLevel = "initial";
    if (this.read && type === ContentType.application_data) {
      content = this.read.aead.open(this.read.seq++, header, body);
      let end = content.length;
      while (end > 0 && content[end - 1] === 0) end--; // strip padding
      innerType = content[end - 1]!;
      content = content.subarray(0, end - 1);
      level = this.read.level;
    } else if (this.read) {
      throw new Error(`unprotected record of type ${type} after keys were installed`);
    }
    switch (innerType) {
      case ContentType.handshake:
        this.engine.receive(level, content, Date.now());
        this.pump();
        break;
      case ContentType.application_data:
        this.received.push(content.slice());
        this.wake();
        break;
      case ContentType.alert:
        if (content[1] === 0) {
          this.peerClosed = true;
          this.wake();
          return;
        }
        throw new TlsAlertError(content[1]!, `peer sent ${alertName(content[1]!)}`, { fromPeer: true });
      default:
        throw new Error(`unknown record type ${innerType}`);
    }
  }
}
