// The part of `node:quic` (Node.js v26's QUIC API, as shipped by Bun on
// lsquic) that bench/peers/bun-h3.ts uses. Stock Node 20's @types/node has
// no such module; these declarations let that peer compile under strict TS.
// Only Bun runs it.
declare module "node:quic" {
  /** HTTP header block: pseudo-headers and fields. */
  export type QuicHeaders = Record<string, string | string[]>;

  /** A QUIC stream; iterating it yields batches of received chunks. */
  export interface QuicStream extends AsyncIterable<Uint8Array[]> {
    readonly id: bigint | number;
    readonly closed: Promise<void>;
    readonly writer: { writeSync(chunk: Uint8Array): boolean; endSync(): void };
    sendHeaders(headers: QuicHeaders, options?: { terminal?: boolean }): void;
    destroy(error?: unknown): void;
  }

  /** Options of `createBidirectionalStream`. */
  export interface CreateStreamOptions {
    headers?: QuicHeaders;
    body?: Uint8Array | string;
    onheaders?(this: QuicStream, headers: QuicHeaders): void;
  }

  /** A QUIC connection. */
  export interface QuicSession {
    readonly opened: Promise<unknown>;
    readonly closed: Promise<void>;
    onstream: ((stream: QuicStream) => void) | undefined;
    createBidirectionalStream(options?: CreateStreamOptions): Promise<QuicStream>;
    close(): Promise<void>;
    destroy(error?: unknown): void;
  }

  /** A local UDP endpoint. */
  export interface QuicEndpoint {
    readonly address: { address: string; port: number };
    close(): Promise<void>;
    destroy(error?: unknown): void;
  }

  /** Server identity for one SNI name ("*" matches all). */
  export interface SniIdentity {
    keys: unknown[];
    certs: Uint8Array[];
  }

  /** Options of `listen` (only what the benchmark sets). */
  export interface ListenOptions {
    sni: Record<string, SniIdentity>;
    onheaders?(this: QuicStream, headers: QuicHeaders): void;
    [option: string]: unknown;
  }

  /** Options of `connect` (only what the benchmark sets). */
  export interface ConnectOptions {
    servername?: string;
    verifyPeer?: string;
    endpoint?: QuicEndpoint;
    [option: string]: unknown;
  }

  export function listen(onsession: (session: QuicSession) => void, options: ListenOptions): Promise<QuicEndpoint>;
  export function connect(address: { address: string; port: number }, options?: ConnectOptions): Promise<QuicSession>;
}
