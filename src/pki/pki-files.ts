import { existsSync, mkdirSync, renameSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { ADMIN_CN, CONTROLLER_CN_PREFIX, NODE_CN_PREFIX } from "../domain/identity.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { CERT_FILES, certsDir, readPem } from "./cert-files.js";
import { createCa, createIntermediate, issue, type CertKeyPair, type Signer } from "./pki.js";

export { CERT_FILES, certsDir, loadTls, readPem, RETIRED_DIR } from "./cert-files.js";

export function writePair(dir: string, certName: string, keyName: string, pair: CertKeyPair): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, keyName), pair.keyPem, 0o600);
  writeFileAtomic(join(dir, certName), pair.certPem, 0o644);
}

/**
 * Replaces a certificate and its key so that a crash at any point leaves a matching pair: both
 * are written beside the old ones first, then renamed key first; `recoverPair` finishes an
 * interrupted replacement.
 */
export function replacePair(
  dir: string,
  certName: string,
  keyName: string,
  pair: CertKeyPair,
): void {
  writeFileAtomic(join(dir, `${keyName}.new`), pair.keyPem, 0o600);
  writeFileAtomic(join(dir, `${certName}.new`), pair.certPem, 0o644);
  recoverPair(dir, certName, keyName);
}

/** Completes a `replacePair` that was cut short (the new pair is whole once both are written). */
export function recoverPair(dir: string, certName: string, keyName: string): void {
  const newKey = join(dir, `${keyName}.new`);
  const newCert = join(dir, `${certName}.new`);
  if (existsSync(newKey) && !existsSync(newCert)) return; // the new cert never got written
  if (existsSync(newKey)) renameSync(newKey, join(dir, keyName));
  if (existsSync(newCert)) renameSync(newCert, join(dir, certName));
}

/** The root CA of a data directory, created when missing. */
export async function ensureRoot(dataDir: string): Promise<CertKeyPair> {
  const dir = certsDir(dataDir);
  if (!existsSync(join(dir, CERT_FILES.caCert))) {
    writePair(dir, CERT_FILES.caCert, CERT_FILES.caKey, await createCa("kcore-ca"));
  }
  return { certPem: readPem(dir, CERT_FILES.caCert), keyPem: readPem(dir, CERT_FILES.caKey) };
}

/** The intermediate CA of a data directory (under its root), created when missing. */
export async function ensureIntermediate(dataDir: string, root: CertKeyPair): Promise<Signer> {
  const dir = certsDir(dataDir);
  if (!existsSync(join(dir, CERT_FILES.intermediateCert))) {
    const pair = await createIntermediate(root);
    writePair(dir, CERT_FILES.intermediateCert, CERT_FILES.intermediateKey, pair);
  }
  return readIntermediate(dataDir);
}

export function readIntermediate(dataDir: string): Signer {
  const dir = certsDir(dataDir);
  const certPem = readPem(dir, CERT_FILES.intermediateCert);
  return { certPem, keyPem: readPem(dir, CERT_FILES.intermediateKey), chainPem: certPem };
}

/** The cluster's CAs, created when missing: the root, and the intermediate that signs leaves. */
export async function ensureCa(dataDir: string): Promise<{ root: CertKeyPair; issuer: Signer }> {
  const root = await ensureRoot(dataDir);
  return { root, issuer: await ensureIntermediate(dataDir, root) };
}

const LOCAL_IPS = ["127.0.0.1", "::1"];

/** The controller's certificate (CN kcore-controller-<host>), created when missing. */
export async function ensureControllerCert(
  dataDir: string,
  ca: Signer,
  extraNames: readonly string[] = [],
): Promise<void> {
  const dir = certsDir(dataDir);
  if (existsSync(join(dir, CERT_FILES.controllerCert))) return;
  const host = hostname();
  const ips = extraNames.filter((n) => /^[\d.]+$|:/.test(n));
  const dns = extraNames.filter((n) => !ips.includes(n));
  const pair = await issue(ca, {
    commonName: `${CONTROLLER_CN_PREFIX}${host}`,
    dnsNames: [host, "localhost", ...dns],
    ipAddresses: [...LOCAL_IPS, ...ips],
    usage: "server-and-client",
  });
  writePair(dir, CERT_FILES.controllerCert, CERT_FILES.controllerKey, pair);
}

/** A node's certificate (CN kcore-node-<name>) issued locally by a CA on this machine. */
export async function ensureNodeCert(dataDir: string, ca: Signer, nodeName: string): Promise<void> {
  const dir = certsDir(dataDir);
  if (existsSync(join(dir, CERT_FILES.nodeCert))) return;
  const pair = await issue(ca, {
    commonName: `${NODE_CN_PREFIX}${nodeName}`,
    dnsNames: [nodeName, hostname(), "localhost"],
    ipAddresses: LOCAL_IPS,
    usage: "server-and-client",
  });
  writePair(dir, CERT_FILES.nodeCert, CERT_FILES.nodeKey, pair);
}

/** A fresh kctl admin identity (CN kctl). */
export async function issueAdmin(ca: Signer): Promise<CertKeyPair> {
  return issue(ca, { commonName: ADMIN_CN, usage: "client" });
}
