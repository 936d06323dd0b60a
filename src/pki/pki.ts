import "reflect-metadata";
import { createHash, createPrivateKey, X509Certificate, webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from "@peculiar/x509";
import { KcoreError } from "../domain/errors.js";
import { normalSerial } from "./serial.js";

export { normalSerial } from "./serial.js";

x509.cryptoProvider.set(webcrypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A certificate and its private key, both PEM. */
export interface CertKeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export type CertUsage = "server-and-client" | "client" | "server";

export interface IssueOptions {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly usage: CertUsage;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

const DAY_MS = 86_400_000;

/** Creates an ECDSA P-256 key pair; the private key never leaves this process unless written. */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey({ name: ALG.name, namedCurve: ALG.namedCurve }, true, [
    "sign",
    "verify",
  ]);
}

export async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey(
    "pkcs8",
    der,
    { name: ALG.name, namedCurve: ALG.namedCurve },
    false,
    ["sign"],
  );
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return Buffer.from(bytes).toString("hex");
}

/** A CA that signs: its certificate and key, and the chain to append to what it signs. */
export interface Signer extends CertKeyPair {
  /** PEM of the CAs between what it signs and the root (empty when the root signs). */
  readonly chainPem: string;
}

/** A signed certificate: PEM of the leaf followed by its chain, and what the registry keeps. */
export interface IssuedCert {
  readonly certPem: string;
  readonly serial: string;
  readonly commonName: string;
  readonly notAfter: Date;
  /** The serial of the CA that signed it. */
  readonly issuerSerial: string;
}

/** Creates a self-signed cluster root CA valid for ten years; it signs intermediates only. */
export async function createCa(commonName: string): Promise<CertKeyPair> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3650 * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportKeyPem(keys.privateKey) };
}

/**
 * Creates an intermediate CA under `root` (path length 0: it signs leaves only), valid for five
 * years or until the root expires. Its name carries its serial so that every intermediate the
 * cluster has had is told apart (a CRL is matched to its CA by name).
 */
export async function createIntermediate(root: CertKeyPair): Promise<Signer> {
  const rootCert = new x509.X509Certificate(root.certPem);
  const keys = await generateKeyPair();
  const now = Date.now();
  const serialNumber = serial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: `CN=kcore-intermediate-${serialNumber.slice(0, 12)}`,
    issuer: rootCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(Math.min(now + 1826 * DAY_MS, rootCert.notAfter.getTime())),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: await importKeyPem(root.keyPem),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootCert),
    ],
  });
  const certPem = cert.toString("pem");
  return { certPem, keyPem: await exportKeyPem(keys.privateKey), chainPem: certPem };
}

function leafExtensions(opts: IssueOptions): x509.Extension[] {
  const san = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const eku =
    opts.usage === "client"
      ? [x509.ExtendedKeyUsage.clientAuth]
      : opts.usage === "server"
        ? [x509.ExtendedKeyUsage.serverAuth]
        : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(eku, false),
    ...(san.length > 0 ? [new x509.SubjectAlternativeNameExtension(san, false)] : []),
  ];
}

