/**
 * Certificate chain verification for the TLS engine: build a path from the
 * peer's leaf through the certificates it sent to a trust anchor, then check
 * it (RFC 5280 section 6, simplified: no policy or revocation processing;
 * RFC 8446 section 4.4.2 for TLS 1.3's use of certificates).
 */
import { CertificateError, describeSubject, emptyChainAlert } from "./errors.js";
import { KeyUsage } from "./certificate.js";
import { matchesDnsName, referenceIdentity, sameAddress } from "./hostname.js";
import { ACCEPTED_SIGNATURE_ALGORITHMS, OID } from "./oids.js";
import { parseCertificate, type ParsedCertificate, type TrustStore } from "./trust-store.js";

export { CertificateError, type CertificateFailure } from "./errors.js";
export { loadTrustStore, type TrustStore, type ParsedCertificate } from "./trust-store.js";

/** Longest path accepted, leaf and anchor included. Real web paths have 3 or 4. */
export const MAX_PATH_LENGTH = 10;
/** Certificates of a peer's chain looked at; any beyond are ignored (RFC 8446 section 4.4.2 lets peers send extras). */
export const MAX_CHAIN_CERTIFICATES = 20;
/** Signature verifications one path search may spend, so crafted chains with many same-named certificates stay cheap. */
const MAX_SIGNATURE_CHECKS = 50;

/** Options for {@link verifyCertificateChain}. */
export interface VerifyOptions {
  /** The trust anchors. */
  trust: TrustStore;
  /** The name the client connected to (DNS name or IP literal); omitted means no name check (client certificates). */
  host?: string;
  /** The time to check validity at, ms since the epoch. */
  now: number;
  /** "server": verifying a server's certificate (serverAuth); "client": a client's (clientAuth). */
  usage: "server" | "client";
}

/**
 * Extensions this verifier understands, so they may be critical (RFC 5280
 * section 4.2: a certificate with an unrecognised critical extension MUST be
 * rejected). certificatePolicies is listed because, with no policy required
 * (the TLS case), RFC 5280 section 6.1 policy processing cannot fail unless
 * policyConstraints demands an explicit policy, and that one is not listed.
 */
const UNDERSTOOD_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  OID.certificatePolicies,
]);

/**
 * Verifies a peer's certificate chain (`chainDer[0]` is the leaf; the rest
 * may come in any order and may include unrelated certificates or the
 * anchor itself). Returns normally when the chain is trusted; otherwise
 * throws a {@link CertificateError} whose `reason` says why and whose
 * `alert` is the TLS alert to send.
 *
 * Checks, in order: a non-empty chain; every certificate parses; a path to
 * an anchor exists in which each signature verifies, each issuer is a CA
 * allowed to sign certificates within its path length, and each issuer is
 * within its validity period; then, on the leaf, critical extensions,
 * validity, the host name and the key usage for TLS.
 */
export function verifyCertificateChain(chainDer: Uint8Array[], options: VerifyOptions): void {
  const { trust, host, now, usage } = options;
  if (!Array.isArray(chainDer) || chainDer.length === 0) {
    const who = usage === "client" ? "the client sent no certificate" : "the server sent an empty certificate chain";
    throw new CertificateError("empty_chain", who, { alert: emptyChainAlert(usage) });
  }
  const certs = chainDer
    .slice(0, MAX_CHAIN_CERTIFICATES)
    .map((der, i) => parseCertificate(der, i === 0 ? "leaf certificate" : `certificate ${i + 1} of the chain`));
  const leaf = certs[0]!;
  new PathSearch(certs.slice(1), trust, now).find(leaf);
  checkCriticalExtensions(leaf);
  checkValidity(leaf, now);
  if (host !== undefined) checkHost(leaf, host);
  checkUsage(leaf, usage);
}

/**
 * How far a rejected candidate issuer got through the checks. When no path
 * is found, the failure of the candidate that got furthest is reported: it is
 * the most specific explanation (a real issuer that expired beats a stranger
 * with the same name whose signature does not match).
 */
const Stage = { noIssuer: 0, algorithm: 1, signature: 2, notCa: 3, extensions: 4, validity: 5 } as const;

/**
 * Depth-first search for a path from the leaf to an anchor. Anchors are tried
 * before the peer's intermediates, so a path ends at the first trusted
 * certificate (that is what lets an expired cross-signed root in the chain
 * be bypassed when its successor is trusted).
 */
class PathSearch {
  private failure: { stage: number; error: CertificateError } | undefined;
  private signatureChecks = 0;

  constructor(
    private readonly pool: readonly ParsedCertificate[],
    private readonly trust: TrustStore,
    private readonly now: number,
  ) {}

