/**
 * QUIC transport parameters (RFC 9000 sections 7.3, 7.4 and 18) with the
 * extensions tsquic understands: max_datagram_frame_size (RFC 9221 section
 * 3), grease_quic_bit (RFC 9287 section 3), version_information (RFC 9368
 * section 3) and min_ack_delay (draft-ietf-quic-ack-frequency section 3).
 *
 * The decoder and the encoder apply the same validation, so we can neither
 * accept nor send a parameter set the RFCs forbid; every violation is a
 * {@link QuicTransportError} of type TRANSPORT_PARAMETER_ERROR.
 */
import { randomBytes } from "node:crypto";
import { ByteReader, ByteWriter, equalBytes } from "../util/bytes.js";
import { DecodeError } from "../util/errors.js";
import { QuicTransportError, TransportErrorCode } from "./errors.js";
import { varintBigAt } from "./frames/wire.js";
import { readVarint, VARINT_MAX, writeVarint } from "./varint.js";

/** Transport parameter identifiers (RFC 9000 section 18.2 and the extension RFCs). */
export const TransportParameterId = {
  ORIGINAL_DESTINATION_CONNECTION_ID: 0x00,
  MAX_IDLE_TIMEOUT: 0x01,
  STATELESS_RESET_TOKEN: 0x02,
  MAX_UDP_PAYLOAD_SIZE: 0x03,
  INITIAL_MAX_DATA: 0x04,
  INITIAL_MAX_STREAM_DATA_BIDI_LOCAL: 0x05,
  INITIAL_MAX_STREAM_DATA_BIDI_REMOTE: 0x06,
  INITIAL_MAX_STREAM_DATA_UNI: 0x07,
  INITIAL_MAX_STREAMS_BIDI: 0x08,
  INITIAL_MAX_STREAMS_UNI: 0x09,
  ACK_DELAY_EXPONENT: 0x0a,
  MAX_ACK_DELAY: 0x0b,
  DISABLE_ACTIVE_MIGRATION: 0x0c,
  PREFERRED_ADDRESS: 0x0d,
  ACTIVE_CONNECTION_ID_LIMIT: 0x0e,
  INITIAL_SOURCE_CONNECTION_ID: 0x0f,
  RETRY_SOURCE_CONNECTION_ID: 0x10,
  /** RFC 9368 section 3. */
  VERSION_INFORMATION: 0x11,
  /** RFC 9221 section 3. */
  MAX_DATAGRAM_FRAME_SIZE: 0x20,
  /** RFC 9287 section 3. */
  GREASE_QUIC_BIT: 0x2ab2,
  /** draft-ietf-quic-ack-frequency section 3. */
  MIN_ACK_DELAY: 0xff04de1b,
} as const;

/** Which side of the connection sent a parameter set. */
export type EndpointRole = "client" | "server";

/** Default max_udp_payload_size: the largest UDP payload, 65527 (RFC 9000 section 18.2). */
export const DEFAULT_MAX_UDP_PAYLOAD_SIZE = 65527;
/** Smallest valid max_udp_payload_size (RFC 9000 section 18.2: values below 1200 are invalid). */
export const MIN_MAX_UDP_PAYLOAD_SIZE = 1200;
/** Default ack_delay_exponent (RFC 9000 section 18.2). */
export const DEFAULT_ACK_DELAY_EXPONENT = 3;
/** Largest valid ack_delay_exponent (RFC 9000 section 18.2: values above 20 are invalid). */
export const MAX_ACK_DELAY_EXPONENT = 20;
/** Default max_ack_delay in milliseconds (RFC 9000 section 18.2). */
export const DEFAULT_MAX_ACK_DELAY = 25;
/** max_ack_delay must be below 2^14 ms (RFC 9000 section 18.2). */
export const MAX_ACK_DELAY_LIMIT = 2 ** 14;
/** Default and smallest valid active_connection_id_limit (RFC 9000 section 18.2). */
export const DEFAULT_ACTIVE_CONNECTION_ID_LIMIT = 2;
/** Largest initial_max_streams_bidi / _uni, 2^60 (RFC 9000 section 4.6: a larger value is TRANSPORT_PARAMETER_ERROR). */
export const MAX_STREAMS_PARAMETER_LIMIT = 2 ** 60;
/** Longest connection ID in QUIC v1 (RFC 9000 section 17.2). */
const MAX_CID_LENGTH = 20;
/** Stateless reset token length (RFC 9000 section 18.2). */
const RESET_TOKEN_LENGTH = 16;

