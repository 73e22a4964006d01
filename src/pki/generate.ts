/**
 * X.509 v3 certificate generation (RFC 5280) with node:crypto keys: local
 * development CAs and leaves, and the certificates the test suites need.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TsquicError } from "../util/errors.js";
import { decodeCertificate } from "./certificate.js";
import {
  DerReader,
  Tag,
  bitString,
  boolean,
  decodeBitString,
  explicit,
  implicit,
  integer,
  namedBitString,
  nullValue,
  octetString,
  oid,
  readElement,
  sequence,
  setOf,
  time,
  utf8String,
} from "./der.js";
import { parseIpAddress } from "./hostname.js";
import { OID } from "./oids.js";
import { derToPem } from "./pem.js";

/** Key algorithms certificates can be generated for. */
export type KeyType = "ecdsa-p256" | "ecdsa-p384" | "rsa-2048" | "ed25519";

/** A certificate with its private key, in DER, PEM and KeyObject forms. */
export interface GeneratedCertificate {
  /** The certificate, DER. */
  der: Uint8Array;
  /** The certificate, PEM. */
  pem: string;
  /** The certificate's private key. */
  key: KeyObject;
  /** The private key as PKCS#8 PEM. */
  keyPem: string;
  /** The key algorithm. */
  keyType: KeyType;
}

/** Extended key usage purposes this generator writes (RFC 5280 section 4.2.1.12). */
export type ExtendedKeyUsage = "serverAuth" | "clientAuth";

/** What to put in a certificate. Only `subject` is required. */
export interface CertificateOptions {
  subject: { commonName: string; organization?: string };
  /** The issuing certificate and key; omitted means self-signed. The issuer is not checked to be a CA, so tests can build bad chains. */
  issuer?: GeneratedCertificate;
  /** Key algorithm for a fresh key (default "ecdsa-p256"); ignored when `key` is given. */
  keyType?: KeyType;
  /** An existing private key to certify instead of generating one (lets tests reuse slow RSA keys). */
  key?: KeyObject;
  /** DNS names (ASCII; wildcards as "*.example.com") and IPv4 / IPv6 addresses. */
  subjectAltNames?: { dns?: string[]; ip?: string[] };
  /** Start of validity; default one hour ago, to tolerate clock skew. */
  notBefore?: Date;
  /** End of validity; default 365 days from now. */
  notAfter?: Date;
  /** Make a CA certificate (basicConstraints cA, keyUsage keyCertSign and cRLSign). */
  isCA?: boolean;
  /** pathLenConstraint for a CA (RFC 5280 section 4.2.1.9). */
  pathLength?: number;
  /** Serial number as an unsigned big-endian magnitude, at most 20 octets encoded; default 16 random bytes. */
  serialNumber?: Uint8Array;
  /** extKeyUsage purposes; omitted means no extKeyUsage extension. */
  extendedKeyUsage?: ExtendedKeyUsage[];
  /** Further extensions, written as given after the standard ones (for tests of unusual certificates). `value` is the extnValue contents. */
  extraExtensions?: Array<{ oid: string; critical?: boolean; value: Uint8Array }>;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function invalid(message: string): TsquicError {
  return new TsquicError("ERR_PKI_INVALID_OPTIONS", message);
}

/** A fresh private key of the given type. */
export function generateKey(keyType: KeyType): KeyObject {
  switch (keyType) {
    case "ecdsa-p256":
      return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    case "ecdsa-p384":
      return generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey;
    case "rsa-2048":
      return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    case "ed25519":
      return generateKeyPairSync("ed25519").privateKey;
    default:
      throw invalid(`unknown key type ${JSON.stringify(keyType)}`);
  }
}

/** The {@link KeyType} of a private key, or a TsquicError for keys this generator cannot use. */
export function keyTypeOf(key: KeyObject): KeyType {
  if (key.type !== "private") throw invalid("expected a private key");
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "ec":
      if (details.namedCurve === "prime256v1" || details.namedCurve === "P-256") return "ecdsa-p256";
      if (details.namedCurve === "secp384r1" || details.namedCurve === "P-384") return "ecdsa-p384";
      break;
    case "rsa":
      if (details.modulusLength === 2048) return "rsa-2048";
      break;
    case "ed25519":
      return "ed25519";
  }
  throw invalid(`unsupported key: ${key.asymmetricKeyType} ${details.namedCurve ?? details.modulusLength ?? ""}`.trim());
}

/**
 * The signatureAlgorithm an issuer key signs with, and the node:crypto hash.
 * ECDSA hashes match the curve size; RSA uses PKCS#1 v1.5 with SHA-256.
 */
function signatureAlgorithm(issuerKeyType: KeyType): { algorithm: Uint8Array; hash: string | null } {
  switch (issuerKeyType) {
    case "ecdsa-p256": // RFC 5758 section 3.2: parameters MUST be absent
      return { algorithm: sequence(oid(OID.ecdsaWithSHA256)), hash: "sha256" };
    case "ecdsa-p384":
      return { algorithm: sequence(oid(OID.ecdsaWithSHA384)), hash: "sha384" };
    case "rsa-2048": // RFC 4055 section 5: parameters MUST be NULL
      return { algorithm: sequence(oid(OID.sha256WithRSAEncryption), nullValue()), hash: "sha256" };
    case "ed25519": // RFC 8410 section 3: parameters MUST be absent; EdDSA hashes internally
      return { algorithm: sequence(oid(OID.ed25519)), hash: null };
  }
}

