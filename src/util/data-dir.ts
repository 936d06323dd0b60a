import { homedir } from "node:os";
import { join } from "node:path";

/** `/var/lib/kcore` as root, else `~/.local/share/kcore`. */
export function defaultDataDir(): string {
  return process.getuid?.() === 0 ? "/var/lib/kcore" : join(homedir(), ".local", "share", "kcore");
}
