/**
 * Compatible version negotiation (RFC 9368) between QUIC v1 and v2
 * (RFC 9369): the version_information transport parameter each side sends,
 * the server's choice of a negotiated version from the client's first
 * flight, and the checks that keep an attacker from forcing a worse version
 * than both ends support (downgrade prevention, RFC 9368 section 4).
 * Pure functions; the connection switches keys when they say so.
 */
import { QuicTransportError, TransportErrorCode } from "./errors.js";
import { isSupportedVersion } from "./packet/version.js";
import type { VersionInformation } from "./transport-params.js";

/** Transport parameter ID of version_information, for error frames (RFC 9368 section 3). */
const VERSION_INFORMATION_ID = 0x11;

function versionError(message: string): QuicTransportError {
  // RFC 9368 section 10.2: VERSION_NEGOTIATION_ERROR.
  return new QuicTransportError(TransportErrorCode.VERSION_NEGOTIATION_ERROR, message, VERSION_INFORMATION_ID);
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/**
 * Whether a first flight of `from` can be converted to `to` (RFC 9368
 * section 2.3). QUIC v1 and v2 are compatible both ways (RFC 9369 section
 * 4); every version is compatible with itself.
 */
export function areCompatible(from: number, to: number): boolean {
  return from === to || (isSupportedVersion(from) && isSupportedVersion(to));
}

/**
 * Our version_information (RFC 9368 section 3): Chosen Version is the
 * version of our packets; Available Versions are the versions we accept
 * (a client: those its first flight is compatible with, Chosen Version
 * included; a server: its fully deployed versions), in preference order.
 */
export function localVersionInformation(chosen: number, versions: readonly number[]): VersionInformation {
  const available = versions.filter((v) => isSupportedVersion(v) && areCompatible(chosen, v));
  if (!available.includes(chosen)) available.unshift(chosen);
  return { chosenVersion: chosen, availableVersions: available };
}

/**
 * Server side (RFC 9368 sections 2.3 and 6): checks the client's
 * version_information against the version of its first flight
 * (`original`), and returns the version to continue with: the first of the
 * server's `preferences` that the client lists and that `original`
 * converts to, else `original`. Throws VERSION_NEGOTIATION_ERROR when the
 * client's Chosen Version is not the version its packets used.
 */
export function serverNegotiate(original: number, client: VersionInformation | undefined, preferences: readonly number[]): number {
  if (!client) return original; // a client without the parameter negotiates nothing (RFC 9368 section 3)
  if (client.chosenVersion !== original) {
    throw versionError(`client's Chosen Version ${hex(client.chosenVersion)} differs from the version of its packets ${hex(original)}`);
  }
  for (const v of preferences) {
    if (isSupportedVersion(v) && client.availableVersions.includes(v) && areCompatible(original, v)) return v;
  }
  return original;
}

/** What a client knows of how it reached the negotiated version, for {@link clientValidate}. */
export interface ClientNegotiationState {
  /** Version of our first flight on this connection. */
  original: number;
  /** Version of the server's packets (equal to `original` unless the server converted it). */
  negotiated: number;
  /** Our versions in preference order. */
  preferences: readonly number[];
  /**
   * Set when this connection follows an incompatible Version Negotiation
   * packet (RFC 9368 section 2.1): the version the client first tried.
   */
  afterVersionNegotiation?: number;
}

/**
 * Client side (RFC 9368 sections 4 and 6): the server's Chosen Version
 * must be the negotiated version; a server that converted our first flight
 * must say so in version_information; and after an incompatible Version
 * Negotiation, the server's Available Versions must not include a version
 * we prefer over the one we ended up with, or the Version Negotiation
 * packet was forged to downgrade us.
 */
export function clientValidate(s: ClientNegotiationState, server: VersionInformation | undefined): void {
  if (!server) {
    if (s.negotiated !== s.original) throw versionError(`server switched to ${hex(s.negotiated)} without version_information`);
    if (s.afterVersionNegotiation !== undefined) throw versionError("server sent no version_information after Version Negotiation");
    return;
  }
  if (server.chosenVersion !== s.negotiated) {
    throw versionError(`server's Chosen Version ${hex(server.chosenVersion)} differs from the negotiated version ${hex(s.negotiated)}`);
  }
  if (s.afterVersionNegotiation !== undefined) {
    // The version we would have picked had we known the server's versions (RFC 9368 section 4).
    const best = s.preferences.find((v) => isSupportedVersion(v) && server.availableVersions.includes(v));
    if (best !== undefined && best !== s.negotiated && s.preferences.indexOf(best) < s.preferences.indexOf(s.negotiated)) {
      throw versionError(`downgrade: the server supports ${hex(best)}, which we prefer to ${hex(s.negotiated)}, yet Version Negotiation said otherwise`);
    }
  }
}
