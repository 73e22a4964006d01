/**
 * The PKI layer: certificate generation, PEM/DER loading and chain
 * verification for the TLS 1.3 engine.
 */
export { createCertificate, createDevelopmentCertificates, writeDevelopmentCertificates, generateKey, keyTypeOf } from "./generate.js";
export type { CertificateOptions, ExtendedKeyUsage, GeneratedCertificate, KeyType } from "./generate.js";
export { decodePem, derToPem, loadCertificateChain, loadPrivateKey, type PemBlock } from "./pem.js";
export { CertificateError, loadTrustStore, verifyCertificateChain, MAX_CHAIN_CERTIFICATES, MAX_PATH_LENGTH } from "./verify.js";
export type { CertificateFailure, ParsedCertificate, TrustStore, VerifyOptions } from "./verify.js";
export { decodeCertificate, KeyUsage, type CertificateInfo, type SubjectAltNames } from "./certificate.js";
