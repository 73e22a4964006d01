/**
 * QuicStream of the Node-style API (seed 001): a `stream.Duplex` over one
 * QUIC stream. Backpressure runs both ways: a write the transport cannot
 * take holds its callback until the stream is writable again (so the
 * Duplex buffers up to `highWaterMark` and then `write()` returns false),
 * and a full readable buffer stops reading from the transport, whose flow
 * control then holds the peer back.
 */
import { Duplex, type DuplexOptions } from "node:stream";
import { createReadStream } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { TsquicError } from "../util/errors.js";
import { H3ErrorCode } from "../h3/errors.js";
import type { Header } from "../h3/connection.js";
import { invalidState } from "./errors.js";
import type { StreamDefaults } from "./options.js";

/** Headers as Node passes them: names to values, repeated names as arrays. */
export type HeadersObject = Record<string, string | number | Array<string | number>>;

/** What a stream needs from its session (implemented by QuicSession). */
export interface StreamHost {
  readonly isClient: boolean;
  readonly isH3: boolean;
  /** @internal */ _write(stream: QuicStream, chunk: Uint8Array, fin: boolean): boolean;
  /** @internal */ _read(stream: QuicStream): void;
  /** @internal */ _abort(stream: QuicStream, code: number): void;
  /** @internal */ _headers(stream: QuicStream, kind: "initial" | "informational" | "trailing", headers: Header[]): void;
  /** @internal */ _forget(stream: QuicStream): void;
  /** @internal */ _receivedInEarlyData(stream: QuicStream): boolean;
}

/** Options of {@link QuicSession.openStream}. */
export interface OpenStreamOptions {
  /** true opens a unidirectional stream; false (default here, see README) a bidirectional one. */
  halfOpen?: boolean;
  /** Bytes buffered before write() returns false. Default: the session's (16384). */
  highWaterMark?: number;
  /** Default encoding of string writes. Default: the session's ("utf8"). */
  defaultEncoding?: BufferEncoding;
}

/** Options of {@link QuicStream.sendFile} and {@link QuicStream.sendFD}. */
export interface SendFileOptions {
  /** Where to start reading; -1 (default) reads from the start (sendFile) or the current position (sendFD). */
  offset?: number;
  /** Most bytes to send; -1 (default) sends to the end of the file. */
  length?: number;
  /** sendFile: called instead of destroying the stream when the file cannot be read. */
  onError?: (err: Error) => void;
}

/** A stream reset by the peer, or that it asked us to stop sending on: carries the application error code. */
export class QuicStreamError extends TsquicError {
  /** The application error code of RESET_STREAM or STOP_SENDING. */
  readonly errorCode: number;
  constructor(code: string, message: string, errorCode: number) {
    super(code, message);
    this.errorCode = errorCode;
  }
}

/** Converts Node's headers object to a field list, pseudo-headers first (RFC 9114 section 4.3). */
export function toHeaderList(headers: HeadersObject): Header[] {
  if (!headers || typeof headers !== "object") throw new TypeError("headers must be an object");
  const pseudo: Header[] = [];
  const regular: Header[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = name.toLowerCase();
    const out = n.startsWith(":") ? pseudo : regular;
    for (const v of Array.isArray(value) ? value : [value]) out.push([n, String(v)]);
  }
  return pseudo.concat(regular);
}

