import { credentials, ServerCredentials, type ChannelCredentials } from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import { CONTROLLER_CN_PREFIX, NODE_CN_PREFIX } from "../domain/identity.js";

/** PEM material of one identity: its certificate and key, and the cluster CA. */
export interface TlsMaterial {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Server credentials that require a client certificate signed by the cluster CA. */
export function serverCredentials(tls: TlsMaterial): ServerCredentials {
  return ServerCredentials.createSsl(
    Buffer.from(tls.caPem),
    [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) }],
    true,
  );
}

/** Which kind of peer a client expects to reach, checked against the server certificate's CN. */
export type ExpectedServer = "controller" | "node";

/**
 * Client credentials. The server is trusted when the cluster CA signed it and its CN names the
 * expected role; host names are not checked, so one controller certificate serves every address.
 */
export function clientCredentials(tls: TlsMaterial, expect: ExpectedServer): ChannelCredentials {
  const prefix = expect === "controller" ? CONTROLLER_CN_PREFIX : NODE_CN_PREFIX;
  return credentials.createSsl(
    Buffer.from(tls.caPem),
    Buffer.from(tls.keyPem),
    Buffer.from(tls.certPem),
    {
      checkServerIdentity: (_host: string, cert: PeerCertificate) =>
        typeof cert.subject.CN === "string" && cert.subject.CN.startsWith(prefix)
          ? undefined
          : new Error(
              `server certificate CN ${JSON.stringify(cert.subject.CN)} is not a kcore ${expect}`,
            ),
    },
  );
}
