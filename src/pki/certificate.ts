/**
 * Decodes the parts of an X.509 certificate (RFC 5280 section 4.1) that
 * node:crypto's X509Certificate does not expose in usable form: the raw
 * issuer and subject names (for exact name chaining), the validity times as
 * numbers, and the extensions path validation needs.
 */
import { DecodeError } from "../util/errors.js";
import {
  DerReader,
  Tag,
  contextTag,
  decodeBitString,
  decodeBoolean,
  decodeInteger,
  decodeOid,
  decodeTime,
  readElement,
} from "./der.js";
import { OID } from "./oids.js";

/** KeyUsage bits (RFC 5280 section 4.2.1.3), as masks over {@link CertificateInfo.keyUsage}. */
export const KeyUsage = {
  digitalSignature: 1 << 0,
  nonRepudiation: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

/** One extension as it appears in the certificate (RFC 5280 section 4.1.2.9). */
export interface Extension {
  readonly critical: boolean;
  /** The extnValue OCTET STRING contents: the DER of the extension's own type. */
  readonly value: Uint8Array;
}

/** The subjectAltName entries this layer matches against (RFC 5280 section 4.2.1.6). */
export interface SubjectAltNames {
  /** dNSName entries, as written (IA5String). */
  readonly dns: readonly string[];
  /** iPAddress entries: 4 bytes for IPv4, 16 for IPv6. */
  readonly ip: readonly Uint8Array[];
  /** How many entries of other kinds (email, URI, directoryName, ...) were present. */
  readonly others: number;
}

/** The decoded fields of a certificate. Byte arrays are views into the input. */
export interface CertificateInfo {
  /** 0 for v1, 2 for v3 (RFC 5280 section 4.1.2.1). */
  readonly version: number;
  /** The serialNumber INTEGER value octets. */
  readonly serialNumber: Uint8Array;
  /** OID of the outer signatureAlgorithm. */
  readonly signatureAlgorithm: string;
  /** The issuer Name, whole DER element. */
  readonly issuer: Uint8Array;
  /** The subject Name, whole DER element. */
  readonly subject: Uint8Array;
  /** notBefore, ms since the epoch. */
  readonly notBefore: number;
  /** notAfter, ms since the epoch. */
  readonly notAfter: number;
  /** The SubjectPublicKeyInfo, whole DER element. */
  readonly subjectPublicKeyInfo: Uint8Array;
  /** The subjectPublicKey BIT STRING bits (the input to key identifiers, RFC 5280 section 4.2.1.2). */
  readonly subjectPublicKey: Uint8Array;
  /** Extensions by OID. */
  readonly extensions: ReadonlyMap<string, Extension>;
  /** basicConstraints (RFC 5280 section 4.2.1.9), when present. */
  readonly basicConstraints?: { readonly ca: boolean; readonly pathLength?: number };
  /** keyUsage bit mask (see {@link KeyUsage}), when the extension is present. */
  readonly keyUsage?: number;
  /** extKeyUsage purpose OIDs (RFC 5280 section 4.2.1.12), when present. */
  readonly extendedKeyUsage?: readonly string[];
  /** subjectAltName entries, when the extension is present. */
  readonly subjectAltNames?: SubjectAltNames;
  /** subjectKeyIdentifier (RFC 5280 section 4.2.1.2), when present. */
  readonly subjectKeyIdentifier?: Uint8Array;
  /** keyIdentifier of authorityKeyIdentifier (RFC 5280 section 4.2.1.1), when present. */
  readonly authorityKeyIdentifier?: Uint8Array;
}

/** Path lengths above this are treated as this (no real path gets near it). */
const PATH_LENGTH_CAP = 255;

/** Decodes a DER certificate; throws {@link DecodeError} when it is malformed. */
export function decodeCertificate(der: Uint8Array): CertificateInfo {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 section 4.1)
  const cert = new DerReader(readElement(der, Tag.SEQUENCE, "Certificate").content);
  const tbsEl = cert.expect(Tag.SEQUENCE, "tbsCertificate");
  const outerAlg = cert.expect(Tag.SEQUENCE, "signatureAlgorithm");
  decodeBitString(cert.expect(Tag.BIT_STRING, "signatureValue").content);
  cert.end("Certificate");

  const tbs = new DerReader(tbsEl.content);
  let version = 0; // absent means v1 (DEFAULT v1)
  const versionEl = tbs.optional(contextTag(0, true), "version");
  if (versionEl) {
    const v = decodeInteger(readElement(versionEl.content, Tag.INTEGER, "version").content);
    if (v < 0n || v > 2n) throw new DecodeError(`unknown certificate version ${v}`);
    version = Number(v);
  }
  const serialNumber = tbs.expect(Tag.INTEGER, "serialNumber").content;
  if (serialNumber.length === 0) throw new DecodeError("empty serialNumber");
  const innerAlg = tbs.expect(Tag.SEQUENCE, "signature");
  // RFC 5280 section 4.1.2.3: the inner signature field MUST equal the outer signatureAlgorithm.
  if (!sameBytes(innerAlg.encoded, outerAlg.encoded)) throw new DecodeError("tbsCertificate signature differs from signatureAlgorithm");
  const signatureAlgorithm = decodeOid(new DerReader(outerAlg.content).expect(Tag.OID, "algorithm").content);
  const issuer = tbs.expect(Tag.SEQUENCE, "issuer").encoded;
  const validity = tbs.sequence("validity");
  const notBefore = decodeTime(validity.next("notBefore"));
  const notAfter = decodeTime(validity.next("notAfter"));
  validity.end("validity");
  const subject = tbs.expect(Tag.SEQUENCE, "subject").encoded;
  const spkiEl = tbs.expect(Tag.SEQUENCE, "subjectPublicKeyInfo");
  const spki = new DerReader(spkiEl.content);
  spki.expect(Tag.SEQUENCE, "algorithm");
  const subjectPublicKey = decodeBitString(spki.expect(Tag.BIT_STRING, "subjectPublicKey").content).bytes;
  spki.end("subjectPublicKeyInfo");
  tbs.optional(contextTag(1, false), "issuerUniqueID");
  tbs.optional(contextTag(2, false), "subjectUniqueID");
  const extensions = new Map<string, Extension>();
  const extEl = tbs.optional(contextTag(3, true), "extensions");
  if (extEl) {
    // RFC 5280 section 4.1.2.9: extensions appear only in v3 certificates.
    if (version !== 2) throw new DecodeError("extensions in a certificate that is not v3");
    const list = new DerReader(readElement(extEl.content, Tag.SEQUENCE, "extensions").content);
    while (!list.done) {
      const ext = list.sequence("extension");
      const id = decodeOid(ext.expect(Tag.OID, "extnID").content);
      const criticalEl = ext.optional(Tag.BOOLEAN, "critical");
      const value = ext.expect(Tag.OCTET_STRING, "extnValue").content;
      ext.end("extension");
      // RFC 5280 section 4.2: a certificate MUST NOT include more than one instance of an extension.
      if (extensions.has(id)) throw new DecodeError(`duplicate extension ${id}`);
      extensions.set(id, { critical: criticalEl ? decodeBoolean(criticalEl.content) : false, value });
    }
  }
  tbs.end("tbsCertificate");

  const info: CertificateInfo = {
    version,
    serialNumber,
    signatureAlgorithm,
    issuer,
    subject,
    notBefore,
    notAfter,
    subjectPublicKeyInfo: spkiEl.encoded,
    subjectPublicKey,
    extensions,
  };
  const ext = (id: string) => extensions.get(id)?.value;
  const bc = ext(OID.basicConstraints);
  const ku = ext(OID.keyUsage);
  const eku = ext(OID.extKeyUsage);
  const san = ext(OID.subjectAltName);
  const ski = ext(OID.subjectKeyIdentifier);
  const aki = ext(OID.authorityKeyIdentifier);
  return {
    ...info,
    ...(bc && { basicConstraints: decodeBasicConstraints(bc) }),
    ...(ku && { keyUsage: decodeKeyUsage(ku) }),
    ...(eku && { extendedKeyUsage: decodeExtKeyUsage(eku) }),
    ...(san && { subjectAltNames: decodeSubjectAltNames(san) }),
    ...(ski && { subjectKeyIdentifier: readElement(ski, Tag.OCTET_STRING, "subjectKeyIdentifier").content }),
    ...(aki && decodeAuthorityKeyId(aki)),
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function decodeBasicConstraints(value: Uint8Array): { ca: boolean; pathLength?: number } {
  const r = new DerReader(readElement(value, Tag.SEQUENCE, "basicConstraints").content);
  const caEl = r.optional(Tag.BOOLEAN, "cA");
  const lenEl = r.optional(Tag.INTEGER, "pathLenConstraint");
  r.end("basicConstraints");
  const ca = caEl ? decodeBoolean(caEl.content) : false;
  if (!lenEl) return { ca };
  const n = decodeInteger(lenEl.content);
  if (n < 0n) throw new DecodeError("negative pathLenConstraint");
  return { ca, pathLength: n > BigInt(PATH_LENGTH_CAP) ? PATH_LENGTH_CAP : Number(n) };
}

/** KeyUsage ::= BIT STRING, bit 0 being the first octet's most significant bit. */
function decodeKeyUsage(value: Uint8Array): number {
  const { bytes } = decodeBitString(readElement(value, Tag.BIT_STRING, "keyUsage").content);
  let mask = 0;
  for (let bit = 0; bit < 9 && bit < bytes.length * 8; bit++) {
    if (bytes[bit >> 3]! & (0x80 >> (bit & 7))) mask |= 1 << bit;
  }
  return mask;
}

/** ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId */
function decodeExtKeyUsage(value: Uint8Array): string[] {
  const r = new DerReader(readElement(value, Tag.SEQUENCE, "extKeyUsage").content);
  const out: string[] = [];
  while (!r.done) out.push(decodeOid(r.expect(Tag.OID, "KeyPurposeId").content));
  return out;
}

const DNS_NAME_TAG = contextTag(2, false);
const IP_ADDRESS_TAG = contextTag(7, false);

/** GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName; only dNSName [2] and iPAddress [7] are kept. */
function decodeSubjectAltNames(value: Uint8Array): SubjectAltNames {
  const r = new DerReader(readElement(value, Tag.SEQUENCE, "subjectAltName").content);
  const dns: string[] = [];
  const ip: Uint8Array[] = [];
  let others = 0;
  while (!r.done) {
    const el = r.next("GeneralName");
    if (el.tag === DNS_NAME_TAG) {
      // IA5String is 7-bit; anything else is not a valid dNSName (RFC 5280 section 4.2.1.6).
      if (el.content.some((b) => b > 0x7f)) throw new DecodeError("non-ASCII dNSName");
      dns.push(new TextDecoder().decode(el.content));
    } else if (el.tag === IP_ADDRESS_TAG) {
      // RFC 5280 section 4.2.1.6: four octets for IPv4, sixteen for IPv6.
      if (el.content.length !== 4 && el.content.length !== 16) throw new DecodeError("iPAddress of invalid length");
      ip.push(el.content);
    } else {
      others++;
    }
  }
  return { dns, ip, others };
}

/** AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... } */
function decodeAuthorityKeyId(value: Uint8Array): { authorityKeyIdentifier?: Uint8Array } {
  const r = new DerReader(readElement(value, Tag.SEQUENCE, "authorityKeyIdentifier").content);
  const keyId = r.optional(contextTag(0, false), "keyIdentifier");
  r.optional(contextTag(1, true), "authorityCertIssuer");
  r.optional(contextTag(2, false), "authorityCertSerialNumber");
  r.end("authorityKeyIdentifier");
  return keyId ? { authorityKeyIdentifier: keyId.content } : {};
}