/** The server's preferred_address (RFC 9000 section 18.2, Figure 22). An all-zero address and port mean "no address of this family". */
export interface PreferredAddress {
  /** 4 bytes, network order. */
  ipv4Address: Uint8Array;
  ipv4Port: number;
  /** 16 bytes, network order. */
  ipv6Address: Uint8Array;
  ipv6Port: number;
  /** 1 to 20 bytes (a zero-length ID is a TRANSPORT_PARAMETER_ERROR). */
  connectionId: Uint8Array;
  /** 16 bytes. */
  statelessResetToken: Uint8Array;
}

/** Version Information (RFC 9368 section 3). */
export interface VersionInformation {
  chosenVersion: number;
  /** Client: every version its first flight is compatible with, Chosen Version included; server: its Fully Deployed Versions. */
  availableVersions: number[];
}

/**
 * One endpoint's transport parameters, with absent integer parameters set
 * to their defaults (RFC 9000 section 18.2). Optional fields are undefined
 * when the parameter is absent.
 */
export interface TransportParameters {
  /** Server only (0x00): DCID of the client's first Initial. */
  originalDestinationConnectionId?: Uint8Array;
  /** Milliseconds; 0 disables the idle timeout (0x01). */
  maxIdleTimeout: number;
  /** Server only (0x02): 16 bytes. */
  statelessResetToken?: Uint8Array;
  /** At least 1200; default 65527 (0x03). */
  maxUdpPayloadSize: number;
  /** 0x04. */
  initialMaxData: number;
  /** 0x05. */
  initialMaxStreamDataBidiLocal: number;
  /** 0x06. */
  initialMaxStreamDataBidiRemote: number;
  /** 0x07. */
  initialMaxStreamDataUni: number;
  /** At most 2^60 (0x08). */
  initialMaxStreamsBidi: number;
  /** At most 2^60 (0x09). */
  initialMaxStreamsUni: number;
  /** At most 20; default 3 (0x0a). */
  ackDelayExponent: number;
  /** Milliseconds, below 2^14; default 25 (0x0b). */
  maxAckDelay: number;
  /** 0x0c, zero-length value. */
  disableActiveMigration: boolean;
  /** Server only (0x0d). */
  preferredAddress?: PreferredAddress;
  /** At least 2; default 2 (0x0e). */
  activeConnectionIdLimit: number;
  /** SCID of the sender's first Initial (0x0f); required from both sides (RFC 9000 section 7.3). */
  initialSourceConnectionId?: Uint8Array;
  /** Server only (0x10): SCID of the Retry packet it sent. */
  retrySourceConnectionId?: Uint8Array;
  /** RFC 9221 (0x20): largest DATAGRAM frame accepted; undefined when absent (no DATAGRAM support). */
  maxDatagramFrameSize?: number;
  /** RFC 9287 (0x2ab2): the sender accepts packets with the QUIC Bit cleared. */
  greaseQuicBit: boolean;
  /** RFC 9368 (0x11). */
  versionInformation?: VersionInformation;
  /** Ack-frequency draft (0xff04de1b): microseconds; the sender accepts ACK_FREQUENCY and IMMEDIATE_ACK. */
  minAckDelay?: number;
}

/** A fresh parameter set holding the RFC 9000 section 18.2 defaults, as if the peer sent nothing. */
export function defaultTransportParameters(): TransportParameters {
  return {
    maxIdleTimeout: 0,
    maxUdpPayloadSize: DEFAULT_MAX_UDP_PAYLOAD_SIZE,
    initialMaxData: 0,
    initialMaxStreamDataBidiLocal: 0,
    initialMaxStreamDataBidiRemote: 0,
    initialMaxStreamDataUni: 0,
    initialMaxStreamsBidi: 0,
    initialMaxStreamsUni: 0,
    ackDelayExponent: DEFAULT_ACK_DELAY_EXPONENT,
    maxAckDelay: DEFAULT_MAX_ACK_DELAY,
    disableActiveMigration: false,
    activeConnectionIdLimit: DEFAULT_ACTIVE_CONNECTION_ID_LIMIT,
    greaseQuicBit: false,
  };
}

