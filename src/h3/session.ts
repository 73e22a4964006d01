/**
 * The glue between the sans-IO {@link H3Connection} and the web-standard
 * APIs (`serve()` and `fetch()`): an event dispatcher per connection that
 * routes stream events to per-stream sinks, a ReadableStream fed from DATA
 * frames with backpressure, a pump that writes a ReadableStream out as DATA
 * frames with backpressure, and conversions between header lists and
 * `Headers`.
 */
import { H3ErrorCode } from "./errors.js";
import { H3Connection, H3StreamError, type H3Event } from "./connection.js";
import { CONNECTION_SPECIFIC_FIELDS } from "./messages.js";
import type { Header } from "./qpack/primitives.js";
import { encodeResumptionState } from "../quic/resumption.js";

/** Receives the events of one request stream. */
export interface StreamSink {
  headers?(headers: Header[], interim: boolean): void;
  data?(data: Uint8Array): void;
  trailers?(headers: Header[]): void;
  end?(): void;
  /** The exchange was aborted (see the `reset` event of {@link H3Event}). */
  reset?(errorCode: number, remote: boolean, reason: string): void;
  /** The peer needs no more of what we send (H3_NO_ERROR). */
  stopSending?(errorCode: number): void;
}

/** Connection-level callbacks of a {@link H3Session}. */
export interface SessionHandlers {
  /** A request header section arrived on a new stream (server). */
  request?(session: H3Session, streamId: number, headers: Header[]): void;
  /** Our streams are open (the handshake is complete). */
  ready?(session: H3Session): void;
  goaway?(session: H3Session, id: number): void;
  streamsAvailable?(session: H3Session): void;
  /** The connection ended; `error` is undefined for a clean close. */
  closed?(session: H3Session, error: Error | undefined): void;
  /** Client: the server's verdict on our 0-RTT requests; the handshake is complete. */
  earlyData?(session: H3Session, accepted: boolean): void;
  /** Client: an encoded session (ticket and NEW_TOKEN token) to resume a later connection with. */
  sessionTicket?(session: H3Session, encoded: Uint8Array): void;
}

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

/**
 * One HTTP/3 connection as the API layers see it: {@link dispatch} drains
 * the H3 events into sinks and handlers; {@link touch} tells the driver that
 * the application wrote something.
 */
export class H3Session {
  readonly h3: H3Connection;
  private readonly sinks = new Map<number, StreamSink>();
  private readonly writeWaiters = new Map<number, Waiter[]>();
  private readonly handlers: SessionHandlers;
  private readonly touchFn: () => void;
  private closedError: Error | undefined;
  private ended = false;
  private dispatching = false;

  constructor(h3: H3Connection, touch: () => void, handlers: SessionHandlers) {
    this.h3 = h3;
    this.touchFn = touch;
    this.handlers = handlers;
  }

  /** True once the connection has closed. */
  get closed(): boolean {
    return this.ended;
  }

  /** The error the connection closed with, if any. */
  get error(): Error | undefined {
    return this.closedError;
  }

  /** Marks the connection for a flush by the driver (after writes, resets, resumed reads). */
  touch(): void {
    this.touchFn();
  }

  /** Routes the events of `streamId` to `sink` (until a `reset` or `end` and more). */
  setSink(streamId: number, sink: StreamSink): void {
    this.sinks.set(streamId, sink);
  }

  /** Stops routing events of `streamId`. */
  removeSink(streamId: number): void {
    this.sinks.delete(streamId);
    // An error captures a stack trace: build one only for waiters to reject (almost never on the request path).
    if (this.writeWaiters.has(streamId)) this.failWaiters(streamId, new H3StreamError("ERR_H3_STREAM_CLOSED", `stream ${streamId} is closed`, streamId));
  }

  /** Resolves when `streamId` can take more data (a `writable` event); rejects if the stream or connection ends first. */
  waitWritable(streamId: number): Promise<void> {
    if (this.ended) return Promise.reject(this.closedError ?? new H3StreamError("ERR_H3_CONNECTION_CLOSED", "the connection is closed", streamId));
    return new Promise((resolve, reject) => {
      let list = this.writeWaiters.get(streamId);
      if (!list) this.writeWaiters.set(streamId, (list = []));
      list.push({ resolve, reject });
    });
  }

