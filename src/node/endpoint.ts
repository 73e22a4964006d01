/**
 * QuicEndpoint of the Node-style API (seed 001): one local UDP binding of a
 * QuicSocket, i.e. one {@link UdpEndpoint} (dgram socket, sans-IO
 * endpoint, timer). The socket-option setters delegate to node:dgram.
 */
import type dgram from "node:dgram";
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Connection } from "../quic/connection.js";
import { UdpEndpoint, type UdpEndpointOptions } from "../driver/udp-endpoint.js";
import { TsquicError } from "../util/errors.js";
import { QuicOptionError, invalidState } from "./errors.js";
import { addressInfo, checkOptionNames, type AddressInfo, type EndpointOptions, type LookupFunction } from "./options.js";

/** What an endpoint needs from its socket. */
export interface EndpointOwner {
  /** @internal The sans-IO endpoint options (configuration, limits) for a new binding. */
  _endpointOptions(): UdpEndpointOptions;
  /** @internal A connection on `endpoint` has events or was created. */
  _onActivity(connection: Connection, endpoint: QuicEndpoint): void;
  /** @internal The binding is up (filters get installed here). */
  _onBound(endpoint: QuicEndpoint, udp: UdpEndpoint): void;
  /** @internal The binding is gone. */
  _onEndpointClosed(endpoint: QuicEndpoint, error: Error | undefined): void;
  /** @internal The socket-wide lookup, if any. */
  readonly _lookup: LookupFunction | undefined;
}

/** Resolves a host name the way the Node documentation describes (custom lookup or dns.lookup). */
export async function resolveHost(host: string, family: 4 | 6, lookup: LookupFunction | undefined): Promise<string> {
  if (isIP(host)) return host;
  const r = lookup ? await lookup(host, family) : await dnsLookup(host, { family });
  return r.address;
}

/** One local UDP binding of a {@link QuicSocket}. Users get them from `socket.endpoints` and `socket.addEndpoint()`. */
export class QuicEndpoint {
  readonly #owner: EndpointOwner;
  readonly #options: EndpointOptions;
  #udp: UdpEndpoint | undefined;
  #binding: Promise<AddressInfo> | undefined;
  #closing = false;
  #destroyed = false;
  #refed = true;

