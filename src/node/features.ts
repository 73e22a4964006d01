/**
 * The one place for options and events of the Node-style API whose
 * transport features are being built on other branches (0-RTT and its
 * remembered transport parameters, connection migration and the
 * preferred address, qlog). Until the core offers them, asking for one
 * throws ERR_QUIC_FEATURE_UNAVAILABLE naming the option, so nothing is
 * silently ignored. What each needs from the core is listed beside it;
 * wiring one means replacing its check here with the real plumbing.
 */
import { QuicOptionError } from "./errors.js";

/** Options gated here, and what the core must provide before they can work. */
export const PENDING_FEATURES = {
  /** listen/connect `earlyData: true`: Connection must install zeroRtt secrets, send and accept 0-RTT packets, and report acceptance (TlsEngine.earlyDataAccepted). `false` is accepted: it is today's behaviour. */
  earlyData: "0-RTT (early data)",
  /** connect `remoteTransportParams`: the client must restore the server's remembered transport parameters for 0-RTT (RFC 9000 section 7.4.1). */
  remoteTransportParams: "remembered transport parameters for 0-RTT",
  /** listen `preferredAddress`: the server must advertise preferred_address with its CID and reset token and accept on it (RFC 9000 section 9.6). */
  preferredAddress: "the server's preferred address",
  /** connect `preferredAddressPolicy: 'accept'`: the client must migrate to the advertised address and emit usePreferredAddress. 'reject' is accepted: it is today's behaviour. */
  preferredAddressPolicy: "migration to the server's preferred address",
  /** `qlog: true` (socket, listen, connect): the core must emit qlog events per connection (a sink the session turns into a stream.Readable). */
  qlog: "qlog",
  /** QuicClientSession.setSocket(): the client connection must migrate to another local socket with path validation (RFC 9000 section 9). */
  setSocket: "connection migration",
} as const;

/** Throws ERR_QUIC_FEATURE_UNAVAILABLE for `option` (named as `where.option`). */
export function featureUnavailable(where: string, option: keyof typeof PENDING_FEATURES): never {
  throw new QuicOptionError(
    "ERR_QUIC_FEATURE_UNAVAILABLE",
    `${where}.${option}`,
    `${where}.${option}: ${PENDING_FEATURES[option]} is not available in this build of tsquic yet`,
  );
}

/**
 * Checks the gated options of a listen() or connect() call: values that
 * ask for a missing feature throw; values that describe today's behaviour
 * (earlyData false, preferredAddressPolicy 'reject', qlog false) pass.
 */
export function checkPendingFeatures(where: string, o: Record<string, unknown>): void {
  if (o.earlyData === true) featureUnavailable(where, "earlyData");
  if (o.remoteTransportParams !== undefined) featureUnavailable(where, "remoteTransportParams");
  if (o.preferredAddress !== undefined) featureUnavailable(where, "preferredAddress");
  if (o.preferredAddressPolicy !== undefined && o.preferredAddressPolicy !== "reject") featureUnavailable(where, "preferredAddressPolicy");
  if (o.qlog === true) featureUnavailable(where, "qlog");
}

/**
 * Events that will be emitted once their features land; documented here so
 * the integrator finds them: `pathValidation` (result, local, remote) and
 * `usePreferredAddress` (address) on sessions, `qlog` (stream.Readable) on
 * client sessions. Today they are never emitted.
 */
export const PENDING_EVENTS = ["pathValidation", "usePreferredAddress", "qlog"] as const;