/** True for identifiers of the form 31 * N + 27, reserved for greasing (RFC 9000 section 18.1). */
export function isReservedTransportParameterId(id: number): boolean {
  return id >= 27 && (id - 27) % 31 === 0;
}

function tpError(reason: string): QuicTransportError {
  return new QuicTransportError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, reason);
}

// ---------------------------------------------------------------------------
// Validation, shared by both directions.

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw tpError(`${name} ${v} outside ${min}..${max}`);
}

function checkCid(name: string, cid: Uint8Array | undefined): void {
  if (cid !== undefined && cid.length > MAX_CID_LENGTH) throw tpError(`${name} of ${cid.length} bytes exceeds 20`);
}

/**
 * Checks `p` as sent by `sender` against every rule of RFC 9000 section
 * 18.2 and the extension RFCs; throws TRANSPORT_PARAMETER_ERROR.
 */
export function validateTransportParameters(p: TransportParameters, sender: EndpointRole): void {
  // RFC 9000 section 18.2: a client MUST NOT send server-only parameters; a server MUST treat them as TRANSPORT_PARAMETER_ERROR.
  if (sender === "client") {
    if (p.originalDestinationConnectionId !== undefined) throw tpError("client sent original_destination_connection_id");
    if (p.preferredAddress !== undefined) throw tpError("client sent preferred_address");
    if (p.retrySourceConnectionId !== undefined) throw tpError("client sent retry_source_connection_id");
    if (p.statelessResetToken !== undefined) throw tpError("client sent stateless_reset_token");
  }
  checkCid("original_destination_connection_id", p.originalDestinationConnectionId);
  checkCid("initial_source_connection_id", p.initialSourceConnectionId);
  checkCid("retry_source_connection_id", p.retrySourceConnectionId);
  if (p.statelessResetToken !== undefined && p.statelessResetToken.length !== RESET_TOKEN_LENGTH) {
    throw tpError(`stateless_reset_token of ${p.statelessResetToken.length} bytes, not 16`);
  }
  checkInt("max_idle_timeout", p.maxIdleTimeout, 0, VARINT_MAX);
  // RFC 9000 section 18.2: max_udp_payload_size values below 1200 are invalid.
  checkInt("max_udp_payload_size", p.maxUdpPayloadSize, MIN_MAX_UDP_PAYLOAD_SIZE, VARINT_MAX);
  checkInt("initial_max_data", p.initialMaxData, 0, VARINT_MAX);
  checkInt("initial_max_stream_data_bidi_local", p.initialMaxStreamDataBidiLocal, 0, VARINT_MAX);
  checkInt("initial_max_stream_data_bidi_remote", p.initialMaxStreamDataBidiRemote, 0, VARINT_MAX);
  checkInt("initial_max_stream_data_uni", p.initialMaxStreamDataUni, 0, VARINT_MAX);
  // RFC 9000 section 4.6: a stream limit above 2^60 is a TRANSPORT_PARAMETER_ERROR.
  checkInt("initial_max_streams_bidi", p.initialMaxStreamsBidi, 0, MAX_STREAMS_PARAMETER_LIMIT);
  checkInt("initial_max_streams_uni", p.initialMaxStreamsUni, 0, MAX_STREAMS_PARAMETER_LIMIT);
  // RFC 9000 section 18.2: ack_delay_exponent above 20 and max_ack_delay of 2^14 or more are invalid.
  checkInt("ack_delay_exponent", p.ackDelayExponent, 0, MAX_ACK_DELAY_EXPONENT);
  checkInt("max_ack_delay", p.maxAckDelay, 0, MAX_ACK_DELAY_LIMIT - 1);
  // RFC 9000 section 18.2: active_connection_id_limit MUST be at least 2.
  checkInt("active_connection_id_limit", p.activeConnectionIdLimit, DEFAULT_ACTIVE_CONNECTION_ID_LIMIT, VARINT_MAX);
  const pa = p.preferredAddress;
  if (pa !== undefined) {
    if (pa.ipv4Address.length !== 4 || pa.ipv6Address.length !== 16) throw tpError("preferred_address has a malformed address");
    checkInt("preferred_address IPv4 port", pa.ipv4Port, 0, 0xffff);
    checkInt("preferred_address IPv6 port", pa.ipv6Port, 0, 0xffff);
    // RFC 9000 section 18.2: a zero-length connection ID in preferred_address is a TRANSPORT_PARAMETER_ERROR.
    if (pa.connectionId.length === 0) throw tpError("preferred_address carries a zero-length connection ID");
    checkCid("preferred_address connection ID", pa.connectionId);
    if (pa.statelessResetToken.length !== RESET_TOKEN_LENGTH) throw tpError("preferred_address reset token is not 16 bytes");
  }
  if (p.maxDatagramFrameSize !== undefined) checkInt("max_datagram_frame_size", p.maxDatagramFrameSize, 0, VARINT_MAX);
  const vi = p.versionInformation;
  if (vi !== undefined) {
    // RFC 9368 section 4: a zero Chosen or Available Version is a parsing failure (TRANSPORT_PARAMETER_ERROR in v1).
    checkInt("version_information Chosen Version", vi.chosenVersion, 1, 0xffffffff);
    for (const v of vi.availableVersions) checkInt("version_information Available Version", v, 1, 0xffffffff);
    // RFC 9368 sections 3-4: a client's Available Versions MUST include its Chosen Version.
    if (sender === "client" && !vi.availableVersions.includes(vi.chosenVersion)) {
      throw tpError("client version_information lacks its Chosen Version in Available Versions");
    }
  }
  if (p.minAckDelay !== undefined) {
    checkInt("min_ack_delay", p.minAckDelay, 0, VARINT_MAX);
    // Ack-frequency draft section 3: min_ack_delay (us) greater than max_ack_delay (ms) is a TRANSPORT_PARAMETER_ERROR.
    if (p.minAckDelay > p.maxAckDelay * 1000) {
      throw tpError(`min_ack_delay ${p.minAckDelay}us exceeds max_ack_delay ${p.maxAckDelay}ms`);
    }
  }
}

