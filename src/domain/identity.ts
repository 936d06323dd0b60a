import { isDnsLabel } from "./names.js";

/** Who is calling, from the peer certificate's common name. */
export type Identity =
  | { readonly kind: "admin" }
  | { readonly kind: "controller"; readonly host: string }
  | { readonly kind: "node"; readonly nodeName: string }
  | { readonly kind: "unknown"; readonly commonName: string };

export const ADMIN_CN = "kctl";
export const CONTROLLER_CN_PREFIX = "kcore-controller-";
export const NODE_CN_PREFIX = "kcore-node-";

/** Maps a certificate common name to an identity; anything unrecognised is `unknown`. */
export function identityFromCommonName(cn: string): Identity {
  if (cn === ADMIN_CN) return { kind: "admin" };
  if (cn.startsWith(CONTROLLER_CN_PREFIX)) {
    const host = cn.slice(CONTROLLER_CN_PREFIX.length);
    if (host.length > 0 && host.length <= 253 && /^[A-Za-z0-9.-]+$/.test(host))
      return { kind: "controller", host };
  }
  if (cn.startsWith(NODE_CN_PREFIX)) {
    const nodeName = cn.slice(NODE_CN_PREFIX.length);
    if (isDnsLabel(nodeName)) return { kind: "node", nodeName };
  }
  return { kind: "unknown", commonName: cn };
}

export function describeIdentity(id: Identity): string {
  switch (id.kind) {
    case "admin":
      return ADMIN_CN;
    case "controller":
      return `${CONTROLLER_CN_PREFIX}${id.host}`;
    case "node":
      return `${NODE_CN_PREFIX}${id.nodeName}`;
    case "unknown":
      return id.commonName;
  }
}
