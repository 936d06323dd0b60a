import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { DEFAULT_BACKOFF } from "./backoff.js";
import {
  canTransition,
  decideAfterExit,
  phaseOf,
  transition,
  type ExitInfo,
  type WorkloadStateKind,
} from "./workload-state.js";

const exit = (
  exitCode: number,
  reason: ExitInfo["reason"] = exitCode === 0 ? "Completed" : "Error",
): ExitInfo => ({ exitCode, reason, message: "", startedAt: "", finishedAt: "" });

test("Always restarts after success and failure; OnFailure only after failure; Never never", () => {
  assert.equal(decideAfterExit("Always", exit(0), 0, 1000, DEFAULT_BACKOFF).kind, "restart");
  assert.equal(decideAfterExit("Always", exit(3), 0, 1000, DEFAULT_BACKOFF).kind, "restart");
  assert.deepEqual(decideAfterExit("OnFailure", exit(0), 0, 1000, DEFAULT_BACKOFF), {
    kind: "done",
    phase: "Succeeded",
  });
  assert.equal(decideAfterExit("OnFailure", exit(1), 0, 1000, DEFAULT_BACKOFF).kind, "restart");
  assert.deepEqual(decideAfterExit("Never", exit(0), 0, 1000, DEFAULT_BACKOFF), {
    kind: "done",
    phase: "Succeeded",
  });
  assert.deepEqual(decideAfterExit("Never", exit(2), 0, 1000, DEFAULT_BACKOFF), {
    kind: "done",
    phase: "Failed",
  });
  assert.deepEqual(decideAfterExit("Never", exit(137, "OOMKilled"), 0, 1000, DEFAULT_BACKOFF), {
    kind: "done",
    phase: "Failed",
  });
});

test("a terminated module reports its real exit code's phase and reason", () => {
  assert.deepEqual(phaseOf({ kind: "Terminated", last: exit(0) }), {
    phase: "Succeeded",
    reason: "Completed",
  });
  assert.deepEqual(phaseOf({ kind: "Terminated", last: exit(42) }), {
    phase: "Failed",
    reason: "Error",
  });
  assert.deepEqual(phaseOf({ kind: "BackOff", restartAtMs: 0, last: exit(1) }), {
    phase: "Running",
    reason: "CrashLoopBackOff",
  });
});

const kinds: WorkloadStateKind[] = [
  "Waiting",
  "Running",
  "BackOff",
  "Terminating",
  "Terminated",
  "SetupFailed",
];

test("the transition function refuses every move the lifecycle does not allow", () => {
  fc.assert(
    fc.property(fc.constantFrom(...kinds), fc.constantFrom(...kinds), (from, to) => {
      const states = {
        Waiting: { kind: "Waiting", reason: "ContainerCreating" },
        Running: { kind: "Running", pid: 1, startedAt: "" },
        BackOff: { kind: "BackOff", restartAtMs: 0, last: exit(1) },
        Terminating: { kind: "Terminating", pid: 1, startedAt: "", killAtMs: 0 },
        Terminated: { kind: "Terminated", last: exit(0) },
        SetupFailed: { kind: "SetupFailed", reason: "ModuleNotFound", message: "" },
      } as const;
      if (canTransition(from, to)) assert.equal(transition(states[from], states[to]).kind, to);
      else assert.throws(() => transition(states[from], states[to]), /Invalid workload transition/);
    }),
  );
  assert.equal(canTransition("Terminating", "Running"), false);
  assert.equal(canTransition("Terminated", "Running"), false);
});
