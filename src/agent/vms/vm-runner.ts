import type { VmLifecycle } from "../../domain/vm-state.js";
import type { Vm, VmStatus } from "../../domain/vm.js";
import type { SerialRelay } from "./console.js";

/** What the agent keeps on disk about a VM so that a restarted agent picks it up again. */
export interface VmRecord {
  readonly uid: string;
  /** The generation whose spec the running hypervisor was started with. */
  readonly startedGeneration: number;
  /** The hypervisor process, when the agent started it itself (the direct realizer). */
  readonly process?: { readonly pid: number; readonly startTime: string };
  readonly restartCount: number;
  readonly lifecycle: VmLifecycle;
}

/**
 * Runs one VM on this node toward its spec. The direct realizer supervises the hypervisor
 * process itself (VmSupervisor); the nixos realizer leaves that to systemd (NixosVmRunner).
 */
export interface VmRunner {
  readonly vm: Vm;
  /** The serial console, while there is one to attach to. */
  readonly relay: SerialRelay | undefined;
  status(): VmStatus;
  /** Starts running; with a record, picks up where an earlier agent process left off. */
  start(record?: VmRecord): void;
  /** A new generation from the controller. */
  update(vm: Vm): void;
  /** Stops the VM and stops running it. */
  delete(): Promise<void>;
  /** Stops running it; the VM itself keeps running (fail-static). */
  close(): void;
}
