import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { KcoreError } from "../../domain/errors.js";
import {
  CERT_FILES,
  certsDir,
  ensureCa,
  ensureControllerCert,
  issueAdmin,
  RETIRED_DIR,
} from "../../pki/pki-files.js";
import { configPath, contextFromPems, loadConfig, upsertContext } from "../config.js";
import { out } from "../output.js";

export interface CreateClusterFlags {
  readonly controller: string;
  readonly context: string;
  readonly force: boolean;
  readonly dataDir: string;
}

/**
 * Creates the cluster's PKI in the controller's data directory (CA and controller certificate)
 * and a kctl admin identity, and writes the context.
 */
export async function createCluster(f: CreateClusterFlags): Promise<void> {
  const m = /^(.+):(\d{1,5})$/.exec(f.controller);
  if (!m?.[1])
    throw new KcoreError(
      "InvalidArgument",
      `--controller: expected HOST:PORT, got ${JSON.stringify(f.controller)}`,
    );
  const host = m[1].replace(/^\[|\]$/g, "");
  const dir = certsDir(f.dataDir);
  const exists = existsSync(join(dir, CERT_FILES.caCert));
  const ctxExists = loadConfig().contexts?.[f.context] !== undefined;
  if ((exists || ctxExists) && !f.force) {
    throw new KcoreError(
      "AlreadyExists",
      exists
        ? `a cluster CA already exists in ${dir}: use --force to replace it`
        : `context '${f.context}' already exists in ${configPath()}: use --force to replace it`,
    );
  }
  if (exists && f.force) {
    for (const file of Object.values(CERT_FILES)) rmSync(join(dir, file), { force: true });
    rmSync(join(dir, RETIRED_DIR), { recursive: true, force: true });
  }
  const { root, issuer } = await ensureCa(f.dataDir);
  await ensureControllerCert(f.dataDir, issuer, host === "0.0.0.0" ? [] : [host]);
  const admin = await issueAdmin(issuer);
  upsertContext(
    f.context,
    contextFromPems(f.controller, root.certPem, admin.certPem, admin.keyPem),
  );
  out.line(`cluster PKI created in ${dir}`);
  out.line(`context '${f.context}' written to ${configPath()}`);
  out.line(`next: kcore controller --data-dir ${f.dataDir}`);
}