  /** @internal */
  constructor(owner: EndpointOwner, options: EndpointOptions = {}) {
    checkOptionNames("endpoint", options);
    const t = options.type ?? "udp4";
    if (t !== "udp4" && t !== "udp6" && t !== "udp6-only") throw new QuicOptionError("ERR_INVALID_ARG_VALUE", "endpoint.type", `endpoint.type must be 'udp4', 'udp6' or 'udp6-only', got ${String(t)}`);
    if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port < 65536))
      throw new QuicOptionError("ERR_INVALID_ARG_VALUE", "endpoint.port", `endpoint.port must be 0..65535, got ${String(options.port)}`);
    this.#owner = owner;
    this.#options = { ...options, type: t };
  }

  /** IPv4 or IPv6 binding. */
  get family(): 4 | 6 {
    return this.#options.type === "udp4" ? 4 : 6;
  }

  /** The bound address; {} before binding. */
  get address(): AddressInfo | Record<string, never> {
    if (!this.#udp || this.#destroyed) return {};
    const a = this.#udp.address;
    return addressInfo(a.address, a.port);
  }

  /** True once bound. */
  get bound(): boolean {
    return this.#udp !== undefined && !this.#destroyed;
  }

  /** True while binding. */
  get pending(): boolean {
    return this.#binding !== undefined && this.#udp === undefined && !this.#destroyed;
  }

  /** True while closing. */
  get closing(): boolean {
    return this.#closing && !this.#destroyed;
  }

  /** True once closed or destroyed. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** The system file descriptor, where the runtime exposes it (undefined otherwise). */
  get fd(): number | undefined {
    const s = this.#udp?.dgram as unknown as Record<symbol, { handle?: { fd?: number } }> | undefined;
    if (!s) return undefined;
    // node:dgram keeps its handle under an internal symbol; reading `_handle` would print a deprecation warning.
    const state = Object.getOwnPropertySymbols(s).find((k) => k.description === "state symbol");
    const fd = state ? s[state]?.handle?.fd : undefined;
    return typeof fd === "number" && fd >= 0 ? fd : undefined;
  }

  /**
   * Binds the UDP socket (once: later calls return the same promise).
   * Resolves with the address. An aborted `signal` rejects with an AbortError.
   */
  bind(options: { signal?: AbortSignal } = {}): Promise<AddressInfo> {
    if (this.#destroyed) return Promise.reject(invalidState("the endpoint is destroyed"));
    if (this.#binding) return this.#binding;
    const signal = options.signal;
    const binding = (async (): Promise<AddressInfo> => {
      signal?.throwIfAborted();
      const o = this.#options;
      const ipv6 = o.type !== "udp4";
      const address = await resolveHost(o.address ?? (ipv6 ? "::" : "0.0.0.0"), ipv6 ? 6 : 4, o.lookup ?? this.#owner._lookup);
      const udp = await UdpEndpoint.bind(
        { ...this.#owner._endpointOptions(), address, port: o.port ?? 0, ipv6, ...(o.type === "udp6-only" ? { ipv6Only: true } : {}) },
        (c) => this.#owner._onActivity(c, this),
        (err) => this.destroy(err),
      );
      if (this.#destroyed || signal?.aborted) {
        await udp.close();
        signal?.throwIfAborted();
        throw invalidState("the endpoint was destroyed while binding");
      }
      this.#udp = udp;
      if (!this.#refed) udp.unref();
      this.#owner._onBound(this, udp);
      return this.address as AddressInfo;
    })();
    this.#binding = binding;
    return binding;
  }

  /** Closes the binding; live connections on it are abandoned (close sessions first for a clean end). */
  async close(): Promise<void> {
    if (this.#destroyed || this.#closing) return;
    this.#closing = true;
    const udp = this.#udp;
    if (udp) {
      // Send what is queued (a final CONNECTION_CLOSE) before the socket goes.
      udp.flushNow();
      await udp.close();
    }
    this.#finish(undefined);
  }

  /** Destroys the binding at once. */
  destroy(error?: Error): void {
    if (this.#destroyed) return;
    this.#closing = true;
    const udp = this.#udp;
    if (udp) {
      udp.flushNow();
      void udp.close();
    }
    this.#finish(error);
  }

  #finish(error: Error | undefined): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#owner._onEndpointClosed(this, error);
  }

  /** Keeps the process alive while bound (the default). */
  ref(): void {
    this.#refed = true;
    this.#udp?.ref();
  }

  /** Lets the process exit while bound. */
  unref(): void {
    this.#refed = false;
    this.#udp?.unref();
  }

  /** IP_TTL (1..255). */
  setTTL(ttl: number): void {
    this.#dgram("setTTL").setTTL(ttl);
  }

  /** IP_MULTICAST_TTL (0..255). */
  setMulticastTTL(ttl: number): void {
    this.#dgram("setMulticastTTL").setMulticastTTL(ttl);
  }

  /** IP_MULTICAST_LOOP. */
  setMulticastLoopback(on = true): void {
    this.#dgram("setMulticastLoopback").setMulticastLoopback(on);
  }

  /** The outgoing multicast interface. */
  setMulticastInterface(iface: string): void {
    this.#dgram("setMulticastInterface").setMulticastInterface(iface);
  }

  /** SO_BROADCAST. */
  setBroadcast(on = true): void {
    this.#dgram("setBroadcast").setBroadcast(on);
  }

  /** IP_ADD_MEMBERSHIP. */
  addMembership(address: string, iface?: string): void {
    this.#dgram("addMembership").addMembership(address, iface);
  }

  /** IP_DROP_MEMBERSHIP. */
  dropMembership(address: string, iface?: string): void {
    this.#dgram("dropMembership").dropMembership(address, iface);
  }

  /** @internal The driver, once bound. */
  get _udp(): UdpEndpoint | undefined {
    return this.#udp;
  }

  /** The bound dgram socket, checking the runtime offers `method` (Bun lacks some). */
  #dgram(method: "setTTL" | "setMulticastTTL" | "setMulticastLoopback" | "setMulticastInterface" | "setBroadcast" | "addMembership" | "dropMembership"): dgram.Socket {
    if (!this.#udp || this.#destroyed) throw invalidState(`${method}() needs a bound endpoint`);
    const s = this.#udp.dgram;
    if (typeof s[method] !== "function") throw new TsquicError("ERR_QUIC_ENDPOINT_UNSUPPORTED", `${method}() is not available on this runtime's UDP sockets`);
    return s;
  }
}