// ---------------------------------------------------------------------------
// Encoding (RFC 9000 section 18, Figure 21: ID (i), Length (i), Value).

/** Options for {@link encodeTransportParameters}. */
export interface EncodeTransportParametersOptions {
  /**
   * Adds a reserved parameter (RFC 9000 section 18.1) so that peers keep
   * ignoring unknown ones: `true` picks a random 31 * N + 27 identifier and a
   * random value of 0-16 bytes; an object fixes both (for tests).
   */
  grease?: boolean | { id: number; value: Uint8Array };
}

/**
 * Writes a varint. VARINT_MAX (2^62-1) is not a double and rounds to 2^62,
 * so 2^62 stands for 2^62-1 and is written as the largest varint.
 */
function putVar(w: ByteWriter, v: number): void {
  if (v >= 2 ** 62) w.u32(0xffffffff).u32(0xffffffff);
  else writeVarint(w, v);
}

function putInt(w: ByteWriter, id: number, v: number): void {
  putVar(w, id);
  putVar(w, varintSize(v));
  putVar(w, v);
}

function putBytes(w: ByteWriter, id: number, v: Uint8Array): void {
  putVar(w, id);
  putVar(w, v.length);
  w.bytes(v);
}

function varintSize(v: number): number {
  return v < 0x40 ? 1 : v < 0x4000 ? 2 : v < 0x40000000 ? 4 : 8;
}

/**
 * Encodes the extension_data of the quic_transport_parameters TLS extension
 * (RFC 9000 section 18, RFC 9001 section 8.2) for `sender`. Validates first
 * (TRANSPORT_PARAMETER_ERROR): we never send what we would reject. Integer
 * parameters equal to their default and false flags are left out.
 */
