import { parseName } from "../../src/domain/names.js";
import type { NixosVm } from "../../src/domain/nixos-module.js";

/** A typical VM as the NixOS module receives it: kernel boot, one overlay, a seed. */
export function typicalNixosVm(name: string, over: Partial<NixosVm> = {}): NixosVm {
  return {
    name: parseName("name", name),
    uid: `00000000-0000-4000-8000-${String(name.length).padStart(12, "0")}`,
    cpus: 2,
    memoryBytes: 1024 * 1024 * 1024,
    boot: {
      kind: "kernel",
      kernel: "/var/lib/images/vmlinuz",
      initrd: "/var/lib/images/initrd.img",
      cmdline: "console=ttyS0",
    },
    disks: [{ path: `/var/lib/kcore/disks/${name}/root.qcow2`, format: "qcow2", readOnly: false }],
    cloudInitSeed: `/var/lib/kcore/vms/${name}/seed.iso`,
    mac: "52:54:00:12:34:56",
    apiSocket: `/run/kcore/${name}.sock`,
    serialSocket: `/run/kcore/${name}.serial.sock`,
    desiredState: "Running",
    ...over,
  };
}
