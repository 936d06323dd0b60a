/**
 * A VM as a node runs it: the spec with every node path resolved and through its gate, disks
 * turned into the VM's own files. What the hypervisor drivers start and what the NixOS module
 * renders.
 */

/** How the VM boots. */
export type PlanBoot =
  | {
      readonly kind: "kernel";
      readonly kernel: string;
      readonly initrd?: string;
      readonly cmdline: string;
    }
  | { readonly kind: "firmware"; readonly firmware: string };

/** One disk file the hypervisor is given. */
export interface PlanDisk {
  readonly path: string;
  readonly format: "raw" | "qcow2";
  readonly readOnly: boolean;
}

/** Everything needed to start one VM, with every path already through its gate. */
export interface VmPlan {
  readonly name: string;
  readonly uid: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly boot: PlanBoot;
  readonly disks: readonly PlanDisk[];
  /** A tap device the agent created, and the MAC address the guest gets. */
  readonly tap?: { readonly name: string; readonly mac: string };
}