  /** The path from `leaf` to an anchor, or throws the best failure found. */
  find(leaf: ParsedCertificate): ParsedCertificate[] {
    // A leaf that is itself an anchor is trusted as is (a pinned self-signed certificate, for example).
    if (this.trust.contains(leaf)) return [leaf];
    const path = this.extend([leaf]);
    if (path) return path;
    if (isSelfSigned(leaf) && (this.failure?.stage ?? 0) <= Stage.signature) {
      throw new CertificateError(
        "self_signed",
        `the certificate for "${describeSubject(leaf.x509)}" is self-signed and not among the trusted certificates`,
        { certificate: leaf.x509 },
      );
    }
    throw this.failure?.error ?? unknownIssuer(leaf);
  }

  private record(stage: number, error: CertificateError): false {
    if (!this.failure || stage > this.failure.stage) this.failure = { stage, error };
    return false;
  }

  private extend(path: ParsedCertificate[]): ParsedCertificate[] | undefined {
    const child = path[path.length - 1]!;
    if (path.length >= MAX_PATH_LENGTH) {
      this.record(Stage.noIssuer, new CertificateError("unknown_issuer", `no trusted certificate within ${MAX_PATH_LENGTH} certificates of the leaf`, { certificate: path[0]!.x509 }));
      return undefined;
    }
    for (const anchor of this.trust.findBySubject(child.info.issuer)) {
      if (this.acceptIssuer(child, anchor, path, true)) return [...path, anchor];
    }
    let candidates = 0;
    for (const cert of this.pool) {
      if (!sameBytes(cert.info.subject, child.info.issuer) || path.some((p) => p.fingerprint === cert.fingerprint)) continue;
      candidates++;
      if (!this.acceptIssuer(child, cert, path, false)) continue;
      const found = this.extend([...path, cert]);
      if (found) return found;
    }
    if (candidates === 0) this.record(Stage.noIssuer, unknownIssuer(child));
    return undefined;
  }

  /** Whether `issuer` may be the next certificate up from `child`; records why not. */
  private acceptIssuer(child: ParsedCertificate, issuer: ParsedCertificate, path: ParsedCertificate[], isAnchor: boolean): boolean {
    const childName = `"${describeSubject(child.x509)}"`;
    const issuerName = `"${describeSubject(issuer.x509)}"`;
    if (this.signatureChecks >= MAX_SIGNATURE_CHECKS) {
      return this.record(Stage.noIssuer, new CertificateError("unknown_issuer", "gave up building a certificate path: too many candidate issuers", { certificate: child.x509 }));
    }
    if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(child.info.signatureAlgorithm)) {
      return this.record(Stage.algorithm, new CertificateError("unsupported", `${childName} is signed with an unsupported or insecure algorithm (${child.info.signatureAlgorithm})`, { certificate: child.x509 }));
    }
    this.signatureChecks++;
    if (!verifySignature(child, issuer)) {
      return this.record(Stage.signature, new CertificateError("bad_signature", `the signature on ${childName} does not verify with the key of its issuer ${issuerName}`, { certificate: child.x509 }));
    }
    // RFC 5280 section 6.1.4 (k): an issuer must be a CA. A v1 certificate has no basicConstraints;
    // one is accepted only as an anchor, trusted by configuration (the same section allows that).
    const v1Anchor = isAnchor && issuer.info.version === 0;
    if (!issuer.x509.ca && !v1Anchor) {
      return this.record(Stage.notCa, new CertificateError("not_ca", `${issuerName} issued ${childName} but is not a CA (basicConstraints cA is not set)`, { certificate: issuer.x509 }));
    }
    // RFC 5280 section 6.1.4 (n): if keyUsage is present, keyCertSign must be set.
    const ku = issuer.info.keyUsage;
    if (ku !== undefined && (ku & KeyUsage.keyCertSign) === 0) {
      return this.record(Stage.notCa, new CertificateError("not_ca", `${issuerName} issued ${childName} but its keyUsage does not allow certificate signing`, { certificate: issuer.x509 }));
    }
    // RFC 5280 section 6.1.4 (l), (m): pathLenConstraint counts the non-self-issued intermediates below the issuer.
    const limit = issuer.info.basicConstraints?.pathLength;
    const below = path.slice(1).filter((c) => !sameBytes(c.info.issuer, c.info.subject)).length;
    if (limit !== undefined && below > limit) {
      return this.record(Stage.notCa, new CertificateError("not_ca", `${issuerName} allows ${limit} intermediate CA(s) below it, the path has ${below}`, { certificate: issuer.x509 }));
    }
    const unsupported = unsupportedCriticalExtension(issuer);
    if (unsupported) return this.record(Stage.extensions, unsupported);
    const dates = validityError(issuer, this.now);
    if (dates) return this.record(Stage.validity, dates);
    return true;
  }
}

