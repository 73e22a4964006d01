/**
 * Stream ID arithmetic (RFC 9000 section 2.1).
 *
 * Stream IDs reach 2^62-1, beyond the 32 bits JavaScript's bitwise operators
 * handle, so every helper here uses plain arithmetic (`%`, `/`) instead of
 * `&` and `>>`.
 */

/**
 * Largest cumulative stream count a peer may grant or we may accept: 2^60,
 * because a larger count would allow stream IDs above 2^62-1
 * (RFC 9000 sections 4.6, 19.11 and 19.14).
 */
export const MAX_STREAMS_LIMIT = 2 ** 60;

/** True when the stream was opened by the client: bit 0x1 clear (RFC 9000 section 2.1). */
export function isClientInitiated(id: number): boolean {
  return id % 2 === 0;
}

/** True for a bidirectional stream: bit 0x2 clear (RFC 9000 section 2.1). */
export function isBidirectional(id: number): boolean {
  return id % 4 < 2;
}

/** True when the stream was opened by the endpoint whose role is `isClient`. */
export function isLocallyInitiated(id: number, isClient: boolean): boolean {
  return isClientInitiated(id) === isClient;
}

/**
 * Position of the stream among the streams of its type: 0 for the first
 * stream of a type, 1 for the next, ... The stream count limits of
 * RFC 9000 section 4.6 compare against `index + 1`.
 */
export function streamIndex(id: number): number {
  return Math.floor(id / 4);
}

/** The ID of the `index`-th stream of a type (RFC 9000 section 2.1, Table 1). */
export function makeStreamId(index: number, clientInitiated: boolean, bidi: boolean): number {
  return index * 4 + (clientInitiated ? 0 : 1) + (bidi ? 0 : 2);
}
