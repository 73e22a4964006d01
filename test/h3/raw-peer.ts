/** Helpers for tests that drive one side of an HTTP/3 connection by hand: crafted frames on a raw transport connection. */
import assert from "node:assert/strict";
import { encodeFrame, encodeHeadersFrame, encodeSettingsFrame, encodeStreamHeader, StreamType, type H3Settings } from "../../src/h3/frames.js";
import { QpackEncoder } from "../../src/h3/qpack/encoder.js";
import type { Header } from "../../src/h3/qpack/primitives.js";
import type { Connection, ConnectionEvent } from "../../src/quic/connection.js";
import { h3Pair } from "./h3-pair.js";
import { cat } from "./helpers.js";

const te = new TextEncoder();

/** A HEADERS frame encoded with the static table and literals only. */
export function headersFrame(headers: Header[]): Uint8Array {
  return encodeHeadersFrame(new QpackEncoder().encodeFieldSection(0, headers));
}

export function dataFrame(bytes: Uint8Array | string): Uint8Array {
  return encodeFrame({ type: "data", data: typeof bytes === "string" ? te.encode(bytes) : bytes });
}

/** Opens a control stream with SETTINGS on a raw transport connection. */
export function openControl(conn: Connection, settings: H3Settings = {}, extra: Uint8Array = new Uint8Array(0)): number {
  const s = conn.openStream(false)!;
  conn.streamWrite(s.id, cat(encodeStreamHeader(StreamType.CONTROL), encodeSettingsFrame(settings), extra));
  return s.id;
}

/** Opens a unidirectional stream of `type` on a raw connection and writes `bytes`. */
export function openUni(conn: Connection, type: number, bytes: Uint8Array = new Uint8Array(0), fin = false): number {
  const s = conn.openStream(false)!;
  conn.streamWrite(s.id, cat(encodeStreamHeader(type, type === StreamType.PUSH ? 0 : undefined), bytes), fin);
  return s.id;
}

/** Writes a raw request (bytes) on a new bidirectional stream. */
export function rawRequest(conn: Connection, bytes: Uint8Array, fin = true): number {
  const s = conn.openStream(true)!;
  conn.streamWrite(s.id, bytes, fin);
  return s.id;
}

/** Runs until the raw side sees the connection close; returns the application error code it carried. */
export function closeCodeSeenBy(p: ReturnType<typeof h3Pair>): number | undefined {
  p.run(() => p.rawEvents.some((e) => e.type === "connection_closed"));
  const e = p.rawEvents.find((x): x is Extract<ConnectionEvent, { type: "connection_closed" }> => x.type === "connection_closed");
  assert.ok(e, "the connection was closed");
  assert.equal(e.info.application, true, "closed with an application (HTTP/3) code");
  assert.equal(e.info.remote, true);
  return e.info.errorCode;
}


/** A client H3Connection facing a raw server: the client's request `headers` (ended) has reached the raw side. */
export function requestToRawServer(headers: Header[]): { p: ReturnType<typeof h3Pair>; conn: Connection; id: number } {
  const p = h3Pair({ rawServer: true });
  const conn = p.rawServerConn;
  openControl(conn);
  p.run(() => p.client.canSendRequest);
  const id = p.client.sendRequest(headers, true)!;
  assert.ok(p.run(() => p.rawEvents.some((e) => e.type === "readable" && e.streamId === id)));
  return { p, conn, id };
}
