/** An in-memory pair of HTTP/3 connections over a simulated link, for the sans-IO HTTP/3 tests. */
import { H3Connection, type H3ConnectionOptions, type H3Event } from "../../src/h3/connection.js";
import type { Connection, ConnectionEvent } from "../../src/quic/connection.js";
import { establish, makePair, type Pair, type PairOptions } from "../quic/harness.js";

/** Client and server HTTP/3 connections joined by a simulated link, with their events collected. */
export interface H3Pair {
  pair: Pair;
  client: H3Connection;
  server: H3Connection;
  clientEvents: H3Event[];
  serverEvents: H3Event[];
  /** Transport events of a raw side (when `rawClient` / `rawServer`). */
  rawEvents: ConnectionEvent[];
  /** Drains both sides' events into the lists (and calls `onEvent` for each). */
  pump(): void;
  /** Runs the link until `until` holds (pumping events at each step); false after `maxTime` ms of virtual time. */
  run(until: () => boolean, maxTime?: number): boolean;
  /** Runs until both sides are idle. */
  settle(maxTime?: number): void;
}

/** Options of {@link h3Pair}. */
export interface H3PairOptions extends PairOptions {
  client?: H3ConnectionOptions;
  server?: H3ConnectionOptions;
  /** Called for each event as it is drained, e.g. to answer requests. */
  onEvent?: (side: "client" | "server", e: H3Event) => void;
  /** Use only a client H3Connection: the server's transport is driven raw by the test. */
  rawServer?: boolean;
  /** Use only a server H3Connection: the client's transport is driven raw by the test. */
  rawClient?: boolean;
}

/** Builds the pair and completes the QUIC handshake (ALPN h3). */
export function h3Pair(o: H3PairOptions = {}): H3Pair & { rawClientConn: Connection; rawServerConn: Connection } {
  const pair = makePair({ ...o, config: { alpn: ["h3"], ...(o.config ?? {}) } });
  const serverConn = establish(pair);
  const client = o.rawClient ? (undefined as unknown as H3Connection) : new H3Connection(pair.conn, o.client);
  const server = o.rawServer ? (undefined as unknown as H3Connection) : new H3Connection(serverConn, o.server);
  const clientEvents: H3Event[] = [];
  const serverEvents: H3Event[] = [];
  const rawEvents: ConnectionEvent[] = [];
  const raw = o.rawClient ? pair.conn : o.rawServer ? serverConn : undefined;
  const pump = (): void => {
    for (let again = true; again; ) {
      again = false;
      if (raw) {
        for (let e = raw.poll(); e; e = raw.poll()) {
          rawEvents.push(e);
          again = true;
        }
      }
      if (client) {
        for (let e = client.poll(); e; e = client.poll()) {
          clientEvents.push(e);
          o.onEvent?.("client", e);
          again = true;
        }
      }
      if (server) {
        for (let e = server.poll(); e; e = server.poll()) {
          serverEvents.push(e);
          o.onEvent?.("server", e);
          again = true;
        }
      }
    }
  };
  const run = (until: () => boolean, maxTime = 10_000): boolean =>
    pair.link.run(() => {
      pump();
      return until();
    }, maxTime);
  return {
    pair,
    client,
    server,
    clientEvents,
    serverEvents,
    rawEvents,
    pump,
    run,
    settle: (maxTime = 2_000) => void run(() => false, maxTime),
    rawClientConn: pair.conn,
    rawServerConn: serverConn,
  };
}
