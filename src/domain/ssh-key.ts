import { InvalidFieldError, showValue } from "./errors.js";
import type { ObjectMeta } from "./meta.js";

/** An SSH public key that VMs name in `spec.sshKeys`; cloud-init installs it for the VM's user. */
export interface SshKeySpec {
  readonly publicKey: string;
}

/** SshKeys have no status: nothing runs for them. */
export type SshKeyStatus = Readonly<Record<string, never>>;

export interface SshKey {
  readonly metadata: ObjectMeta;
  readonly spec: SshKeySpec;
}

const KEY_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
]);
const MAX_KEY = 16 * 1024;

/**
 * One OpenSSH public key line: `type base64 [comment]`. Only printable ASCII on one line, so
 * that it can be written into user-data and authorized_keys as it is.
 */
export function parseSshKeySpec(
  field: string,
  raw: { publicKey?: string | undefined },
): SshKeySpec {
  const key = raw.publicKey?.trim();
  if (key === undefined || key === "")
    throw new InvalidFieldError(`${field}.publicKey`, "required: an OpenSSH public key line");
  if (key.length > MAX_KEY || !/^[\x20-\x7e]+$/.test(key))
    throw new InvalidFieldError(
      `${field}.publicKey`,
      `must be one line of printable ASCII, at most ${MAX_KEY} characters`,
    );
  const [type = "", data = ""] = key.split(/ +/);
  if (!KEY_TYPES.has(type))
    throw new InvalidFieldError(
      `${field}.publicKey`,
      `unknown key type ${showValue(type)}: expected one of ${[...KEY_TYPES].join(", ")}`,
    );
  const blob = /^[A-Za-z0-9+/]+={0,2}$/.test(data) ? Buffer.from(data, "base64") : undefined;
  // The blob starts with its own type as a length-prefixed string.
  const inner =
    blob !== undefined && blob.length >= 4 + type.length
      ? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString("latin1")
      : undefined;
  if (inner !== type)
    throw new InvalidFieldError(`${field}.publicKey`, `the key data is not a base64 ${type} key`);
  return { publicKey: key };
}
