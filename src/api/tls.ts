import { credentials, ServerCredentials, type ChannelCredentials } from "@grpc/grpc-js";
import type { PeerCertificate, SecureContextOptions } from "node:tls";
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

/**
 * Server credentials whose certificate, trusted CA and CRLs can be replaced while serving: new
 * handshakes use the new material, open connections keep theirs (unless cut). Client
 * certificates are required and checked against the CA and the CRLs at the handshake.
 */
export class ReloadableServerCredentials extends ServerCredentials {
  /** `clientCerts: false` serves without asking for a client certificate (the join port). */
  constructor(
    material: TlsMaterial & { readonly crlPems?: readonly string[] },
    clientCerts = true,
  ) {
    super(
      clientCerts ? { requestCert: true, rejectUnauthorized: true } : { requestCert: false },
      contextOptions(material),
    );
  }

  reload(material: TlsMaterial & { readonly crlPems?: readonly string[] }): void {
    this.updateSecureContextOptions(contextOptions(material));
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

function contextOptions(
  m: TlsMaterial & { readonly crlPems?: readonly string[] },
): SecureContextOptions {
  return {
    ca: m.caPem,
    cert: m.certPem,
    key: m.keyPem,
    ...(m.crlPems && m.crlPems.length > 0 ? { crl: [...m.crlPems] } : {}),
  };
}

/**
 * Whom a client expects to reach, checked against the server certificate's CN: any controller,
 * or the agent of one node (the controller's calls to agents are bound to the node's identity).
 */
export type ExpectedServer = "controller" | { readonly node: string };

function expectedMatches(expect: ExpectedServer, cn: string): boolean {
  return expect === "controller"
    ? cn.startsWith(CONTROLLER_CN_PREFIX) && cn.length > CONTROLLER_CN_PREFIX.length
    : cn === `${NODE_CN_PREFIX}${expect.node}`;
}

/**
 * Client credentials. The server is trusted when the cluster CA signed it and its CN names the
 * expected peer; host names are not checked, so one controller certificate serves every address.
 */
export function clientCredentials(tls: TlsMaterial, expect: ExpectedServer): ChannelCredentials {
  const wanted = expect === "controller" ? "a kcore controller" : `node '${expect.node}'`;
  return credentials.createSsl(
    Buffer.from(tls.caPem),
    Buffer.from(tls.keyPem),
    Buffer.from(tls.certPem),
    {
      checkServerIdentity: (_host: string, cert: PeerCertificate) =>
        typeof cert.subject.CN === "string" && expectedMatches(expect, cert.subject.CN)
          ? undefined
          : new Error(`server certificate CN ${JSON.stringify(cert.subject.CN)} is not ${wanted}`),
    },
  );
}
