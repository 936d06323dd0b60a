import { existsSync } from "node:fs";
import { KcoreError } from "../domain/errors.js";
import { userCommonName } from "../domain/identity.js";
import { parseName } from "../domain/names.js";
import { contextFromPems, saveConfig } from "../kctl/config.js";
import { CERT_FILES, certsDir, readPem } from "../pki/cert-files.js";
import { readIntermediate } from "../pki/pki-files.js";
import { defaultDataDir } from "../util/data-dir.js";
import type { KcoreFlags } from "./flags.js";

/**
 * `kcore admin-credentials --name NAME --controller HOST:PORT --out FILE [--data-dir DIR]`:
 * recovery when no admin context is left. Run on the controller's machine by whoever can read
 * its CA keys: issues `kcore-admin-NAME` from the intermediate and writes a kctl config (0600).
 */
export async function adminCredentials(f: KcoreFlags): Promise<number> {
  const dataDir = f["data-dir"] ?? defaultDataDir();
  const name = parseName("--name", f.name ?? "");
  const controller = f.controller;
  const outFile = f.out;
  if (controller === undefined || !/^.+:\d{1,5}$/.test(controller))
    throw new KcoreError("InvalidArgument", "--controller HOST:PORT is required");
  if (outFile === undefined) throw new KcoreError("InvalidArgument", "--out FILE is required");
  if (existsSync(outFile))
    throw new KcoreError("AlreadyExists", `${outFile} already exists: choose another file`);
  let issuer;
  try {
    issuer = readIntermediate(dataDir);
  } catch (e) {
    throw new KcoreError(
      "FailedPrecondition",
      `cannot read the intermediate CA in ${certsDir(dataDir)}: run this on the controller's machine, as the user that owns its data`,
      { cause: e },
    );
  }
  const { issue } = await import("../pki/pki.js");
  const pair = await issue(issuer, { commonName: userCommonName("admin", name), usage: "client" });
  const root = readPem(certsDir(dataDir), CERT_FILES.caCert);
  saveConfig(
    {
      "current-context": name,
      contexts: { [name]: contextFromPems(controller, root, pair.certPem, pair.keyPem) },
    },
    outFile,
  );
  process.stdout.write(
    `admin '${name}' written to ${outFile} (certificate ${pair.serial}; revoke it with kctl certificate revoke ${pair.serial})\n`,
  );
  return 0;
}