/** Converts a field list to Node's headers object; a repeated name becomes an array. */
export function toHeadersObject(list: readonly Header[]): Record<string, string | string[]> {
  const o: Record<string, string | string[]> = {};
  for (const [n, v] of list) {
    const prev = o[n];
    o[n] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return o;
}

/**
 * One QUIC stream as a Duplex. Bidirectional streams are readable and
 * writable; a unidirectional stream is only writable on the side that
 * opened it and only readable on the other (RFC 9000 section 2.1).
 */
export class QuicStream extends Duplex {
  /** The session the stream belongs to. */
  readonly session: StreamHost;
  #id: number | undefined;
  readonly #bidi: boolean;
  readonly #local: boolean;
  readonly #createdAt = performance.now();
  #bytesReceived = 0;
  #bytesSent = 0;
  #finalSize: number | undefined;
  #writeCallback: ((err?: Error | null) => void) | undefined;
  #waitingForId: (() => void) | undefined;
  #closeCode: number | undefined;
  #trailers: Header[] | undefined;

  /** @internal Created by the session. `id` is undefined for an HTTP/3 request whose headers are not yet sent. */
  constructor(session: StreamHost, id: number | undefined, bidi: boolean, local: boolean, defaults: StreamDefaults) {
    // readable/writable: false are honoured by Node and Bun, though @types/node does not list them.
    super({
      allowHalfOpen: true,
      highWaterMark: defaults.highWaterMark,
      defaultEncoding: defaults.defaultEncoding,
      decodeStrings: true,
      // RFC 9000 section 2.1: a unidirectional stream only carries data from its opener.
      readable: bidi || !local,
      writable: bidi || local,
    } as DuplexOptions);
    this.session = session;
    this.#id = id;
    this.#bidi = bidi;
    this.#local = local;
  }

  /** The stream ID (RFC 9000 section 2.1); undefined while {@link pending}. */
  get id(): number | undefined {
    return this.#id;
  }

  /** True for an HTTP/3 request stream not opened yet: its headers have not been submitted. */
  get pending(): boolean {
    return this.#id === undefined;
  }

  /**
   * Server: true when the peer's data on this stream came in 0-RTT
   * packets, which an attacker can replay (RFC 8470 section 5; each ticket
   * allows early data once here, see src/quic/early-data.ts).
   */
  get earlyData(): boolean {
    return this.session._receivedInEarlyData(this);
  }

  /** True for a bidirectional stream. */
  get bidirectional(): boolean {
    return this.#bidi;
  }

  /** True for a unidirectional stream. */
  get unidirectional(): boolean {
    return !this.#bidi;
  }

  /** True when the client opened the stream. */
  get clientInitiated(): boolean {
    return this.#local === this.session.isClient;
  }

  /** True when the server opened the stream. */
  get serverInitiated(): boolean {
    return !this.clientInitiated;
  }

  /** Payload bytes received (HTTP/3: content bytes). */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Payload bytes handed to the transport (HTTP/3: content bytes). */
  get bytesSent(): number {
    return this.#bytesSent;
  }

  /** Highest offset received so far: equal to {@link bytesReceived}, as data is delivered in order. */
  get maxReceivedOffset(): number {
    return this.#bytesReceived;
  }

  /** Bytes received in all once the peer ended the stream; undefined before. */
  get finalSize(): number | undefined {
    return this.#finalSize;
  }

  /** Milliseconds since the stream was created. */
  get duration(): number {
    return performance.now() - this.#createdAt;
  }

  /**
   * Closes the stream at once: RESET_STREAM and STOP_SENDING with `code`
   * (default 0; HTTP/3: H3_REQUEST_CANCELLED) for the parts still open.
   * Resolves once the stream is destroyed.
   */
  close(code?: number): Promise<void> {
    this.#closeCode = code;
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.once("close", () => resolve());
      this.destroy();
    });
  }

  /** Sends a file's content and ends the stream (FIN). */
  sendFile(path: string | Buffer | URL, options: SendFileOptions = {}): void {
    if (options.length === 0) return void this.end();
    const source = createReadStream(path, readRange(options));
    source.once("error", (err) => (options.onError ? options.onError(err) : this.destroy(err)));
    source.pipe(this);
  }

  /** Sends from an open file descriptor or FileHandle and ends the stream; the descriptor stays open. */
  sendFD(fd: number | FileHandle, options: SendFileOptions = {}): void {
    if (options.length === 0) return void this.end();
    const n = typeof fd === "number" ? fd : fd.fd;
    const source = createReadStream("", { fd: n, autoClose: false, ...readRange(options) });
    source.once("error", (err) => this.destroy(err));
    source.pipe(this);
  }

  // ------------------------------------------------------------ HTTP/3 headers

  /** HTTP/3: sends the request (client) or response (server) header section. */
  submitInitialHeaders(headers: HeadersObject): void {
    this.session._headers(this, "initial", toHeaderList(headers));
  }

  /** HTTP/3 server: sends an interim (1xx) response. */
  submitInformationalHeaders(headers: HeadersObject): void {
    this.session._headers(this, "informational", toHeaderList(headers));
  }

  /** HTTP/3: sends a trailer section after the content, in place of a bare FIN when the stream ends. */
  submitTrailingHeaders(headers: HeadersObject): void {
    if (!this.session.isH3) throw invalidState("headers need the HTTP/3 application (alpn 'h3')");
    if (this.writableEnded) throw invalidState("trailers must be submitted before the stream ends");
    this.#trailers = toHeaderList(headers);
  }

  /** Server push is not offered: always throws (its `errorCode` is H3_ID_ERROR, as no push ID can be granted). */
  submitPushPromise(_headers?: HeadersObject): never {
    const e = new QuicStreamError("ERR_QUIC_H3_PUSH_UNSUPPORTED", "HTTP/3 server push is not supported", H3ErrorCode.H3_ID_ERROR);
    throw e;
  }

  /** Alias of {@link submitPushPromise} (Node's `pushStream`). */
  pushStream(headers?: HeadersObject): never {
    return this.submitPushPromise(headers);
  }

  // ------------------------------------------------------------ Duplex

  /** @internal */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.#id === undefined) {
      // An HTTP/3 request stream opens with its headers: hold the body until then.
      this.#waitingForId = () => this._write(chunk, _encoding, callback);
      return;
    }
    let ok: boolean;
    try {
      ok = this.session._write(this, chunk, false);
    } catch (e) {
      return callback(e as Error);
    }
    this.#bytesSent += chunk.length;
    if (ok) return callback();
    this.#writeCallback = callback;
    this.emit("blocked");
  }

  /** @internal */
  override _final(callback: (err?: Error | null) => void): void {
    if (this.#id === undefined) {
      this.#waitingForId = () => this._final(callback);
      return;
    }
    try {
      if (this.#trailers) this.session._headers(this, "trailing", this.#trailers);
      else this.session._write(this, new Uint8Array(0), true);
    } catch (e) {
      return callback(e as Error);
    }
    callback();
  }

  /** @internal */
  override _read(): void {
    if (this.#id !== undefined) this.session._read(this);
  }

  /** @internal */
  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // `readable` / `writable` already read false here (the stream is destroyed): use the sides it was built with.
    const readOpen = (this.#bidi || !this.#local) && !this.readableEnded && this.#finalSize === undefined;
    const writeOpen = (this.#bidi || this.#local) && !this.writableFinished;
    if (this.#id !== undefined && (readOpen || writeOpen)) {
      const code = this.#closeCode ?? (err instanceof QuicStreamError ? err.errorCode : this.session.isH3 ? H3ErrorCode.H3_REQUEST_CANCELLED : 0);
      try {
        this.session._abort(this, code);
      } catch {
        // The connection is gone: nothing left to reset.
      }
    }
    const held = this.#writeCallback;
    this.#writeCallback = undefined;
    this.session._forget(this);
    callback(err);
    held?.(err ?? new TsquicError("ERR_STREAM_DESTROYED", "the stream was destroyed"));
  }

  // ------------------------------------------------------------ from the session

  /** @internal The ID is known: held writes go out. */
  _setId(id: number): void {
    this.#id = id;
    const go = this.#waitingForId;
    this.#waitingForId = undefined;
    go?.();
  }

  /** @internal Delivers received bytes; false when the reader is saturated (stop pulling). */
  _deliver(data: Uint8Array): boolean {
    this.#bytesReceived += data.length;
    return this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  /** @internal The peer finished sending. */
  _deliverEnd(): void {
    this.#finalSize = this.#bytesReceived;
    this.push(null);
  }

  /** @internal The transport can take more data. */
  _onWritable(): void {
    const cb = this.#writeCallback;
    this.#writeCallback = undefined;
    cb?.();
  }
}

/**
 * createReadStream's start/end for Node's offset/length (-1: not set). With
 * no start, node:fs reads from the current position and counts `end` from
 * there.
 */
function readRange(o: SendFileOptions): { start?: number; end?: number } {
  const offset = o.offset ?? -1;
  const length = o.length ?? -1;
  const r: { start?: number; end?: number } = {};
  if (offset >= 0) r.start = offset;
  // end is inclusive.
  if (length >= 0) r.end = (r.start ?? 0) + length - 1;
  return r;
}
