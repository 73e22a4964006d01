/**
 * Trust anchors (RFC 5280 section 6.1.1 (d)) indexed by subject name, and
 * the parsed form of a certificate the verifier works on.
 */
import { X509Certificate } from "node:crypto";
import { rootCertificates } from "node:tls";
import { toHex } from "../util/bytes.js";
import { TsquicError } from "../util/errors.js";
import { decodeCertificate, type CertificateInfo } from "./certificate.js";
import { CertificateError } from "./errors.js";
import { decodePem, loadCertificateChain } from "./pem.js";

/** A certificate parsed both by node:crypto (signatures, names for messages) and by {@link decodeCertificate} (extensions, raw names). */
export interface ParsedCertificate {
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly info: CertificateInfo;
  /** SHA-256 fingerprint, used to recognise the same certificate twice. */
  readonly fingerprint: string;
}

/**
 * Parses a certificate for verification; a certificate either parser
 * rejects is a {@link CertificateError} with reason "malformed". `what`
 * names it in the message ("leaf certificate", "certificate 2 of the chain").
 */
export function parseCertificate(der: Uint8Array, what = "certificate"): ParsedCertificate {
  let x509: X509Certificate;
  let info: CertificateInfo;
  try {
    // Our decoder first: it is stricter, and it bounds every read before OpenSSL sees the bytes.
    info = decodeCertificate(der);
    x509 = new X509Certificate(der);
  } catch (cause) {
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    throw new CertificateError("malformed", `${what} could not be parsed${detail}`, { cause });
  }
  return { der, x509, info, fingerprint: x509.fingerprint256 };
}

/** A set of trust anchors. Lookups are by exact subject Name encoding, the way issuer names chain. */
export interface TrustStore {
  /** Number of anchors. */
  readonly size: number;
  /** Anchors whose subject Name is byte-for-byte `name` (a DER Name). */
  findBySubject(name: Uint8Array): readonly ParsedCertificate[];
  /** Whether this exact certificate is an anchor. */
  contains(cert: ParsedCertificate): boolean;
  /** Every anchor. */
  anchors(): Iterable<ParsedCertificate>;
}

/** A trust store over a fixed list of certificates, indexed on first use. */
class IndexedTrustStore implements TrustStore {
  private bySubject: Map<string, ParsedCertificate[]> | undefined;
  private fingerprints: Set<string> | undefined;
  private all: ParsedCertificate[] = [];

  constructor(private readonly load: () => ParsedCertificate[]) {}

  private index(): Map<string, ParsedCertificate[]> {
    if (this.bySubject) return this.bySubject;
    this.all = this.load();
    this.bySubject = new Map();
    this.fingerprints = new Set();
    for (const cert of this.all) {
      const key = toHex(cert.info.subject);
      const list = this.bySubject.get(key);
      if (list) list.push(cert);
      else this.bySubject.set(key, [cert]);
      this.fingerprints.add(cert.fingerprint);
    }
    return this.bySubject;
  }

  get size(): number {
    this.index();
    return this.all.length;
  }

  findBySubject(name: Uint8Array): readonly ParsedCertificate[] {
    return this.index().get(toHex(name)) ?? [];
  }

  contains(cert: ParsedCertificate): boolean {
    this.index();
    return this.fingerprints!.has(cert.fingerprint);
  }

  anchors(): Iterable<ParsedCertificate> {
    this.index();
    return this.all;
  }
}

let platformStore: TrustStore | undefined;

/**
 * The platform's roots: Node's bundled Mozilla store (`tls.rootCertificates`).
 * Parsed on first lookup and shared by every caller. A root our decoder
 * cannot read is skipped rather than failing every connection.
 */
function platformTrustStore(): TrustStore {
  platformStore ??= new IndexedTrustStore(() => {
    const out: ParsedCertificate[] = [];
    for (const pem of rootCertificates) {
      try {
        for (const block of decodePem(pem)) if (block.label === "CERTIFICATE") out.push(parseCertificate(block.der));
      } catch {
        // skipped: see above
      }
    }
    return out;
  });
  return platformStore;
}

/**
 * A trust store. With no argument, the platform root store (loaded lazily,
 * cached for the process). A `ca` (PEM, DER or a list of them, as for
 * {@link loadCertificateChain}) replaces the platform roots entirely. A
 * certificate in `ca` that cannot be parsed is a TsquicError
 * (`ERR_PKI_INVALID_CERTIFICATE`), raised here rather than at handshake time.
 */
export function loadTrustStore(ca?: string | Uint8Array | Array<string | Uint8Array>): TrustStore {
  if (ca === undefined) return platformTrustStore();
  const anchors = loadCertificateChain(ca).map((der, i) => {
    try {
      return parseCertificate(der, `trust anchor ${i + 1}`);
    } catch (cause) {
      throw new TsquicError("ERR_PKI_INVALID_CERTIFICATE", `trust anchor ${i + 1} could not be parsed`, { cause });
    }
  });
  const store = new IndexedTrustStore(() => anchors);
  void store.size; // index now, so the store is ready before the first handshake
  return store;
}
