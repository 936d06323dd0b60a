import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TlsMaterial } from "../api/tls.js";

/** File names under `<data-dir>/certs`. Keys are mode 0600, the directory 0700. */
export const CERT_FILES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  /** The CA that signs every leaf; the root signs only intermediates (and its CRL). */
  intermediateCert: "intermediate.crt",
  intermediateKey: "intermediate.key",
  controllerCert: "controller.crt",
  controllerKey: "controller.key",
  nodeCert: "node.crt",
  nodeKey: "node.key",
} as const;

/** Intermediates replaced by `kctl rotate intermediate`, kept to sign CRLs for what they issued. */
export const RETIRED_DIR = "retired";

export function certsDir(dataDir: string): string {
  return join(dataDir, "certs");
}

export function readPem(dir: string, name: string): string {
  return readFileSync(join(dir, name), "utf8");
}

/** The CA certificate and one identity's certificate and key from a data directory. */
export function loadTls(dataDir: string, certName: string, keyName: string): TlsMaterial {
  const dir = certsDir(dataDir);
  return {
    caPem: readPem(dir, CERT_FILES.caCert),
    certPem: readPem(dir, certName),
    keyPem: readPem(dir, keyName),
  };
}
