import { NODE_CN_PREFIX } from "../domain/identity.js";
import type { IssueOptions } from "../pki/pki.js";

/** Node certificates are valid for a year unless the controller says otherwise (--node-cert-ttl). */
export const DEFAULT_NODE_CERT_TTL_MS = 365 * 86_400_000;

/** What a node's certificate says: its identity, and the names its agent serves under. */
export function nodeCertOptions(nodeName: string, ttlMs: number, now: Date): IssueOptions {
  return {
    commonName: `${NODE_CN_PREFIX}${nodeName}`,
    dnsNames: [nodeName, "localhost"],
    ipAddresses: ["127.0.0.1", "::1"],
    usage: "server-and-client",
    notAfter: new Date(now.getTime() + ttlMs),
  };
}
