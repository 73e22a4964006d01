/**
 * The error raised when a peer's certificate chain is rejected, with the TLS
 * alert to send for each kind of failure (RFC 8446 section 6.2).
 */
import type { X509Certificate } from "node:crypto";
import { AlertDescription, TlsAlertError } from "../tls/alerts.js";

/** Why a certificate chain was rejected. */
export type CertificateFailure =
  | "expired"
  | "not_yet_valid"
  | "hostname_mismatch"
  | "unknown_issuer"
  | "bad_signature"
  | "self_signed"
  | "not_ca"
  | "malformed"
  | "empty_chain"
  /** The leaf's keyUsage / extKeyUsage does not allow this TLS use (RFC 5280 sections 4.2.1.3 and 4.2.1.12). */
  | "bad_usage"
  /** A critical extension or a signature algorithm this verifier does not handle (RFC 5280 section 4.2). */
  | "unsupported";

/**
 * The alert for each failure (RFC 8446 section 6.2 defines their meaning).
 * Where RFC 8446 leaves a choice, the pick below is also what OpenSSL, and so
 * node:tls, sends, so peers see the same alerts from tsquic as from Node.
 */
const ALERTS: Record<CertificateFailure, number> = {
  expired: AlertDescription.certificate_expired,
  // certificate_expired reads "has expired or is not currently valid", but a
  // certificate from the future is not expired: it usually means a wrong clock
  // on one side. bad_certificate keeps the two distinguishable on the wire.
  not_yet_valid: AlertDescription.bad_certificate,
  // The certificate is well formed and trusted but names another host: a
  // definite defect of this certificate for this connection, so
  // bad_certificate rather than the "unspecified issue" certificate_unknown.
  hostname_mismatch: AlertDescription.bad_certificate,
  unknown_issuer: AlertDescription.unknown_ca,
  self_signed: AlertDescription.unknown_ca,
  // A certificate signature that does not verify is bad_certificate by RFC 8446's
  // own wording ("contained signatures that did not verify correctly");
  // decrypt_error is for handshake signatures such as CertificateVerify.
  bad_signature: AlertDescription.bad_certificate,
  // The issuer was found but may not issue certificates: the chain is bad, the CA is not unknown.
  not_ca: AlertDescription.bad_certificate,
  malformed: AlertDescription.bad_certificate,
  // Overridden by usage in CertificateError: see emptyChainAlert.
  empty_chain: AlertDescription.decode_error,
  bad_usage: AlertDescription.unsupported_certificate,
  unsupported: AlertDescription.unsupported_certificate,
};

/**
 * The alert for an empty Certificate message. A client that gets none from
 * the server MUST abort with decode_error (RFC 8446 section 4.4.2.4); a
 * server that required a client certificate and got none uses
 * certificate_required (same section).
 */
export function emptyChainAlert(usage: "server" | "client"): number {
  return usage === "client" ? AlertDescription.certificate_required : AlertDescription.decode_error;
}

/** A rejected certificate chain. `code` is `ERR_TLS_CERT_<REASON>`, e.g. `ERR_TLS_CERT_EXPIRED`. */
export class CertificateError extends TlsAlertError {
  /** The failure, for programs to branch on. */
  readonly reason: CertificateFailure;
  /** The certificate the failure is about, when there is one. */
  readonly certificate?: X509Certificate;

  constructor(
    reason: CertificateFailure,
    message: string,
    options?: { certificate?: X509Certificate; alert?: number; cause?: unknown },
  ) {
    super(options?.alert ?? ALERTS[reason], message, { code: `ERR_TLS_CERT_${reason.toUpperCase()}`, cause: options?.cause });
    this.reason = reason;
    if (options?.certificate) this.certificate = options.certificate;
  }
}

/** A certificate's subject for messages: `CN=localhost, O=Example` rather than the multi-line form. */
export function describeSubject(cert: X509Certificate): string {
  return cert.subject.split("\n").join(", ") || "(empty subject)";
}