/** Signs a leaf certificate for `publicKey` (one year unless given); the result carries the chain. */
export async function signLeaf(
  signer: Signer,
  publicKey: CryptoKey,
  opts: IssueOptions,
): Promise<IssuedCert> {
  const caCert = new x509.X509Certificate(signer.certPem);
  const now = Date.now();
  const notAfter = opts.notAfter ?? new Date(now + 365 * DAY_MS);
  const serialNumber = serial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: `CN=${opts.commonName}`,
    issuer: caCert.subject,
    notBefore: opts.notBefore ?? new Date(now - 60_000),
    notAfter,
    signingAlgorithm: ALG,
    publicKey,
    signingKey: await importKeyPem(signer.keyPem),
    extensions: [
      ...leafExtensions(opts),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const leaf = cert.toString("pem");
  return {
    certPem: signer.chainPem === "" ? leaf : `${leaf}\n${signer.chainPem.trim()}\n`,
    serial: normalSerial(serialNumber),
    commonName: opts.commonName,
    notAfter: cert.notAfter,
    issuerSerial: normalSerial(caCert.serialNumber),
  };
}

/** Creates a key and a certificate for it in one step (for identities created on this machine). */
export async function issue(signer: Signer, opts: IssueOptions): Promise<IssuedCert & CertKeyPair> {
  const keys = await generateKeyPair();
  return {
    ...(await signLeaf(signer, keys.publicKey, opts)),
    keyPem: await exportKeyPem(keys.privateKey),
  };
}

/** A certificate revocation list signed by `issuer` naming every serial in `revoked`. */
export async function signCrl(
  issuer: CertKeyPair,
  revoked: readonly { readonly serial: string; readonly revokedAt: Date }[],
  now: Date,
): Promise<string> {
  const caCert = new x509.X509Certificate(issuer.certPem);
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subject,
    thisUpdate: new Date(now.getTime() - 60_000),
    signingAlgorithm: ALG,
    signingKey: await importKeyPem(issuer.keyPem),
    entries: revoked.map((r) => ({ serialNumber: r.serial, revocationDate: r.revokedAt })),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(caCert)],
  });
  // OpenSSL reads only the "X509 CRL" PEM label.
  return x509.PemConverter.encode(crl.rawData, "X509 CRL");
}

/** What a certificate says about itself: the first certificate of a PEM chain. */
export function certInfo(pem: string): {
  serial: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
} {
  const cert = new x509.X509Certificate(pem);
  return {
    serial: normalSerial(cert.serialNumber),
    commonName: cert.subjectName.getField("CN")[0] ?? "",
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

/**
 * Whether a signed certificate is what was asked for: its first certificate is for `commonName`
 * and for the public half of `keyPem`. Checked before a node replaces its own pair.
 */
export function certFitsKey(certPem: string, keyPem: string, commonName: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    return (
      certInfo(certPem).commonName === commonName && cert.checkPrivateKey(createPrivateKey(keyPem))
    );
  } catch {
    return false;
  }
}

/** The DNS names and IP addresses a certificate is for. */
export function certNames(pem: string): { dnsNames: string[]; ipAddresses: string[] } {
  const san = new x509.X509Certificate(pem).getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.toJSON() ?? [];
  return {
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === "ip").map((n) => n.value),
  };
}

/** The SHA-256 of a certificate's DER encoding, hex: how a join token pins the root CA. */
export function certSha256(pem: string): string {
  return createHash("sha256")
    .update(Buffer.from(new x509.X509Certificate(pem).rawData))
    .digest("hex");
}

/** Creates a key and a certificate signing request for `commonName`; the key stays with the caller. */
export async function createCsr(commonName: string): Promise<{ csrPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm: ALG,
  });
  return { csrPem: csr.toString("pem"), keyPem: await exportKeyPem(keys.privateKey) };
}

/** Checks a CSR's signature and returns its common name and public key. */
export async function readCsr(
  csrPem: string,
): Promise<{ commonName: string; publicKey: CryptoKey }> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (e) {
    throw new KcoreError("InvalidArgument", "csrPem: not a PEM certificate signing request", {
      cause: e,
    });
  }
  if (!(await csr.verify()))
    throw new KcoreError("InvalidArgument", "csrPem: signature does not verify");
  const cn = csr.subjectName.getField("CN")[0];
  if (cn === undefined) throw new KcoreError("InvalidArgument", "csrPem: subject has no CN");
  const publicKey = await webcrypto.subtle.importKey(
    "spki",
    csr.publicKey.rawData,
    { name: ALG.name, namedCurve: ALG.namedCurve },
    true,
    ["verify"],
  );
  return { commonName: cn, publicKey };
}

/** The common name of a PEM certificate. */
export function certCommonName(certPem: string): string {
  return new x509.X509Certificate(certPem).subjectName.getField("CN")[0] ?? "";
}