export function encodeTransportParameters(
  p: TransportParameters,
  sender: EndpointRole,
  options: EncodeTransportParametersOptions = {},
): Uint8Array {
  validateTransportParameters(p, sender);
  const id = TransportParameterId;
  const w = new ByteWriter(128);
  if (p.originalDestinationConnectionId !== undefined) putBytes(w, id.ORIGINAL_DESTINATION_CONNECTION_ID, p.originalDestinationConnectionId);
  if (p.maxIdleTimeout !== 0) putInt(w, id.MAX_IDLE_TIMEOUT, p.maxIdleTimeout);
  if (p.statelessResetToken !== undefined) putBytes(w, id.STATELESS_RESET_TOKEN, p.statelessResetToken);
  if (p.maxUdpPayloadSize !== DEFAULT_MAX_UDP_PAYLOAD_SIZE) putInt(w, id.MAX_UDP_PAYLOAD_SIZE, p.maxUdpPayloadSize);
  if (p.initialMaxData !== 0) putInt(w, id.INITIAL_MAX_DATA, p.initialMaxData);
  if (p.initialMaxStreamDataBidiLocal !== 0) putInt(w, id.INITIAL_MAX_STREAM_DATA_BIDI_LOCAL, p.initialMaxStreamDataBidiLocal);
  if (p.initialMaxStreamDataBidiRemote !== 0) putInt(w, id.INITIAL_MAX_STREAM_DATA_BIDI_REMOTE, p.initialMaxStreamDataBidiRemote);
  if (p.initialMaxStreamDataUni !== 0) putInt(w, id.INITIAL_MAX_STREAM_DATA_UNI, p.initialMaxStreamDataUni);
  if (p.initialMaxStreamsBidi !== 0) putInt(w, id.INITIAL_MAX_STREAMS_BIDI, p.initialMaxStreamsBidi);
  if (p.initialMaxStreamsUni !== 0) putInt(w, id.INITIAL_MAX_STREAMS_UNI, p.initialMaxStreamsUni);
  if (p.ackDelayExponent !== DEFAULT_ACK_DELAY_EXPONENT) putInt(w, id.ACK_DELAY_EXPONENT, p.ackDelayExponent);
  if (p.maxAckDelay !== DEFAULT_MAX_ACK_DELAY) putInt(w, id.MAX_ACK_DELAY, p.maxAckDelay);
  if (p.disableActiveMigration) putBytes(w, id.DISABLE_ACTIVE_MIGRATION, new Uint8Array(0));
  const pa = p.preferredAddress;
  if (pa !== undefined) {
    writeVarint(w, id.PREFERRED_ADDRESS);
    writeVarint(w, 4 + 2 + 16 + 2 + 1 + pa.connectionId.length + RESET_TOKEN_LENGTH);
    w.bytes(pa.ipv4Address).u16(pa.ipv4Port).bytes(pa.ipv6Address).u16(pa.ipv6Port);
    w.vec(1, pa.connectionId).bytes(pa.statelessResetToken);
  }
  if (p.activeConnectionIdLimit !== DEFAULT_ACTIVE_CONNECTION_ID_LIMIT) putInt(w, id.ACTIVE_CONNECTION_ID_LIMIT, p.activeConnectionIdLimit);
  if (p.initialSourceConnectionId !== undefined) putBytes(w, id.INITIAL_SOURCE_CONNECTION_ID, p.initialSourceConnectionId);
  if (p.retrySourceConnectionId !== undefined) putBytes(w, id.RETRY_SOURCE_CONNECTION_ID, p.retrySourceConnectionId);
  const vi = p.versionInformation;
  if (vi !== undefined) {
    writeVarint(w, id.VERSION_INFORMATION);
    writeVarint(w, 4 + 4 * vi.availableVersions.length);
    w.u32(vi.chosenVersion);
    for (const v of vi.availableVersions) w.u32(v);
  }
  if (p.maxDatagramFrameSize !== undefined) putInt(w, id.MAX_DATAGRAM_FRAME_SIZE, p.maxDatagramFrameSize);
  if (p.greaseQuicBit) putBytes(w, id.GREASE_QUIC_BIT, new Uint8Array(0));
  if (p.minAckDelay !== undefined) putInt(w, id.MIN_ACK_DELAY, p.minAckDelay);
  const g = options.grease;
  if (g) {
    let gid: number;
    let value: Uint8Array;
    if (g === true) {
      const rnd = randomBytes(3);
      // N below 2^16 keeps the identifier within a 4-byte varint.
      gid = 31 * ((rnd[0]! << 8) | rnd[1]!) + 27;
      value = new Uint8Array(randomBytes(rnd[2]! % 17));
    } else {
      if (!isReservedTransportParameterId(g.id)) throw new RangeError(`${g.id} is not a reserved transport parameter ID (31 * N + 27)`);
      gid = g.id;
      value = g.value;
    }
    putBytes(w, gid, value);
  }
  return w.finish();
}

