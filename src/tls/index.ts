/**
 * The TLS 1.3 engine: client and server state machines with the QUIC
 * boundary of RFC 9001 section 4 (handshake bytes per encryption level in
 * and out, plus traffic-secret events).
 */
export { AlertDescription, TlsAlertError, alertName } from "./alerts.js";
export type { GroupName, SignatureSchemeName } from "./constants.js";
export { TlsClient, type TlsClientConfig } from "./client.js";
export { TlsServer, type TlsServerConfig, type ServerCertificate, type EarlyDataRequest } from "./server.js";
export { QUIC_PROTOCOL_VIOLATION, type EncryptionLevel, type TlsEvent, type TlsCommonConfig, type PemOrDer } from "./engine.js";
export { encodeSessionTicket, decodeSessionTicket, type SessionTicket } from "./ticket.js";
