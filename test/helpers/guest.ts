import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/** The line the test guest prints once its userspace runs. */
export const GUEST_MARKER = "KCORE-GUEST-UP";

const DIR = "/tmp/kcore-test-guest";

/**
 * A real guest for QEMU: the Debian kernel from /boot (linux-image-amd64) and an initramfs of
 * busybox-static whose init prints GUEST_MARKER and then echoes each console line back as
 * "echo: LINE" (so that the interactive console can be checked).
 */
export function testGuest(): { kernel: string; initrd: string } {
  const vmlinuz = readdirSync("/boot")
    .filter((f) => f.startsWith("vmlinuz-"))
    .sort()
    .pop();
  if (vmlinuz === undefined) throw new Error("no kernel in /boot: install linux-image-amd64");
  const initrd = join(DIR, "initrd.cpio.gz");
  if (!existsSync(initrd)) {
    const root = join(DIR, `root-${process.pid}`);
    mkdirSync(join(root, "bin"), { recursive: true });
    copyFileSync("/bin/busybox", join(root, "bin", "busybox"));
    writeFileSync(
      join(root, "init"),
      [
        "#!/bin/busybox sh",
        "/bin/busybox mkdir -p /proc",
        "/bin/busybox mount -t proc proc /proc",
        `echo "${GUEST_MARKER} $(/bin/busybox uname -r)"`,
        'while read -r line; do echo "echo: $line"; done',
        "while true; do /bin/busybox sleep 3600; done",
        "",
      ].join("\n"),
    );
    chmodSync(join(root, "init"), 0o755);
    const tmp = `${initrd}.${process.pid}`;
    execFileSync("sh", [
      "-c",
      `cd "${root}" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "${tmp}"`,
    ]);
    renameSync(tmp, initrd);
  }
  return { kernel: join("/boot", vmlinuz), initrd };
}