// ---------------------------------------------------------------------------
// Decoding.

/** Reads a parameter value that must hold exactly one varint. */
function intValue(name: string, v: Uint8Array): number {
  const r = new ByteReader(v);
  const n = readVarint(r);
  if (!r.done) throw tpError(`${name} value is ${v.length} bytes, longer than its varint`);
  return n;
}

/**
 * Reads initial_max_streams_bidi / _uni. Doubles round above 2^53, so a
 * value that reads as 2^60 or more is checked exactly against the 2^60
 * limit (RFC 9000 section 4.6: above it is a TRANSPORT_PARAMETER_ERROR).
 */
function streamsValue(name: string, v: Uint8Array): number {
  const n = intValue(name, v);
  if (n >= MAX_STREAMS_PARAMETER_LIMIT && varintBigAt(v, 0) > 1n << 60n) throw tpError(`${name} exceeds 2^60`);
  return n;
}

function emptyValue(name: string, v: Uint8Array): void {
  if (v.length !== 0) throw tpError(`${name} must have an empty value, got ${v.length} bytes`);
}

function cidValue(name: string, v: Uint8Array): Uint8Array {
  if (v.length > MAX_CID_LENGTH) throw tpError(`${name} of ${v.length} bytes exceeds 20`);
  return v.slice();
}

function parsePreferredAddress(v: Uint8Array): PreferredAddress {
  const r = new ByteReader(v);
  const ipv4Address = r.bytesCopy(4);
  const ipv4Port = r.u16();
  const ipv6Address = r.bytesCopy(16);
  const ipv6Port = r.u16();
  const cidLength = r.u8();
  // RFC 9000 section 18.2: a zero-length connection ID here is a TRANSPORT_PARAMETER_ERROR.
  if (cidLength === 0) throw tpError("preferred_address carries a zero-length connection ID");
  if (cidLength > MAX_CID_LENGTH) throw tpError(`preferred_address connection ID of ${cidLength} bytes exceeds 20`);
  const connectionId = r.bytesCopy(cidLength);
  const statelessResetToken = r.bytesCopy(RESET_TOKEN_LENGTH);
  if (!r.done) throw tpError(`preferred_address has ${r.remaining} trailing bytes`);
  return { ipv4Address, ipv4Port, ipv6Address, ipv6Port, connectionId, statelessResetToken };
}

function parseVersionInformation(v: Uint8Array): VersionInformation {
  // RFC 9368 section 4: too short or not a multiple of four is a parsing failure.
  if (v.length < 4 || v.length % 4 !== 0) throw tpError(`version_information of ${v.length} bytes is not a non-empty multiple of 4`);
  const r = new ByteReader(v);
  const chosenVersion = r.u32();
  const availableVersions: number[] = [];
  while (!r.done) availableVersions.push(r.u32());
  return { chosenVersion, availableVersions };
}

/**
 * Decodes and validates the transport parameters `sender` sent (RFC 9000
 * section 18). Unknown and reserved (31 * N + 27) parameters are ignored
 * (sections 7.4.2, 18.1); a repeated parameter, a malformed value, a value
 * out of range or a server-only parameter from a client is a
 * TRANSPORT_PARAMETER_ERROR. Byte values in the result are copies.
 */
