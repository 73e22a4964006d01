/**
 * The HTTP/3 APIs: the sans-IO {@link H3Connection}, `serve()` (a
 * web-standard `Request → Response` server) and `fetch()` (the web fetch over
 * HTTP/3 with a connection pool).
 */
export { H3Connection, H3StreamError, type H3ConnectionOptions, type H3Event, type QpackStats, type Header } from "./connection.js";
export { MessageError, validateRequestHeaders, validateResponseHeaders, validateTrailers, type RequestHead, type ResponseHead } from "./messages.js";
export { serve, H3Server, type ServeOptions } from "./server.js";
export { fetch, closeAll, H3Agent, defaultAgent, type H3AgentOptions, type H3RequestInit, type H3TlsOptions } from "./fetch.js";
