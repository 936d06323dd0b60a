import { assertNever } from "./assert-never.js";
import { backoffDelay, nextStreak, type BackoffPolicy } from "./backoff.js";
import type { RestartPolicy, WorkloadPhase } from "./wasm-workload.js";

/** Why a module's process ended, as reported in `status.reason`. */
export type ExitReason = "Completed" | "Error" | "OOMKilled" | "Killed";

export interface ExitInfo {
  readonly exitCode: number;
  readonly reason: ExitReason;
  readonly message: string;
  readonly startedAt: string;
  readonly finishedAt: string;
}

/** The lifecycle of one workload on a node, as the agent's supervisor tracks it. */
export type WorkloadState =
  | { readonly kind: "Waiting"; readonly reason: "ContainerCreating" | "ModuleFetching" }
  | { readonly kind: "Running"; readonly pid: number; readonly startedAt: string }
  | { readonly kind: "BackOff"; readonly restartAtMs: number; readonly last: ExitInfo }
  | {
      readonly kind: "Terminating";
      readonly pid: number;
      readonly startedAt: string;
      readonly killAtMs: number;
    }
  | { readonly kind: "Terminated"; readonly last: ExitInfo }
  | {
      readonly kind: "SetupFailed";
      readonly reason: "ModuleNotFound" | "InvalidModule" | "VolumeError";
      readonly message: string;
    };

export type WorkloadStateKind = WorkloadState["kind"];

const ALLOWED: Readonly<Record<WorkloadStateKind, readonly WorkloadStateKind[]>> = {
  Waiting: ["Waiting", "Running", "SetupFailed", "Terminated"],
  Running: ["Terminating", "BackOff", "Terminated"],
  BackOff: ["Waiting", "Running", "Terminated", "SetupFailed"],
  Terminating: ["Terminated"],
  Terminated: ["Waiting"],
  SetupFailed: ["Waiting", "SetupFailed", "Terminated"],
};

/** True when a workload may move from `from` to `to`. */
export function canTransition(from: WorkloadStateKind, to: WorkloadStateKind): boolean {
  return ALLOWED[from].includes(to);
}

/** The one transition function: refuses moves the lifecycle does not allow. */
export function transition(from: WorkloadState, to: WorkloadState): WorkloadState {
  if (!canTransition(from.kind, to.kind)) {
    throw new Error(`Invalid workload transition ${from.kind} -> ${to.kind}`);
  }
  return to;
}

/** What to do after a process ended. */
export type ExitDecision =
  | { readonly kind: "restart"; readonly delayMs: number; readonly streak: number }
  | { readonly kind: "done"; readonly phase: "Succeeded" | "Failed" };

/** Applies the restart policy and the crash-loop backoff to an exit. */
export function decideAfterExit(
  policy: RestartPolicy,
  exit: ExitInfo,
  streak: number,
  ranMs: number,
  backoff: BackoffPolicy,
): ExitDecision {
  const succeeded = exit.exitCode === 0 && exit.reason === "Completed";
  const restart = (): ExitDecision => {
    const s = nextStreak(backoff, streak, ranMs);
    return { kind: "restart", delayMs: backoffDelay(backoff, s), streak: s };
  };
  switch (policy) {
    case "Always":
      return restart();
    case "OnFailure":
      return succeeded ? { kind: "done", phase: "Succeeded" } : restart();
    case "Never":
      return { kind: "done", phase: succeeded ? "Succeeded" : "Failed" };
    default:
      return assertNever(policy, "restart policy");
  }
}

/** How a state shows in `status`: the phase and the reason. */
export function phaseOf(state: WorkloadState): {
  readonly phase: WorkloadPhase;
  readonly reason: string;
} {
  switch (state.kind) {
    case "Waiting":
      return { phase: "Pending", reason: state.reason };
    case "Running":
      return { phase: "Running", reason: "" };
    case "BackOff":
      return { phase: "Running", reason: "CrashLoopBackOff" };
    case "Terminating":
      return { phase: "Running", reason: "Terminating" };
    case "Terminated":
      return {
        phase:
          state.last.exitCode === 0 && state.last.reason === "Completed" ? "Succeeded" : "Failed",
        reason: state.last.reason,
      };
    case "SetupFailed":
      return { phase: "Failed", reason: state.reason };
    default:
      return assertNever(state, "workload state");
  }
}