export function decodeTransportParameters(bytes: Uint8Array, sender: EndpointRole): TransportParameters {
  const p = defaultTransportParameters();
  const seen = new Set<number>();
  const r = new ByteReader(bytes);
  const id = TransportParameterId;
  try {
    while (!r.done) {
      const pid = readVarint(r);
      const value = r.bytesView(readVarint(r));
      // RFC 9000 section 7.4: duplicate transport parameters SHOULD be a TRANSPORT_PARAMETER_ERROR.
      if (seen.has(pid)) throw tpError(`transport parameter 0x${pid.toString(16)} appears twice`);
      seen.add(pid);
      switch (pid) {
        case id.ORIGINAL_DESTINATION_CONNECTION_ID:
          p.originalDestinationConnectionId = cidValue("original_destination_connection_id", value);
          break;
        case id.MAX_IDLE_TIMEOUT:
          p.maxIdleTimeout = intValue("max_idle_timeout", value);
          break;
        case id.STATELESS_RESET_TOKEN:
          if (value.length !== RESET_TOKEN_LENGTH) throw tpError(`stateless_reset_token of ${value.length} bytes, not 16`);
          p.statelessResetToken = value.slice();
          break;
        case id.MAX_UDP_PAYLOAD_SIZE:
          p.maxUdpPayloadSize = intValue("max_udp_payload_size", value);
          break;
        case id.INITIAL_MAX_DATA:
          p.initialMaxData = intValue("initial_max_data", value);
          break;
        case id.INITIAL_MAX_STREAM_DATA_BIDI_LOCAL:
          p.initialMaxStreamDataBidiLocal = intValue("initial_max_stream_data_bidi_local", value);
          break;
        case id.INITIAL_MAX_STREAM_DATA_BIDI_REMOTE:
          p.initialMaxStreamDataBidiRemote = intValue("initial_max_stream_data_bidi_remote", value);
          break;
        case id.INITIAL_MAX_STREAM_DATA_UNI:
          p.initialMaxStreamDataUni = intValue("initial_max_stream_data_uni", value);
          break;
        case id.INITIAL_MAX_STREAMS_BIDI:
          p.initialMaxStreamsBidi = streamsValue("initial_max_streams_bidi", value);
          break;
        case id.INITIAL_MAX_STREAMS_UNI:
          p.initialMaxStreamsUni = streamsValue("initial_max_streams_uni", value);
          break;
        case id.ACK_DELAY_EXPONENT:
          p.ackDelayExponent = intValue("ack_delay_exponent", value);
          break;
        case id.MAX_ACK_DELAY:
          p.maxAckDelay = intValue("max_ack_delay", value);
          break;
        case id.DISABLE_ACTIVE_MIGRATION:
          emptyValue("disable_active_migration", value);
          p.disableActiveMigration = true;
          break;
        case id.PREFERRED_ADDRESS:
          p.preferredAddress = parsePreferredAddress(value);
          break;
        case id.ACTIVE_CONNECTION_ID_LIMIT:
          p.activeConnectionIdLimit = intValue("active_connection_id_limit", value);
          break;
        case id.INITIAL_SOURCE_CONNECTION_ID:
          p.initialSourceConnectionId = cidValue("initial_source_connection_id", value);
          break;
        case id.RETRY_SOURCE_CONNECTION_ID:
          p.retrySourceConnectionId = cidValue("retry_source_connection_id", value);
          break;
        case id.VERSION_INFORMATION:
          p.versionInformation = parseVersionInformation(value);
          break;
        case id.MAX_DATAGRAM_FRAME_SIZE:
          p.maxDatagramFrameSize = intValue("max_datagram_frame_size", value);
          break;
        case id.GREASE_QUIC_BIT:
          // RFC 9287 section 3: a non-empty value is a TRANSPORT_PARAMETER_ERROR.
          emptyValue("grease_quic_bit", value);
          p.greaseQuicBit = true;
          break;
        case id.MIN_ACK_DELAY:
          p.minAckDelay = intValue("min_ack_delay", value);
          break;
        default:
          // Unknown and reserved parameters are ignored (RFC 9000 sections 7.4.2 and 18.1).
          break;
      }
    }
  } catch (e) {
    if (e instanceof DecodeError) throw tpError(`malformed transport parameters: ${e.message}`);
    throw e;
  }
  validateTransportParameters(p, sender);
  return p;
}

// ---------------------------------------------------------------------------
// Connection ID authentication (RFC 9000 section 7.3).

