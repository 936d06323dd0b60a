import assert from "node:assert/strict";
import { test } from "node:test";
import pino from "pino";
import { DEFAULT_BACKOFF } from "../../domain/backoff.js";
import type { SafeName } from "../../domain/names.js";
import type { ExitInfo } from "../../domain/workload-state.js";
import {
  parseWasmWorkloadSpec,
  PENDING_STATUS,
  type WasmWorkload,
  type WasmWorkloadStatus,
} from "../../domain/wasm-workload.js";
import type { Clock } from "../clock.js";
import { WorkloadSupervisor, type LaunchedProcess, type SupervisorRecord } from "./supervisor.js";

/** A clock whose time moves only when the test says so. */
class FakeClock implements Clock {
  t = Date.parse("2026-01-01T00:00:00Z");
  timers: { at: number; fn: () => void; live: boolean }[] = [];
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): (() => void) => {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  };
  /** Moves time forward, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.t = next.at;
      next.live = false;
      next.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
  /** Delay of the one pending timer. */
  pending(): number[] {
    return this.timers.filter((x) => x.live).map((x) => x.at - this.t);
  }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

class FakeProcess implements LaunchedProcess {
  static nextPid = 100;
  readonly pid = FakeProcess.nextPid++;
  readonly startTime = "1";
  readonly startedAt: string;
  readonly signals: string[] = [];
  resolve!: (e: ExitInfo) => void;
  readonly exited = new Promise<ExitInfo>((r) => {
    this.resolve = r;
  });
  readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
    this.startedAt = new Date(clock.t).toISOString();
  }
  exit(
    exitCode: number,
    reason: ExitInfo["reason"] = exitCode === 0 ? "Completed" : "Error",
  ): void {
    this.resolve({
      exitCode,
      reason,
      message: "",
      startedAt: this.startedAt,
      finishedAt: new Date(this.clock.t).toISOString(),
    });
  }
  requestStop(): void {
    this.signals.push("stop");
  }
  kill(): void {
    this.signals.push("kill");
    this.exit(137, "Killed");
  }
}

function workload(spec: object): WasmWorkload {
  return {
    metadata: {
      name: "w" as SafeName,
      labels: {},
      uid: "00000000-0000-0000-0000-000000000001",
      generation: 1,
      resourceVersion: 1,
      creationTimestamp: "",
    },
    spec: parseWasmWorkloadSpec("spec", { module: { sha256: "a".repeat(64) }, ...spec }),
    status: PENDING_STATUS,
  };
}

function harness(spec: object) {
  const clock = new FakeClock();
  const procs: FakeProcess[] = [];
  const statuses: WasmWorkloadStatus[] = [];
  const records: SupervisorRecord[] = [];
  const sup = new WorkloadSupervisor(workload(spec), {
    clock,
    logger: pino({ level: "silent" }),
    backoff: DEFAULT_BACKOFF,
    prepare: () => Promise.resolve({ kind: "ready" }),
    launch: () => {
      const p = new FakeProcess(clock);
      procs.push(p);
      return Promise.resolve(p);
    },
    adopt: () => ({ kind: "gone" }),
    persist: (r) => {
      records.push(r);
    },
    report: (_w, s) => {
      statuses.push(s);
    },
  });
  return { clock, procs, statuses, records, sup, last: () => statuses.at(-1) };
}

test("restarts a failed module with backoff 10s, 20s, 40s", async () => {
  const h = harness({ restartPolicy: "Always" });
  h.sup.start();
  await flush();
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    h.procs.at(-1)?.exit(1);
    await flush();
    assert.equal(h.last()?.reason, "CrashLoopBackOff");
    delays.push(...h.clock.pending());
    await h.clock.advance(h.clock.pending()[0] ?? 0);
  }
  assert.deepEqual(delays, [10_000, 20_000, 40_000]);
  assert.equal(h.procs.length, 4);
  assert.equal(h.last()?.restartCount, 3);
  assert.equal(h.last()?.phase, "Running");
});

test("ten minutes of healthy running resets the backoff to 10s", async () => {
  const h = harness({ restartPolicy: "Always" });
  h.sup.start();
  await flush();
  h.procs.at(-1)?.exit(1);
  await flush();
  await h.clock.advance(10_000);
  h.procs.at(-1)?.exit(1);
  await flush();
  assert.deepEqual(h.clock.pending(), [20_000]);
  await h.clock.advance(20_000);
  await h.clock.advance(600_000); // healthy for ten minutes
  h.procs.at(-1)?.exit(1);
  await flush();
  assert.deepEqual(h.clock.pending(), [10_000]);
});

test("OnFailure stops restarting once the module succeeds and keeps its exit code", async () => {
  const h = harness({ restartPolicy: "OnFailure" });
  h.sup.start();
  await flush();
  h.procs.at(-1)?.exit(3);
  await flush();
  assert.equal(h.last()?.exitCode, 3);
  await h.clock.advance(10_000);
  h.procs.at(-1)?.exit(0);
  await flush();
  assert.equal(h.last()?.phase, "Succeeded");
  assert.equal(h.last()?.exitCode, 0);
  assert.equal(h.last()?.restartCount, 1);
  assert.deepEqual(h.clock.pending(), []);
});

test("Never reports Failed with the module's real exit code and does not restart", async () => {
  const h = harness({ restartPolicy: "Never" });
  h.sup.start();
  await flush();
  h.procs.at(-1)?.exit(42);
  await flush();
  assert.deepEqual(
    { phase: h.last()?.phase, exitCode: h.last()?.exitCode, reason: h.last()?.reason },
    { phase: "Failed", exitCode: 42, reason: "Error" },
  );
  assert.equal(h.procs.length, 1);
  assert.equal(h.records.at(-1)?.done, true);
});

test("stop asks the module to stop, then kills it when the grace period ends", async () => {
  const h = harness({ terminationGracePeriodSeconds: 5 });
  h.sup.start();
  await flush();
  const stopped = h.sup.stop();
  await flush();
  assert.deepEqual(h.procs[0]?.signals, ["stop"]);
  assert.equal(h.last()?.reason, "Terminating");
  await h.clock.advance(4_999);
  assert.deepEqual(h.procs[0].signals, ["stop"]);
  await h.clock.advance(1);
  assert.deepEqual(h.procs[0].signals, ["stop", "kill"]);
  await stopped;
  assert.equal(h.procs.length, 1, "a stopped module is not restarted");
});

test("a module that exits within its grace period keeps its own exit code", async () => {
  const h = harness({ terminationGracePeriodSeconds: 30 });
  h.sup.start();
  await flush();
  const stopped = h.sup.stop();
  await flush();
  h.procs[0]?.exit(0);
  await stopped;
  assert.deepEqual(h.procs[0]?.signals, ["stop"]);
  assert.equal(h.last()?.exitCode, 0);
});

test("a stop during backoff cancels the pending restart", async () => {
  const h = harness({ restartPolicy: "Always" });
  h.sup.start();
  await flush();
  h.procs[0]?.exit(1);
  await flush();
  await h.sup.stop();
  await h.clock.advance(60_000);
  assert.equal(h.procs.length, 1);
});
