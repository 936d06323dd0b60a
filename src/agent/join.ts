import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, type ChannelCredentials } from "@grpc/grpc-js";
import { createClient } from "../api/grpc-client.js";
import { KcoreError } from "../domain/errors.js";
import { CONTROLLER_CN_PREFIX, NODE_CN_PREFIX } from "../domain/identity.js";
import { parseJoinToken } from "../domain/join-token.js";
import { JoinService } from "../gen/kcore/v1/access_pb.js";
import { CERT_FILES, certsDir } from "../pki/cert-files.js";
import { writeFileAtomic } from "../util/atomic-file.js";

/** Where a joined agent remembers the controller's API address (`host:port`). */
export const CONTROLLER_ADDRESS_FILE = "controller-address";

/** The controller address a node saved when it joined, if it did. */
export function savedControllerAddress(dataDir: string): string | undefined {
  const file = join(dataDir, CONTROLLER_ADDRESS_FILE);
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
}

function splitHostPort(field: string, address: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(address);
  const port = Number(m?.[2]);
  if (!m?.[1] || port < 1 || port > 65535)
    throw new KcoreError(
      "InvalidArgument",
      `${field}: expected HOST:PORT, got ${JSON.stringify(address)}`,
    );
  return { host: m[1], port };
}

function sha256OfPem(pem: string): string {
  const b64 = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem)?.[1];
  if (b64 === undefined)
    throw new KcoreError("Unavailable", "the controller sent no CA certificate");
  return createHash("sha256")
    .update(Buffer.from(b64.replace(/\s+/g, ""), "base64"))
    .digest("hex");
}

/** TLS that trusts `caPem` and checks that the server is a kcore controller; no client certificate. */
function controllerCredentials(caPem: string | null): ChannelCredentials {
  return credentials.createSsl(caPem === null ? null : Buffer.from(caPem), null, null, {
    // Before the CA is known (its hash is checked against the token instead), nothing is trusted.
    ...(caPem === null ? { rejectUnauthorized: false } : {}),
    checkServerIdentity: (_host, cert) =>
      caPem === null ||
      (typeof cert.subject.CN === "string" && cert.subject.CN.startsWith(CONTROLLER_CN_PREFIX))
        ? undefined
        : new Error(
            `server certificate CN ${JSON.stringify(cert.subject.CN)} is not a kcore controller`,
          ),
  });
}

/**
 * Joins a cluster with a bootstrap token: fetches the root CA from the join port and checks it
 * against the hash in the token, makes the node's key here and sends only a CSR (over TLS that
 * trusts that CA), and writes the key (0600), the certificate and the CA into the data
 * directory. Returns the controller's API address.
 */
export async function joinCluster(o: {
  dataDir: string;
  joinAddress: string;
  token: string;
  nodeName: string;
}): Promise<string> {
  const token = parseJoinToken("--token", o.token);
  const { host } = splitHostPort("--join", o.joinAddress);
  const probe = createClient(JoinService, o.joinAddress, controllerCredentials(null));
  let caPem: string;
  try {
    caPem = (await probe.clusterInfo({}, { timeoutMs: 15_000 })).caCertificatePem;
  } finally {
    probe.close();
  }
  const got = sha256OfPem(caPem);
  if (got !== token.caSha256)
    throw new KcoreError(
      "PermissionDenied",
      `the cluster at ${o.joinAddress} has CA sha256 ${got}, but the token is for ${token.caSha256}: wrong address, or someone in between`,
    );
  const { createCsr } = await import("../pki/pki.js");
  const { csrPem, keyPem } = await createCsr(`${NODE_CN_PREFIX}${o.nodeName}`);
  const client = createClient(JoinService, o.joinAddress, controllerCredentials(caPem));
  let res;
  try {
    res = await client.join({ token: o.token.trim(), csrPem }, { timeoutMs: 30_000 });
  } finally {
    client.close();
  }
  const { certFitsKey } = await import("../pki/pki.js");
  if (!certFitsKey(res.certificatePem, keyPem, `${NODE_CN_PREFIX}${o.nodeName}`))
    throw new KcoreError(
      "Unavailable",
      "the controller returned a certificate that is not for this node's name and key",
    );
  const dir = certsDir(o.dataDir);
  writeFileAtomic(join(dir, CERT_FILES.nodeKey), keyPem, 0o600);
  writeFileAtomic(join(dir, CERT_FILES.caCert), res.caCertificatePem, 0o644);
  writeFileAtomic(join(dir, CERT_FILES.nodeCert), res.certificatePem, 0o644);
  const controller = `${host}:${res.apiPort}`;
  writeFileAtomic(join(o.dataDir, CONTROLLER_ADDRESS_FILE), `${controller}\n`, 0o644);
  return controller;
}
