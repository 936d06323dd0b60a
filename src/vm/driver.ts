import type { VmPlan } from "../domain/vm-plan.js";
import type { Observed } from "../domain/vm-state.js";

export type HypervisorKind = "qemu" | "cloud-hypervisor";

export type { PlanBoot, PlanDisk, VmPlan } from "../domain/vm-plan.js";

/** Where one VM's hypervisor keeps its sockets and files. */
export interface VmRuntimePaths {
  /** The hypervisor's control socket: CH's API socket, or QEMU's QMP socket. */
  readonly controlSocket: string;
  /** The serial console's socket; never a control socket. */
  readonly serialSocket: string;
  /** Serial console output, bounded by the agent. */
  readonly consoleLog: string;
  /** The hypervisor's own stdout and stderr. */
  readonly hypervisorLog: string;
  /** CH's event monitor file. */
  readonly eventsFile: string;
}

/** A hypervisor process the agent started or adopted. */
export interface VmProcess {
  readonly pid: number;
  /** Kernel start time: tells this process from a later one with the same pid. */
  readonly startTime: string;
  /** What the hypervisor shows now. Never throws: failures are `unreachable`. */
  observe(): Promise<Observed>;
  /** Asks the guest to shut down (ACPI power button). */
  powerButton(): Promise<void>;
  /** Stops the VM at once and ends the hypervisor process. */
  forceStop(): Promise<void>;
  /** Whether the console log is written by the hypervisor itself (else the agent relays it). */
  readonly logsItself: boolean;
}

/** One hypervisor: starts VMs and re-attaches to the ones it started before. */
export interface HypervisorDriver {
  readonly kind: HypervisorKind;
  /** Starts a hypervisor process running the plan; resolves once its control socket answers. */
  start(plan: VmPlan, paths: VmRuntimePaths, signal?: AbortSignal): Promise<VmProcess>;
  /** Re-attaches to a hypervisor process started earlier, or undefined when it is gone. */
  adopt(paths: VmRuntimePaths, pid: number, startTime: string): VmProcess | undefined;
}