  private failWaiters(streamId: number, e: Error): void {
    const list = this.writeWaiters.get(streamId);
    if (!list) return;
    this.writeWaiters.delete(streamId);
    for (const w of list) w.reject(e);
  }

  /** Drains the connection's HTTP/3 events into the sinks and handlers. Reentrant calls are ignored. */
  dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let e = this.h3.poll(); e; e = this.h3.poll()) {
        try {
          this.route(e);
        } catch {
          // A failing sink must not take the connection (or the process) down: drop its exchange.
          if ("streamId" in e) {
            this.sinks.delete(e.streamId);
            this.h3.cancel(e.streamId, H3ErrorCode.H3_INTERNAL_ERROR);
            this.touch();
          }
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  private route(e: H3Event): void {
    switch (e.type) {
      case "headers": {
        const sink = this.sinks.get(e.streamId);
        if (sink) sink.headers?.(e.headers, e.interim);
        else if (!e.interim) this.handlers.request?.(this, e.streamId, e.headers);
        return;
      }
      case "data":
        this.sinks.get(e.streamId)?.data?.(e.data);
        return;
      case "trailers":
        this.sinks.get(e.streamId)?.trailers?.(e.headers);
        return;
      case "end":
        this.sinks.get(e.streamId)?.end?.();
        return;
      case "reset": {
        const sink = this.sinks.get(e.streamId);
        this.sinks.delete(e.streamId);
        this.failWaiters(e.streamId, new H3StreamError("ERR_H3_STREAM_RESET", e.reason, e.streamId, e.errorCode));
        sink?.reset?.(e.errorCode, e.remote, e.reason);
        return;
      }
      case "stop_sending":
        this.failWaiters(e.streamId, new H3StreamError("ERR_H3_STREAM_STOPPED", "the peer needs no more data on this stream", e.streamId, e.errorCode));
        this.sinks.get(e.streamId)?.stopSending?.(e.errorCode);
        return;
      case "writable": {
        const list = this.writeWaiters.get(e.streamId);
        if (!list) return;
        this.writeWaiters.delete(e.streamId);
        for (const w of list) w.resolve();
        return;
      }
      case "ready":
        this.handlers.ready?.(this);
        return;
      case "goaway":
        this.handlers.goaway?.(this, e.id);
        return;
      case "streams_available":
        this.handlers.streamsAvailable?.(this);
        return;
      case "closed": {
        this.ended = true;
        this.closedError = e.error;
        const err = e.error ?? new H3StreamError("ERR_H3_CONNECTION_CLOSED", "the connection closed", -1);
        for (const id of [...this.writeWaiters.keys()]) this.failWaiters(id, err);
        const sinks = [...this.sinks.values()];
        this.sinks.clear();
        for (const s of sinks) s.reset?.(e.info.errorCode, e.info.remote, e.error?.message ?? "the connection closed");
        this.handlers.closed?.(this, e.error);
        return;
      }
      case "settings":
        return;
      case "early_data":
        this.handlers.earlyData?.(this, e.accepted);
        return;
      case "session_ticket":
        this.handlers.sessionTicket?.(this, encodeResumptionState({ ticket: e.ticket, ...(e.token ? { token: e.token } : {}) }));
        return;
    }
  }
}

/** Default high-water mark of a body stream fed from the network, in bytes. */
export const DEFAULT_BODY_HIGH_WATER_MARK = 256 * 1024;

/**
 * A ReadableStream of Uint8Array fed from DATA frames. When the stream's
 * queue is above its high-water mark, reading from the transport pauses,
 * so QUIC flow control holds the peer back; it resumes when the consumer
 * pulls (a default stream, not a byte stream: chunks are views of receive
 * buffers and must not be transferred).
 */
export class IncomingBody {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private done = false;
  private paused = false;

  /**
   * @param pause stop reading from the network
   * @param resume start again
   * @param cancel the consumer cancelled the stream
   */
  constructor(
    private readonly hooks: { pause(): void; resume(): void; cancel(reason: unknown): void },
    highWaterMark = DEFAULT_BODY_HIGH_WATER_MARK,
  ) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c;
        },
        pull: () => {
          if (this.paused && !this.done) {
            this.paused = false;
            this.hooks.resume();
          }
        },
        cancel: (reason) => {
          if (this.done) return;
          this.done = true;
          this.hooks.cancel(reason);
        },
      },
      { highWaterMark, size: (c) => c.byteLength },
    );
  }

  /** True once ended, errored or cancelled. */
  get finished(): boolean {
    return this.done;
  }

  /** Queues content; pauses reading once the queue is above the high-water mark. */
  push(data: Uint8Array): void {
    if (this.done) return;
    this.controller.enqueue(data);
    if ((this.controller.desiredSize ?? 0) <= 0 && !this.paused) {
      this.paused = true;
      this.hooks.pause();
    }
  }

  /** The content ended cleanly. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.controller.close();
  }

  /** The content was cut short: readers get `e`. */
  error(e: unknown): void {
    if (this.done) return;
    this.done = true;
    this.controller.error(e);
  }
}

