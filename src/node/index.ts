/**
 * The Node-style QUIC API (seed 001): createQuicSocket(), QuicSocket,
 * QuicEndpoint, QuicSession (client and server) and QuicStream as a
 * stream.Duplex, over the same core as the Bun-style API.
 */
export { createQuicSocket, QuicSocket } from "./socket.js";
export { QuicEndpoint } from "./endpoint.js";
export { QuicSession, QuicClientSession, QuicServerSession } from "./session.js";
export type { CertificateObject, CloseCode } from "./session.js";
export { QuicStream, QuicStreamError } from "./stream.js";
export type { HeadersObject, OpenStreamOptions, SendFileOptions } from "./stream.js";
export { createSecureContext } from "./options.js";
export type {
  AddressInfo,
  ConnectOptions,
  EndpointOptions as QuicEndpointOptions,
  H3Options,
  ListenOptions,
  LookupFunction,
  PreferredAddressOption,
  QuicSocketOptions,
  SecureContext,
  SecureContextOptions,
  TransportOptions,
} from "./options.js";
export { QuicOptionError } from "./errors.js";
export type { QlogSetting } from "./qlog.js";
