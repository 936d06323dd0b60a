import "reflect-metadata";
import { webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from "@peculiar/x509";
import { KcoreError } from "../domain/errors.js";

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

/** Creates a self-signed cluster CA valid for ten years. */
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

/** Signs a leaf certificate for `publicKey` with the CA (one year unless given). */
export async function signLeaf(
  ca: CertKeyPair,
  publicKey: CryptoKey,
  opts: IssueOptions,
): Promise<string> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${opts.commonName}`,
    issuer: caCert.subject,
    notBefore: opts.notBefore ?? new Date(now - 60_000),
    notAfter: opts.notAfter ?? new Date(now + 365 * DAY_MS),
    signingAlgorithm: ALG,
    publicKey,
    signingKey: await importKeyPem(ca.keyPem),
    extensions: [
      ...leafExtensions(opts),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return cert.toString("pem");
}

/** Creates a key and a certificate for it in one step (for identities created on this machine). */
export async function issue(ca: CertKeyPair, opts: IssueOptions): Promise<CertKeyPair> {
  const keys = await generateKeyPair();
  return {
    certPem: await signLeaf(ca, keys.publicKey, opts),
    keyPem: await exportKeyPem(keys.privateKey),
  };
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
