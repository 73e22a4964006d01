/**
 * tsquic: QUIC, TLS 1.3 and HTTP/3 in TypeScript.
 *
 * The primary API is `quic()` / `listen()` (after Bun's QUIC design); the
 * sans-IO core (`Connection`, `Endpoint`) is exported for drivers of one's own.
 */
export { quic, listen, QuicSocket, QuicStream, QuicServer, parseTarget } from "./api/quic.js";
export type { QuicClientOptions, QuicServerOptions, StreamHandlers, SocketHandlers, CertInput, SocketKeylogOption } from "./api/quic.js";
export { Connection, QuicConnectionError } from "./quic/connection.js";
export type { ConnectionEvent, ConnectionStats, CloseInfo, ConnectionState } from "./quic/connection.js";
export { Endpoint } from "./quic/endpoint.js";
export type { EndpointOptions, EndpointStats } from "./quic/endpoint.js";
export type { ConnectionConfig, TransportSettings } from "./quic/config.js";
export { QuicTransportError, TransportErrorCode } from "./quic/errors.js";
export { TlsAlertError, AlertDescription } from "./tls/alerts.js";
export { TsquicError } from "./util/errors.js";
export { SimulatedLink } from "./testing/link.js";
export type { LinkConditions } from "./testing/link.js";
export { createCertificate, createDevelopmentCertificates, writeDevelopmentCertificates } from "./pki/generate.js";
export { UdpEndpoint } from "./driver/udp-endpoint.js";
export { qlogDirectory, flushQlogFiles } from "./driver/qlog-files.js";
export type { QlogOption } from "./driver/qlog-files.js";
export { keylogToFile } from "./driver/keylog-file.js";
export type { KeylogOption } from "./driver/keylog-file.js";
export { QlogTracer } from "./quic/qlog/qlog.js";
export type { QlogSink } from "./quic/qlog/qlog.js";
export type { ConnectionTracer, TracerFactory, TraceStart } from "./quic/qlog/tracer.js";
export type { DatagramStats } from "./quic/datagram.js";
export * from "./hq/index.js";
export { serve, fetch, closeAll, H3Agent, H3Server, H3Connection, H3StreamError } from "./h3/http.js";
/** The Node-style API (seed 001); its classes are prefixed where names clash with the Bun-style API's. */
export {
  createQuicSocket,
  QuicSocket as NodeQuicSocket,
  QuicEndpoint,
  QuicSession,
  QuicClientSession,
  QuicServerSession,
  QuicStream as NodeQuicStream,
  QuicStreamError,
  QuicOptionError,
  createSecureContext,
} from "./node/index.js";
export type { ConnectOptions, ListenOptions, QuicSocketOptions, QuicEndpointOptions, HeadersObject, CertificateObject, CloseCode, AddressInfo, PreferredAddressOption, QlogSetting } from "./node/index.js";
