import { execFileSync } from "node:child_process";
import { KcoreError } from "../domain/errors.js";
import { CloudHypervisorDriver } from "./cloud-hypervisor/driver.js";
import type { HypervisorDriver } from "./driver.js";
import { chooseAccel } from "./qemu/accel.js";
import { QemuDriver } from "./qemu/driver.js";

function onPath(binary: string): boolean {
  try {
    execFileSync("sh", ["-c", 'command -v "$1"', "sh", binary], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export interface HypervisorChoice {
  /** `cloud-hypervisor`, `qemu`, or `auto` (cloud-hypervisor when installed, else qemu). */
  readonly hypervisor: string;
  /** `kvm`, `tcg` or `auto` (KVM when a probe guest really runs, else TCG). */
  readonly accel: string;
  /** The cloud-hypervisor command (a path, or a command with arguments). */
  readonly chCommand: readonly string[];
}

/** The node's hypervisor driver, as `--hypervisor` and `--accel` ask. */
export async function selectHypervisor(c: HypervisorChoice): Promise<HypervisorDriver> {
  const accel = c.accel;
  if (accel !== "auto" && accel !== "kvm" && accel !== "tcg")
    throw new KcoreError(
      "InvalidArgument",
      `--accel: invalid value ${JSON.stringify(accel)}: expected kvm, tcg or auto`,
    );
  const chBinary = c.chCommand[0] ?? "cloud-hypervisor";
  let kind = c.hypervisor;
  if (kind === "auto") kind = onPath(chBinary) ? "cloud-hypervisor" : "qemu";
  switch (kind) {
    case "cloud-hypervisor":
      return new CloudHypervisorDriver(c.chCommand);
    case "qemu":
      return new QemuDriver("qemu-system-x86_64", await chooseAccel("qemu-system-x86_64", accel));
    default:
      throw new KcoreError(
        "InvalidArgument",
        `--hypervisor: invalid value ${JSON.stringify(c.hypervisor)}: expected cloud-hypervisor, qemu or auto`,
      );
  }
}
