import { existsSync } from "node:fs";
import { KcoreError } from "../../domain/errors.js";
import { userCommonName } from "../../domain/identity.js";
import { parseName } from "../../domain/names.js";
import { AccessService } from "../../gen/kcore/v1/access_pb.js";
import { configPath, contextFromPems, loadConfig, resolveContext, saveConfig } from "../config.js";
import { connect, type GlobalFlags } from "../connect.js";
import { out } from "../output.js";

export interface CreateUserFlags {
  readonly role: string;
  /** A kctl config file for the new user, instead of a context in this one. */
  readonly out?: string;
  readonly force: boolean;
}

/**
 * `kctl create user NAME --role admin|viewer [--out FILE]`: a key made here (run it where the
 * identity will be used), its request signed by the controller's CA, and a kctl context for it:
 * in FILE (mode 0600), or added to this kctl's config under the user's name.
 */
export async function createUser(
  name: string,
  f: CreateUserFlags,
  flags: GlobalFlags,
): Promise<void> {
  const user = parseName("NAME", name);
  const role = f.role;
  if (role !== "admin" && role !== "viewer")
    throw new KcoreError(
      "InvalidArgument",
      `--role: invalid value ${JSON.stringify(role)}: expected admin or viewer`,
    );
  const target = f.out ?? configPath();
  if (f.out !== undefined && existsSync(f.out) && !f.force)
    throw new KcoreError("AlreadyExists", `${f.out} already exists: use --force to replace it`);
  if (f.out === undefined && loadConfig().contexts?.[user] !== undefined && !f.force)
    throw new KcoreError(
      "AlreadyExists",
      `context '${user}' already exists in ${target}: use --force to replace it`,
    );
  const from = resolveContext(flags.context);
  const { createCsr } = await import("../../pki/pki.js");
  const { csrPem, keyPem } = await createCsr(userCommonName(role, user));
  const c = connect(AccessService, flags);
  let signed: { certificatePem: string; caCertificatePem: string };
  try {
    signed = await c.signUserCertificate({ csrPem, role });
  } finally {
    c.close();
  }
  const ctx = contextFromPems(
    from.addresses[0] ?? "",
    signed.caCertificatePem,
    signed.certificatePem,
    keyPem,
  );
  if (f.out !== undefined) {
    saveConfig({ "current-context": user, contexts: { [user]: ctx } }, f.out);
    out.line(`user '${user}' (${role}) written to ${f.out}: KCTL_CONFIG=${f.out} kctl get nodes`);
  } else {
    const config = loadConfig();
    saveConfig({ ...config, contexts: { ...(config.contexts ?? {}), [user]: ctx } });
    out.line(
      `user '${user}' (${role}) added to ${target} as context '${user}': kctl --context ${user} get nodes`,
    );
  }
}
