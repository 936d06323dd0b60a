import type { SshKeySpec, SshKeyStatus } from "../domain/ssh-key.js";
import type { Db } from "./database.js";
import type { GroupCommitter } from "./group-commit.js";
import { ResourceStore } from "./resource-store.js";

/** SshKeys in SQLite; VMs name them, and the controller resolves them for the node. */
export class SshKeyStore extends ResourceStore<SshKeySpec, SshKeyStatus> {
  constructor(db: Db, commit: GroupCommitter) {
    super(db, commit, { table: "ssh_keys", kind: "SshKey", initialStatus: {}, nodeOf: () => "" });
  }
}