function unknownIssuer(cert: ParsedCertificate): CertificateError {
  const name = `"${describeSubject(cert.x509)}"`;
  const message = isSelfIssued(cert)
    ? `${name} is a self-signed root that is not among the trusted certificates`
    : `the issuer "${cert.x509.issuer.split("\n").join(", ")}" of ${name} is not trusted and was not sent by the peer`;
  return new CertificateError("unknown_issuer", message, { certificate: cert.x509 });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function isSelfIssued(cert: ParsedCertificate): boolean {
  return sameBytes(cert.info.issuer, cert.info.subject);
}

function isSelfSigned(cert: ParsedCertificate): boolean {
  return isSelfIssued(cert) && verifySignature(cert, cert);
}

/** node:crypto may throw for keys it cannot use (an unknown curve, say): that is a failed verification too. */
function verifySignature(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  try {
    return child.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

function unsupportedCriticalExtension(cert: ParsedCertificate): CertificateError | undefined {
  for (const [id, ext] of cert.info.extensions) {
    if (ext.critical && !UNDERSTOOD_EXTENSIONS.has(id)) {
      return new CertificateError("unsupported", `"${describeSubject(cert.x509)}" has a critical extension this verifier does not support (${id})`, { certificate: cert.x509 });
    }
  }
  return undefined;
}

function checkCriticalExtensions(cert: ParsedCertificate): void {
  const error = unsupportedCriticalExtension(cert);
  if (error) throw error;
}

/** RFC 5280 section 4.1.2.5: valid from notBefore through notAfter, both inclusive. */
function validityError(cert: ParsedCertificate, now: number): CertificateError | undefined {
  const name = `"${describeSubject(cert.x509)}"`;
  const at = new Date(now).toISOString();
  if (now < cert.info.notBefore) {
    return new CertificateError("not_yet_valid", `${name} is not valid until ${new Date(cert.info.notBefore).toISOString()} (now ${at})`, { certificate: cert.x509 });
  }
  if (now > cert.info.notAfter) {
    return new CertificateError("expired", `${name} expired on ${new Date(cert.info.notAfter).toISOString()} (now ${at})`, { certificate: cert.x509 });
  }
  return undefined;
}

function checkValidity(cert: ParsedCertificate, now: number): void {
  const error = validityError(cert, now);
  if (error) throw error;
}

/** Options for the common-name fallback: whole-label wildcards only, as in {@link matchesDnsName}. */
const CN_MATCH = { subject: "always", wildcards: true, partialWildcards: false, multiLabelWildcards: false, singleLabelSubdomains: false } as const;

/**
 * The server identity check (RFC 6125 section 6; RFC 9525 section 6). An IP
 * literal matches only iPAddress entries. A DNS name matches dNSName
 * entries; the subject common name is consulted only when the certificate
 * has no subjectAltName extension at all (RFC 6125 section 6.4.4).
 */
function checkHost(leaf: ParsedCertificate, host: string): void {
  const ref = referenceIdentity(host);
  const san = leaf.info.subjectAltNames;
  let matched: boolean;
  if (ref.kind === "ip") {
    matched = san?.ip.some((a) => sameAddress(a, ref.address)) ?? false;
  } else if (san) {
    matched = san.dns.some((pattern) => matchesDnsName(pattern, ref.name));
  } else {
    try {
      matched = ref.name !== "" && leaf.x509.checkHost(ref.name, CN_MATCH) !== undefined;
    } catch {
      matched = false;
    }
  }
  if (matched) return;
  const names = leaf.x509.subjectAltName ?? "no subjectAltName";
  throw new CertificateError(
    "hostname_mismatch",
    `the certificate for "${describeSubject(leaf.x509)}" is not valid for host "${host}" (it names ${names.length > 300 ? names.slice(0, 300) + "..." : names})`,
    { certificate: leaf.x509 },
  );
}

/**
 * Key usage for TLS 1.3: the leaf signs CertificateVerify, so a keyUsage
 * extension must include digitalSignature (RFC 8446 section 4.4.2.2); an
 * extKeyUsage extension must include serverAuth or clientAuth as the role
 * needs, or anyExtendedKeyUsage (RFC 5280 section 4.2.1.12).
 */
function checkUsage(leaf: ParsedCertificate, usage: "server" | "client"): void {
  const name = `"${describeSubject(leaf.x509)}"`;
  const ku = leaf.info.keyUsage;
  if (ku !== undefined && (ku & KeyUsage.digitalSignature) === 0) {
    throw new CertificateError("bad_usage", `${name} may not be used for signatures (keyUsage lacks digitalSignature)`, { certificate: leaf.x509 });
  }
  const eku = leaf.info.extendedKeyUsage;
  const wanted = usage === "server" ? OID.serverAuth : OID.clientAuth;
  if (eku !== undefined && !eku.includes(wanted) && !eku.includes(OID.anyExtendedKeyUsage)) {
    throw new CertificateError("bad_usage", `${name} is not valid for TLS ${usage} authentication (extKeyUsage lacks ${usage}Auth)`, { certificate: leaf.x509 });
  }
}
