import { existsSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { ADMIN_CN, CONTROLLER_CN_PREFIX, NODE_CN_PREFIX } from "../domain/identity.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { CERT_FILES, certsDir, readPem } from "./cert-files.js";
import { createCa, issue, type CertKeyPair } from "./pki.js";

export { CERT_FILES, certsDir, loadTls, readPem } from "./cert-files.js";

export function writePair(dir: string, certName: string, keyName: string, pair: CertKeyPair): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, keyName), pair.keyPem, 0o600);
  writeFileAtomic(join(dir, certName), pair.certPem, 0o644);
}

/** The CA of a data directory, created when missing. */
export async function ensureCa(dataDir: string): Promise<CertKeyPair> {
  const dir = certsDir(dataDir);
  if (!existsSync(join(dir, CERT_FILES.caCert))) {
    writePair(dir, CERT_FILES.caCert, CERT_FILES.caKey, await createCa("kcore-ca"));
  }
  return { certPem: readPem(dir, CERT_FILES.caCert), keyPem: readPem(dir, CERT_FILES.caKey) };
}

const LOCAL_IPS = ["127.0.0.1", "::1"];

/** The controller's certificate (CN kcore-controller-<host>), created when missing. */
export async function ensureControllerCert(
  dataDir: string,
  ca: CertKeyPair,
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
export async function ensureNodeCert(
  dataDir: string,
  ca: CertKeyPair,
  nodeName: string,
): Promise<void> {
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
export async function issueAdmin(ca: CertKeyPair): Promise<CertKeyPair> {
  return issue(ca, { commonName: ADMIN_CN, usage: "client" });
}
