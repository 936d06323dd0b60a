import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type Accel = "kvm" | "tcg";

/** QEMU's exit status when the probe guest writes 0x31 to isa-debug-exit: (0x31 << 1) | 1. */
const PROBE_EXIT = 99;

/**
 * A boot sector that writes 0x31 to port 0xf4 (QEMU's isa-debug-exit device), which ends QEMU
 * with status 99: proof that the firmware ran to the end and booted guest code.
 */
function probeDisk(): Buffer {
  const mbr = Buffer.alloc(512);
  // mov al, 0x31; out 0xf4, al; hlt; jmp $-1
  Buffer.from([0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(mbr, 0);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

/**
 * Whether guests really run under `accel`: boots the firmware and a boot sector that exits
 * through the debug port. The presence of /dev/kvm proves nothing: on hosts where KVM guests
 * hang (the firmware stalls in its option ROMs), the probe times out and the answer is false.
 */
export async function probeAccel(qemu: string, accel: Accel, timeoutMs = 3000): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), "kcore-accel-"));
  try {
    const disk = join(dir, "probe.img");
    writeFileSync(disk, probeDisk());
    const child = spawn(
      qemu,
      [
        "-accel",
        accel,
        "-machine",
        "pc",
        "-m",
        "16",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-drive",
        `file=${disk},format=raw,if=ide`,
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
      ],
      { stdio: "ignore" },
    );
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(null);
      }, timeoutMs);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
      child.on("error", () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    return code === PROBE_EXIT;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `--accel auto`: KVM when a guest really runs under it, else TCG (software emulation). */
export async function chooseAccel(qemu: string, wanted: Accel | "auto"): Promise<Accel> {
  if (wanted !== "auto") return wanted;
  return (await probeAccel(qemu, "kvm")) ? "kvm" : "tcg";
}
