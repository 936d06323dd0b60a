import { homedir } from "node:os";
import { join } from "node:path";

/** `/var/lib/kcore` as root, else `~/.local/share/kcore`. */
export function defaultDataDir(): string {
  return process.getuid?.() === 0 ? "/var/lib/kcore" : join(homedir(), ".local", "share", "kcore");
}

/** Where hypervisor sockets live: `/run/kcore` as root, else a private directory under /tmp. */
export function defaultRunDir(): string {
  const uid = process.getuid?.();
  return uid === 0 ? "/run/kcore" : join("/tmp", `kcore-run-${String(uid ?? "user")}`);
}