/** Name ::= RDNSequence, one attribute per RDN, UTF8String values (RFC 5280 section 4.1.2.6). */
function encodeName(subject: CertificateOptions["subject"]): Uint8Array {
  const rdn = (type: string, value: string) => setOf(sequence(oid(type), utf8String(value)));
  const rdns: Uint8Array[] = [];
  if (subject.organization !== undefined) rdns.push(rdn(OID.organizationName, subject.organization));
  rdns.push(rdn(OID.commonName, subject.commonName));
  return sequence(...rdns);
}

/** Key identifier per RFC 7093 section 2 method 1: the leftmost 160 bits of SHA-256 over subjectPublicKey. */
function keyIdentifier(subjectPublicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(subjectPublicKey).digest().subarray(0, 20));
}

/** subjectPublicKey bits of a DER SubjectPublicKeyInfo (SEQUENCE { algorithm, BIT STRING }, RFC 5280 section 4.1). */
function subjectPublicKeyBits(spki: Uint8Array): Uint8Array {
  const r = new DerReader(readElement(spki, Tag.SEQUENCE, "SubjectPublicKeyInfo").content);
  r.expect(Tag.SEQUENCE, "algorithm");
  return decodeBitString(r.expect(Tag.BIT_STRING, "subjectPublicKey").content).bytes;
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }; DER omits a FALSE default. */
function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

function serialContent(serial: Uint8Array | undefined): Uint8Array {
  if (serial === undefined) {
    const s = new Uint8Array(randomBytes(16));
    s[0] = (s[0]! & 0x7f) | 0x01; // positive (RFC 5280 section 4.1.2.2) and never zero
    return s;
  }
  if (!(serial instanceof Uint8Array) || serial.every((b) => b === 0)) throw invalid("serialNumber must be a positive number");
  // RFC 5280 section 4.1.2.2: at most 20 octets, counting a leading 0x00 the encoding may need.
  if (integer(serial).length - 2 > 20) throw invalid("serialNumber must encode in at most 20 octets");
  return serial;
}

function checkDate(d: Date | undefined, name: string): void {
  if (d !== undefined && (!(d instanceof Date) || Number.isNaN(d.getTime()))) throw invalid(`${name} is not a valid Date`);
}

/**
 * Creates an X.509 v3 certificate (RFC 5280 section 4.1), self-signed unless
 * `issuer` is given. Extensions: basicConstraints (critical), keyUsage
 * (critical: keyCertSign + cRLSign for CAs, digitalSignature for leaves),
 * extKeyUsage, subjectAltName, subjectKeyIdentifier and, for issued
 * certificates, authorityKeyIdentifier. Throws TsquicError
 * `ERR_PKI_INVALID_OPTIONS` for unusable options.
 */
export function createCertificate(options: CertificateOptions): GeneratedCertificate {
  const { subject, issuer } = options;
  if (!subject || typeof subject.commonName !== "string") throw invalid("subject.commonName is required");
  checkDate(options.notBefore, "notBefore");
  checkDate(options.notAfter, "notAfter");
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - HOUR);
  const notAfter = options.notAfter ?? new Date(now + 365 * DAY);
  if (notAfter.getTime() < notBefore.getTime()) throw invalid("notAfter is before notBefore");
  const isCA = options.isCA ?? false;
  if (options.pathLength !== undefined && (!isCA || !Number.isSafeInteger(options.pathLength) || options.pathLength < 0)) {
    throw invalid("pathLength needs isCA and a non-negative integer");
  }

  const key = options.key ?? generateKey(options.keyType ?? "ecdsa-p256");
  const keyType = keyTypeOf(key);
  const spki = new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
  const subjectKeyId = keyIdentifier(subjectPublicKeyBits(spki));

  // Issuer name and key identifier: taken from the issuer certificate so names chain byte for byte.
  let issuerName = encodeName(subject);
  let authorityKeyId: Uint8Array | undefined;
  let signingKey = key;
  let signingType = keyType;
  if (issuer) {
    const info = decodeCertificate(issuer.der);
    issuerName = info.subject;
    authorityKeyId = info.subjectKeyIdentifier ?? keyIdentifier(info.subjectPublicKey);
    signingKey = issuer.key;
    signingType = keyTypeOf(issuer.key);
  }

  const extensions: Uint8Array[] = [];
  // RFC 5280 section 4.2.1.9: pathLenConstraint only when cA is set; cA FALSE is the DER default and omitted.
  const bc = isCA ? (options.pathLength !== undefined ? sequence(boolean(true), integer(options.pathLength)) : sequence(boolean(true))) : sequence();
  extensions.push(extension(OID.basicConstraints, true, bc));
  // RFC 5280 section 4.2.1.3: bit 0 digitalSignature, bit 5 keyCertSign, bit 6 cRLSign.
  extensions.push(extension(OID.keyUsage, true, namedBitString(isCA ? [5, 6] : [0])));
  if (options.extendedKeyUsage?.length) {
    const purposes = options.extendedKeyUsage.map((p) => {
      if (p !== "serverAuth" && p !== "clientAuth") throw invalid(`unknown extendedKeyUsage ${JSON.stringify(p)}`);
      return oid(OID[p]);
    });
    extensions.push(extension(OID.extKeyUsage, false, sequence(...purposes)));
  }
  const san = encodeSubjectAltNames(options.subjectAltNames);
  if (san) extensions.push(extension(OID.subjectAltName, false, san));
  extensions.push(extension(OID.subjectKeyIdentifier, false, octetString(subjectKeyId)));
  if (authorityKeyId) extensions.push(extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, authorityKeyId))));
  for (const extra of options.extraExtensions ?? []) extensions.push(extension(extra.oid, extra.critical ?? false, extra.value));

  const { algorithm, hash } = signatureAlgorithm(signingType);
  const tbs = sequence(
    explicit(0, integer(2)), // version v3
    integer(serialContent(options.serialNumber)),
    algorithm,
    issuerName,
    sequence(time(notBefore), time(notAfter)),
    encodeName(subject),
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = sign(hash, tbs, signingKey);
  const der = sequence(tbs, algorithm, bitString(new Uint8Array(signature)));
  return {
    der,
    pem: derToPem(der),
    key,
    keyPem: key.export({ type: "pkcs8", format: "pem" }) as string,
    keyType,
  };
}

