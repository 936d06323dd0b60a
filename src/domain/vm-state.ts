import { err, ok, type Result } from "./result.js";

/** A VM's lifecycle state, as `status.state` shows it. */
export type VmState =
  | "Pending"
  | "Provisioning"
  | "Starting"
  | "Running"
  | "Stopping"
  | "Stopped"
  | "Failed"
  | "Unknown";
export const VM_STATES: readonly VmState[] = [
  "Pending",
  "Provisioning",
  "Starting",
  "Running",
  "Stopping",
  "Stopped",
  "Failed",
  "Unknown",
];

/** What the node sees of the hypervisor (from its API socket, its process, its state files). */
export type Observed =
  | { readonly kind: "absent" }
  | { readonly kind: "created" }
  | { readonly kind: "running" }
  | { readonly kind: "paused" }
  | { readonly kind: "shutdown" }
  | { readonly kind: "unreachable"; readonly reason: string };
export type ObservedKind = Observed["kind"];

export interface VmLifecycle {
  readonly state: VmState;
  readonly message: string;
  /** RFC 3339: when `state` last changed. */
  readonly lastTransitionTime: string;
}

/** Moves the lifecycle allows. */
const ALLOWED: Readonly<Record<VmState, readonly VmState[]>> = {
  Pending: ["Provisioning", "Stopped", "Failed", "Unknown"],
  Provisioning: ["Starting", "Stopped", "Failed", "Unknown"],
  Starting: ["Running", "Stopping", "Stopped", "Failed", "Unknown"],
  Running: ["Stopping", "Stopped", "Failed", "Unknown"],
  Stopping: ["Stopped", "Failed", "Unknown"],
  Stopped: ["Provisioning", "Starting", "Failed", "Unknown"],
  Failed: ["Provisioning", "Starting", "Stopped", "Unknown"],
  Unknown: ["Starting", "Running", "Stopping", "Stopped", "Failed"],
};

/** Which hypervisor observations each state may be reported with. */
const CONSISTENT: Readonly<Record<VmState, readonly ObservedKind[]>> = {
  Pending: ["absent"],
  Provisioning: ["absent"],
  Starting: ["absent", "created", "running"],
  // A VM paused in the hypervisor (by hand, or for a snapshot) is still up: Running, with a message.
  Running: ["running", "paused"],
  Stopping: ["running", "paused", "created", "shutdown"],
  Stopped: ["absent", "created", "shutdown"],
  Failed: ["absent", "created", "shutdown"],
  Unknown: ["unreachable"],
};

export function canMove(from: VmState, to: VmState): boolean {
  return from === to || ALLOWED[from].includes(to);
}

export function consistentWith(state: VmState, observed: Observed): boolean {
  return CONSISTENT[state].includes(observed.kind);
}

/**
 * The one transition function for VMs: the move must be allowed and agree with what the
 * hypervisor shows. The transition time changes only when the state does.
 */
export function transitionVm(
  current: VmLifecycle,
  to: VmState,
  observed: Observed,
  now: Date,
  message: string,
): Result<VmLifecycle, string> {
  if (!canMove(current.state, to)) return err(`a VM cannot go from ${current.state} to ${to}`);
  if (!consistentWith(to, observed))
    return err(`state ${to} does not agree with the hypervisor, which is ${observed.kind}`);
  return ok({
    state: to,
    message,
    lastTransitionTime: to === current.state ? current.lastTransitionTime : now.toISOString(),
  });
}
