/**
 * hq-interop: the QUIC interop runner's HTTP/0.9-style protocol (ALPN
 * "hq-interop"), a file server and a parallel downloader on tsquic.
 */
export { serveHq } from "./server.js";
export type { HqServer, HqServerOptions, HqServerStats, HqRequestRecord, HqRequestOutcome } from "./server.js";
export { getHq } from "./client.js";
export type { HqClientOptions, HqDownload, HqFileResult, HqFileStatus, HqProgress } from "./client.js";
export { HqErrorCode } from "./codes.js";
export {
  HQ_ALPN,
  DEFAULT_MAX_REQUEST_LINE,
  HqRequestError,
  RequestLineBuffer,
  parseRequestLine,
  formatRequestLine,
  checkTargetSyntax,
  decodeTarget,
  encodeTarget,
  resolveUnderRoot,
  isInside,
} from "./request-line.js";
export type { HqRequest, HqRequestErrorReason, RequestLineOptions } from "./request-line.js";
