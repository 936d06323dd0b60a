import { join } from "node:path";
import { REPO } from "./fixtures.js";

/** The Cloud Hypervisor simulator's entry point (built with the tests). */
export const CH_SIM = join(REPO, "dist", "test", "ch-sim", "main.js");

/** Agent flags that make a node run its VMs under Cloud Hypervisor, played by the simulator. */
export function chSimAgentArgs(): string[] {
  return [
    "--hypervisor",
    "cloud-hypervisor",
    "--cloud-hypervisor",
    `${process.execPath} ${CH_SIM}`,
  ];
}
