import { execFile } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { KcoreError } from "../../domain/errors.js";

const run = promisify(execFile);

export interface SeedContent {
  /** The VM's uid: a new incarnation is a new instance to cloud-init. */
  readonly instanceId: string;
  readonly hostname: string;
  readonly sshPublicKeys: readonly string[];
  readonly userData?: string;
  /** MAC address of the VM's NIC, when it has one. */
  readonly mac?: string;
}

/**
 * The three NoCloud files. meta-data and network-config are built as data and serialised by
 * the YAML library, so no user string is ever spliced into YAML text; user-data is the user's
 * own document, passed through unchanged.
 */
export function seedFiles(
  c: SeedContent,
): Record<"user-data" | "meta-data" | "network-config", string> {
  const metaData = {
    "instance-id": c.instanceId,
    "local-hostname": c.hostname,
    ...(c.sshPublicKeys.length > 0 ? { "public-keys": [...c.sshPublicKeys] } : {}),
  };
  const networkConfig = {
    version: 2,
    ethernets:
      c.mac === undefined
        ? {}
        : { eth0: { match: { macaddress: c.mac }, "set-name": "eth0", dhcp4: true } },
  };
  return {
    "user-data": c.userData ?? "#cloud-config\n{}\n",
    "meta-data": stringify(metaData),
    "network-config": stringify(networkConfig),
  };
}

/** Writes a NoCloud seed image (ISO 9660, volume label `cidata`) atomically at `path`. */
export async function writeSeedImage(path: string, c: SeedContent): Promise<void> {
  const dir = mkdtempSync(join(dirname(path), ".seed-"));
  const tmp = `${path}.tmp`;
  try {
    const files = seedFiles(c);
    for (const [name, text] of Object.entries(files))
      writeFileSync(join(dir, name), text, { mode: 0o600 });
    await run(
      "genisoimage",
      [
        "-quiet",
        "-output",
        tmp,
        "-volid",
        "cidata",
        "-joliet",
        "-rock",
        ...Object.keys(files).map((f) => join(dir, f)),
      ],
      { timeout: 60_000 },
    );
    renameSync(tmp, path);
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new KcoreError(
      "FailedPrecondition",
      `cloud-init seed: genisoimage: ${stderr ?? String(e)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(tmp, { force: true });
  }
}
