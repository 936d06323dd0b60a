import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { assertNever } from "../../domain/assert-never.js";
import type { Vm } from "../../domain/vm.js";
import { gateHostPath } from "../../util/path-gate.js";
import type { PlanDisk, VmPlan } from "../../vm/driver.js";
import { writeSeedImage } from "./cloud-init.js";
import { createOverlay, type ImageCache } from "./images.js";
import type { VmPaths } from "./vm-layout.js";

/** A stable, locally administered MAC address for a VM incarnation. */
export function macFor(uid: string): string {
  const h = createHash("sha256").update(uid).digest();
  const bytes = [0x52, 0x54, 0x00, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

export interface ProvisionDeps {
  readonly dataDir: string;
  readonly images: ImageCache;
  /** Reports progress for `status.message` ("downloading disk root: 40%"). */
  readonly progress: (message: string) => void;
}

/**
 * Makes everything a VM needs on this node: node-local paths through the path gate, images
 * downloaded and verified, one copy-on-write overlay per disk, and the cloud-init seed. Disks
 * that exist already (a restart, a restarted agent) are kept as they are.
 */
export async function provisionVm(
  vm: Vm,
  sshPublicKeys: readonly string[],
  paths: VmPaths,
  deps: ProvisionDeps,
): Promise<VmPlan> {
  const spec = vm.spec;
  const forbidden = [deps.dataDir];
  const boot = spec.boot;
  let planBoot: VmPlan["boot"];
  switch (boot.kind) {
    case "kernel":
      planBoot = {
        kind: "kernel",
        kernel: gateHostPath("spec.boot.kernel", boot.kernel, "file", forbidden),
        cmdline: boot.cmdline,
        ...(boot.initrd === undefined
          ? {}
          : { initrd: gateHostPath("spec.boot.initrd", boot.initrd, "file", forbidden) }),
      };
      break;
    case "firmware":
      planBoot = {
        kind: "firmware",
        firmware: gateHostPath("spec.boot.firmware", boot.firmware, "file", forbidden),
      };
      break;
    default:
      return assertNever(boot, "boot");
  }
  mkdirSync(paths.diskDir, { recursive: true, mode: 0o700 });
  const disks: PlanDisk[] = [];
  for (const [i, d] of spec.disks.entries()) {
    const overlay = join(paths.diskDir, `${d.name}.qcow2`);
    if (!existsSync(overlay)) {
      let base: string;
      switch (d.source.kind) {
        case "image": {
          let last = 0;
          base = await deps.images.ensure(d.source.url, d.source.sha256, (done, total) => {
            const now = Date.now();
            if (now - last < 1000) return;
            last = now;
            const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
            deps.progress(
              total === undefined
                ? `downloading disk ${d.name}: ${mib(done)}`
                : `downloading disk ${d.name}: ${Math.floor((done * 100) / total)}% (${mib(done)} of ${mib(total)})`,
            );
          });
          break;
        }
        case "path":
          base = gateHostPath(`spec.disks[${i}].path`, d.source.path, "file", forbidden);
          break;
        default:
          return assertNever(d.source, "disk source");
      }
      await createOverlay(base, d.format, overlay, d.sizeBytes);
    }
    disks.push({ path: overlay, format: "qcow2", readOnly: d.readOnly });
  }
  const wantsSeed = spec.cloudInit.userData !== undefined || sshPublicKeys.length > 0;
  if (wantsSeed) {
    mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
    await writeSeedImage(paths.seed, {
      instanceId: vm.metadata.uid,
      hostname: vm.metadata.name,
      sshPublicKeys,
      ...(spec.cloudInit.userData === undefined ? {} : { userData: spec.cloudInit.userData }),
    });
    disks.push({ path: paths.seed, format: "raw", readOnly: true });
  }
  return {
    name: vm.metadata.name,
    uid: vm.metadata.uid,
    cpus: spec.cpus,
    memoryBytes: spec.memoryBytes,
    boot: planBoot,
    disks,
  };
}
