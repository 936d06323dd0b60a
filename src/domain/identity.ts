import { isDnsLabel } from "./names.js";

/** What an identity may do: the authorisation table names these for every method. */
export type Role = "admin" | "viewer" | "node" | "controller" | "anonymous";
export const ROLES: readonly Role[] = ["admin", "viewer", "node", "controller", "anonymous"];

/** Roles an operator can be given (`kctl create user NAME --role R`). */
export type UserRole = "admin" | "viewer";

/** Who is calling, from the peer certificate's common name. */
export type Identity =
  | { readonly kind: "admin"; readonly user: string }
  | { readonly kind: "viewer"; readonly user: string }
  | { readonly kind: "controller"; readonly host: string }
  | { readonly kind: "node"; readonly nodeName: string }
  /** No client certificate: only on the controller's join port, for joining with a token. */
  | { readonly kind: "anonymous" }
  | { readonly kind: "unknown"; readonly commonName: string };

/** The cluster creator's admin identity (`kctl create cluster`). */
export const ADMIN_CN = "kctl";
export const CONTROLLER_CN_PREFIX = "kcore-controller-";
export const NODE_CN_PREFIX = "kcore-node-";
/** Operators: `kcore-admin-<name>`, `kcore-viewer-<name>` (name a DNS label). */
export const USER_CN_PREFIX: Readonly<Record<UserRole, string>> = {
  admin: "kcore-admin-",
  viewer: "kcore-viewer-",
};

/** The certificate common name of an operator with `role`. */
export function userCommonName(role: UserRole, user: string): string {
  return `${USER_CN_PREFIX[role]}${user}`;
}

/** Maps a certificate common name to an identity; anything unrecognised is `unknown`. */
export function identityFromCommonName(cn: string): Identity {
  if (cn === ADMIN_CN) return { kind: "admin", user: ADMIN_CN };
  for (const role of ["admin", "viewer"] as const) {
    const prefix = USER_CN_PREFIX[role];
    if (cn.startsWith(prefix)) {
      const user = cn.slice(prefix.length);
      if (isDnsLabel(user)) return { kind: role, user };
    }
  }
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

/** The identity as its certificate names it. */
export function describeIdentity(id: Identity): string {
  switch (id.kind) {
    case "admin":
      return id.user === ADMIN_CN ? ADMIN_CN : userCommonName("admin", id.user);
    case "viewer":
      return userCommonName("viewer", id.user);
    case "controller":
      return `${CONTROLLER_CN_PREFIX}${id.host}`;
    case "node":
      return `${NODE_CN_PREFIX}${id.nodeName}`;
    case "anonymous":
      return "anonymous";
    case "unknown":
      return id.commonName;
  }
}