/** What an endpoint saw on the wire during the handshake, to check the peer's connection-ID parameters against. */
export interface ConnectionIdEvidence {
  /** Our role; the parameters checked are the peer's. */
  role: EndpointRole;
  /** Source Connection ID field of the first Initial packet received from the peer. */
  peerInitialSourceConnectionId: Uint8Array;
  /** Client only: Destination Connection ID of the first Initial packet the client sent. */
  originalDestinationConnectionId?: Uint8Array;
  /** Client only: Source Connection ID of the Retry packet the client acted on, if any. */
  retrySourceConnectionId?: Uint8Array;
}

/**
 * Authenticates the handshake connection IDs (RFC 9000 section 7.3): the
 * peer's initial_source_connection_id, and for a client the server's
 * original_destination_connection_id and retry_source_connection_id, must
 * match what was seen in the Initial and Retry packets. Returns null when
 * they do, otherwise the error to close with:
 *
 * - a missing initial_source_connection_id, or a server's missing
 *   original_destination_connection_id: TRANSPORT_PARAMETER_ERROR (a MUST);
 * - retry_source_connection_id missing after a Retry, or present without
 *   one: TRANSPORT_PARAMETER_ERROR (the RFC allows it or PROTOCOL_VIOLATION;
 *   we treat parameter presence as a parameter error);
 * - a value that differs from the packets: PROTOCOL_VIOLATION (the RFC
 *   allows either; a mismatch contradicts the packets, not the encoding).
 */
export function checkConnectionIdParameters(peer: TransportParameters, seen: ConnectionIdEvidence): QuicTransportError | null {
  const PV = TransportErrorCode.PROTOCOL_VIOLATION;
  const iscid = peer.initialSourceConnectionId;
  if (iscid === undefined) return tpError("peer omitted initial_source_connection_id (RFC 9000 section 7.3)");
  if (!equalBytes(iscid, seen.peerInitialSourceConnectionId)) {
    return new QuicTransportError(PV, "initial_source_connection_id does not match the peer's Initial packets (RFC 9000 section 7.3)");
  }
  if (seen.role === "server") return null;
  if (seen.originalDestinationConnectionId === undefined) {
    throw new TypeError("a client must supply the Destination Connection ID of its first Initial");
  }
  const odcid = peer.originalDestinationConnectionId;
  if (odcid === undefined) return tpError("server omitted original_destination_connection_id (RFC 9000 section 7.3)");
  if (!equalBytes(odcid, seen.originalDestinationConnectionId)) {
    return new QuicTransportError(PV, "original_destination_connection_id does not match our first Initial (RFC 9000 section 7.3)");
  }
  const rscid = peer.retrySourceConnectionId;
  if (seen.retrySourceConnectionId !== undefined) {
    if (rscid === undefined) return tpError("server omitted retry_source_connection_id after a Retry (RFC 9000 section 7.3)");
    if (!equalBytes(rscid, seen.retrySourceConnectionId)) {
      return new QuicTransportError(PV, "retry_source_connection_id does not match the Retry packet (RFC 9000 section 7.3)");
    }
  } else if (rscid !== undefined) {
    return tpError("server sent retry_source_connection_id without a Retry (RFC 9000 section 7.3)");
  }
  return null;
}

// ---------------------------------------------------------------------------
// Helpers for users of preferred_address.

/**
 * The socket addresses a preferred_address offers, as IP literals; a family
 * sent as all-zero address and port (RFC 9000 section 18.2) is left out.
 */
export function preferredAddressEndpoints(pa: PreferredAddress): { ipv4?: { address: string; port: number }; ipv6?: { address: string; port: number } } {
  const out: { ipv4?: { address: string; port: number }; ipv6?: { address: string; port: number } } = {};
  if (pa.ipv4Port !== 0 || pa.ipv4Address.some((b) => b !== 0)) {
    out.ipv4 = { address: Array.from(pa.ipv4Address).join("."), port: pa.ipv4Port };
  }
  if (pa.ipv6Port !== 0 || pa.ipv6Address.some((b) => b !== 0)) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((pa.ipv6Address[i]! << 8) | pa.ipv6Address[i + 1]!).toString(16));
    out.ipv6 = { address: groups.join(":"), port: pa.ipv6Port };
  }
  return out;
}