const textEncoder = new TextEncoder();

/** A body chunk as bytes: Uint8Array views pass through, strings are UTF-8 encoded, other buffers are wrapped. */
export function chunkBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return textEncoder.encode(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError(`body chunks must be Uint8Array, ArrayBuffer or string, not ${typeof chunk}`);
}

/**
 * Content is written in DATA frames of at most this size, so that one huge
 * chunk cannot overrun the transport's send buffer: backpressure is
 * honoured between slices.
 */
export const WRITE_SLICE = 256 * 1024;

/**
 * Sends `bytes` as DATA frames (slices of {@link WRITE_SLICE}), waiting for
 * `writable` whenever the transport reports backpressure between slices;
 * `end` finishes the stream with the last one. Resolves to the backpressure
 * state after the last write (false: wait before writing more).
 */
export async function writeContent(session: H3Session, streamId: number, bytes: Uint8Array, end: boolean): Promise<boolean> {
  const h3 = session.h3;
  if (bytes.length <= WRITE_SLICE) {
    const ok = h3.sendData(streamId, bytes, end);
    session.touch();
    return ok;
  }
  let ok = true;
  for (let o = 0; o < bytes.length; o += WRITE_SLICE) {
    if (!ok) await session.waitWritable(streamId);
    const stop = Math.min(bytes.length, o + WRITE_SLICE);
    ok = h3.sendData(streamId, bytes.subarray(o, stop), end && stop === bytes.length);
    session.touch();
  }
  return ok;
}

/**
 * Writes the rest of a body reader out as DATA frames, waiting for
 * `writable` when the transport reports backpressure, and ends the stream.
 * On failure the reader is cancelled and the error rethrown.
 */
export async function pumpBody(session: H3Session, streamId: number, reader: ReadableStreamDefaultReader<unknown>, first?: ReadableStreamReadResult<unknown>): Promise<void> {
  try {
    let r = first ?? (await reader.read());
    while (!r.done) {
      if (!(await writeContent(session, streamId, chunkBytes(r.value), false))) await session.waitWritable(streamId);
      r = await reader.read();
    }
    session.h3.endStream(streamId);
    session.touch();
  } catch (e) {
    reader.cancel(e).catch(() => {});
    throw e;
  }
}

/**
 * Appends the fields of `headers` to `out` as HTTP/3 field lines: names
 * lowercase (Headers already are), connection-specific fields and Host
 * dropped (RFC 9114 sections 4.2 and 4.3.1), `skip` names left out.
 */
export function appendHeaderList(out: Header[], headers: Headers, skip?: ReadonlySet<string>): void {
  for (const [name, value] of headers) {
    if (CONNECTION_SPECIFIC_FIELDS.has(name) || name === "host" || skip?.has(name)) continue;
    // RFC 9114 section 4.2: TE is allowed with "trailers" only.
    if (name === "te" && value.trim().toLowerCase() !== "trailers") continue;
    out.push([name, value]);
  }
}

/**
 * Builds `Headers` from received regular field lines (pseudo-header
 * fields skipped); several Cookie lines are joined with "; " (RFC 9114
 * section 4.2.1).
 */
export function toHeaders(list: readonly Header[]): Headers {
  const h = new Headers();
  let cookie: string | undefined;
  for (let i = 0; i < list.length; i++) {
    const [name, value] = list[i]!;
    if (name.charCodeAt(0) === 0x3a) continue;
    if (name === "cookie") cookie = cookie === undefined ? value : `${cookie}; ${value}`;
    else h.append(name, value);
  }
  if (cookie !== undefined) h.set("cookie", cookie);
  return h;
}

/** Error code used when our own side fails while producing a body. */
export const BODY_FAILURE_CODE = H3ErrorCode.H3_INTERNAL_ERROR;
