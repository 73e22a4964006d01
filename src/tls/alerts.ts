import { TsquicError } from "../util/errors.js";

/** TLS alert descriptions used by TLS 1.3 (RFC 8446 section 6, and RFC 7301 section 3.2 for no_application_protocol). */
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120,
} as const;

/** Name of a TLS alert description. */
export type AlertName = keyof typeof AlertDescription;

/** The alert name for a code, or `alert(N)` when unknown. */
export function alertName(code: number): string {
  for (const [name, value] of Object.entries(AlertDescription)) if (value === code) return name;
  return `alert(${code})`;
}

/**
 * A TLS handshake failure. `alert` is the alert sent to (or received from)
 * the peer; in QUIC it travels as CRYPTO_ERROR 0x100 + alert (RFC 9001
 * section 4.8). `fromPeer` tells whether the peer raised it.
 */
export class TlsAlertError extends TsquicError {
  /** The TLS alert description code (RFC 8446 section 6). */
  readonly alert: number;
  /** True when the alert was received from the peer rather than raised locally. */
  readonly fromPeer: boolean;

  constructor(alert: number, reason: string, options?: { fromPeer?: boolean; cause?: unknown; code?: string }) {
    super(options?.code ?? "ERR_TLS_ALERT", `TLS ${alertName(alert)} (${alert}): ${reason}`, { cause: options?.cause });
    this.alert = alert;
    this.fromPeer = options?.fromPeer ?? false;
  }

  /** The QUIC transport error code carrying this alert (RFC 9001 section 4.8). */
  get quicErrorCode(): number {
    return 0x100 + this.alert;
  }
}
