/**
 * Object identifiers the PKI layer reads or writes, in dotted form. Each one
 * names the RFC that assigns it.
 */
export const OID = {
  // Attribute types for distinguished names (RFC 5280 Appendix A.1, X.520).
  commonName: "2.5.4.3",
  organizationName: "2.5.4.10",

  // Certificate extensions (RFC 5280 section 4.2.1).
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  nameConstraints: "2.5.29.30",
  certificatePolicies: "2.5.29.32",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",

  // Extended key usage purposes (RFC 5280 section 4.2.1.12).
  anyExtendedKeyUsage: "2.5.29.37.0",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",

  // Signature algorithms.
  ecdsaWithSHA256: "1.2.840.10045.4.3.2", // RFC 5758 section 3.2
  ecdsaWithSHA384: "1.2.840.10045.4.3.3",
  ecdsaWithSHA512: "1.2.840.10045.4.3.4",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11", // RFC 4055 section 5
  sha384WithRSAEncryption: "1.2.840.113549.1.1.12",
  sha512WithRSAEncryption: "1.2.840.113549.1.1.13",
  rsassaPss: "1.2.840.113549.1.1.10", // RFC 4055 section 3.1
  ed25519: "1.3.101.112", // RFC 8410 section 3
  ed448: "1.3.101.113",
} as const;

/**
 * Signature algorithms accepted on certificates a peer presents. SHA-1 and
 * MD5 based ones are left out on purpose: RFC 8446 section 4.4.2.2 says
 * endpoints SHOULD NOT accept SHA-1 signed certificates, and MD5 is broken.
 * Trust anchors' own self-signatures are never checked, so old roots still work.
 */
export const ACCEPTED_SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set([
  OID.ecdsaWithSHA256,
  OID.ecdsaWithSHA384,
  OID.ecdsaWithSHA512,
  OID.sha256WithRSAEncryption,
  OID.sha384WithRSAEncryption,
  OID.sha512WithRSAEncryption,
  OID.rsassaPss,
  OID.ed25519,
  OID.ed448,
]);