/** GeneralNames with dNSName [2] and iPAddress [7] entries (RFC 5280 section 4.2.1.6), or undefined when empty. */
function encodeSubjectAltNames(names: CertificateOptions["subjectAltNames"]): Uint8Array | undefined {
  const entries: Uint8Array[] = [];
  for (const name of names?.dns ?? []) {
    if (typeof name !== "string" || !/^[\x21-\x7e]+$/.test(name)) {
      throw invalid(`DNS name ${JSON.stringify(name)} must be ASCII without spaces (use punycode for IDNs)`);
    }
    entries.push(implicit(2, new TextEncoder().encode(name))); // IA5String value octets
  }
  for (const ip of names?.ip ?? []) {
    const bytes = typeof ip === "string" ? parseIpAddress(ip.replace(/^\[(.*)\]$/, "$1")) : undefined;
    if (!bytes) throw invalid(`not an IP address: ${JSON.stringify(ip)}`);
    entries.push(implicit(7, bytes));
  }
  return entries.length ? sequence(...entries) : undefined;
}

/** Default hosts for development certificates. */
const DEVELOPMENT_HOSTS = ["localhost", "127.0.0.1", "::1"];

/**
 * A throwaway local CA and a leaf it issued for `hosts` (default
 * localhost, 127.0.0.1 and ::1), both ECDSA P-256. The leaf is valid for
 * one year for serverAuth and clientAuth; the CA for ten years with
 * pathLength 0. The CA key is returned but `writeDevelopmentCertificates`
 * does not save it, so the CA cannot issue anything else later.
 */
export function createDevelopmentCertificates(options?: { hosts?: string[] }): { ca: GeneratedCertificate; leaf: GeneratedCertificate } {
  const hosts = options?.hosts?.length ? options.hosts : DEVELOPMENT_HOSTS;
  const dns: string[] = [];
  const ip: string[] = [];
  for (const h of hosts) (parseIpAddress(h.replace(/^\[(.*)\]$/, "$1")) ? ip : dns).push(h);
  const now = Date.now();
  const ca = createCertificate({
    subject: { commonName: "tsquic development CA", organization: "tsquic" },
    isCA: true,
    pathLength: 0,
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + 10 * 365 * DAY),
  });
  const leaf = createCertificate({
    subject: { commonName: hosts[0]!, organization: "tsquic" },
    issuer: ca,
    subjectAltNames: { dns, ip },
    extendedKeyUsage: ["serverAuth", "clientAuth"],
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + 365 * DAY),
  });
  return { ca, leaf };
}

/**
 * Writes development certificates to `dir` (created if missing): `ca.pem`
 * (the CA certificate, for clients to trust), `cert.pem` (the leaf) and
 * `key.pem` (the leaf's PKCS#8 key, mode 0600). Existing files are replaced.
 */
export async function writeDevelopmentCertificates(
  dir: string,
  options?: { hosts?: string[] },
): Promise<{ caPath: string; certPath: string; keyPath: string }> {
  const { ca, leaf } = createDevelopmentCertificates(options);
  await mkdir(dir, { recursive: true });
  const caPath = join(dir, "ca.pem");
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  await writeFile(caPath, ca.pem);
  await writeFile(certPath, leaf.pem);
  await writeFile(keyPath, leaf.keyPem, { mode: 0o600 });
  await chmod(keyPath, 0o600); // the mode above only applies when the file is new
  return { caPath, certPath, keyPath };
}
