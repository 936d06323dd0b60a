import type { Logger } from "pino";
import { assertNever } from "../../domain/assert-never.js";
import { backoffDelay, type BackoffPolicy } from "../../domain/backoff.js";
import type { Vm, VmStatus } from "../../domain/vm.js";
import {
  transitionVm,
  type Observed,
  type VmLifecycle,
  type VmState,
} from "../../domain/vm-state.js";
import type { HypervisorDriver, VmPlan, VmProcess } from "../../vm/driver.js";
import type { Clock } from "../clock.js";
import { TickLoop } from "../tick-loop.js";
import { SerialRelay, trimConsoleLog } from "./console.js";
import type { VmPaths } from "./vm-layout.js";
import type { VmRecord, VmRunner } from "./vm-runner.js";

export type { VmRecord } from "./vm-runner.js";

export interface VmSupervisorDeps {
  readonly driver: HypervisorDriver;
  readonly paths: VmPaths;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff: BackoffPolicy;
  /** How long a guest has to shut down after the power button before it is stopped by force. */
  readonly stopTimeoutMs: number;
  readonly pollMs: number;
  provision(vm: Vm, progress: (message: string) => void): Promise<VmPlan>;
  persist(record: VmRecord): void;
  report(vm: Vm, status: VmStatus): void;
}

/** Spec changes that need the hypervisor restarted (everything but the desired state). */
function runSpecKey(vm: Vm): string {
  return JSON.stringify({ ...vm.spec, desiredState: undefined });
}

/**
 * Runs one VM on this node, level-triggered: every tick it observes the hypervisor and moves the
 * VM one step toward its desired state, through the one transition function. A crashed VM that
 * should run is started again with backoff; Stopped is the ACPI power button, then force after
 * a timeout.
 */
export class VmSupervisor implements VmRunner {
  #vm: Vm;
  readonly #d: VmSupervisorDeps;
  #proc: VmProcess | undefined;
  #relay: SerialRelay | undefined;
  #life: VmLifecycle;
  #restartCount = 0;
  #failures = 0;
  #nextStartAt = 0;
  #runningSince = 0;
  #startedKey: string | undefined;
  #startedGeneration = 0;
  #stopDeadline: number | undefined;
  readonly #loop: TickLoop;
  #closed = false;
  #deleting = false;

  constructor(vm: Vm, deps: VmSupervisorDeps) {
    this.#vm = vm;
    this.#d = deps;
    this.#loop = new TickLoop(deps.clock, deps.pollMs, () => this.#tick(), deps.logger);
    this.#life = {
      state: "Pending",
      message: "accepted by the node",
      lastTransitionTime: new Date(deps.clock.now()).toISOString(),
    };
  }

  get vm(): Vm {
    return this.#vm;
  }

  get relay(): SerialRelay | undefined {
    return this.#relay;
  }

  status(): VmStatus {
    return {
      ...this.#life,
      node: this.#vm.status.node,
      hypervisor: this.#d.driver.kind,
      ip: "",
      observedGeneration: this.#vm.metadata.generation,
      restartCount: this.#restartCount,
    };
  }

  /** Starts supervising; with a record, re-attaches to the hypervisor it names first. */
  start(record?: VmRecord): void {
    if (record?.process) {
      const proc = this.#d.driver.adopt(
        this.#d.paths,
        record.process.pid,
        record.process.startTime,
      );
      if (proc) {
        this.#attach(proc);
        this.#startedGeneration = record.startedGeneration;
        this.#startedKey =
          record.startedGeneration === this.#vm.metadata.generation
            ? runSpecKey(this.#vm)
            : undefined;
        this.#runningSince = this.#d.clock.now();
        this.#d.logger.info({ pid: proc.pid }, "adopted running hypervisor");
      }
    }
    if (record) {
      this.#life = record.lifecycle;
      this.#restartCount = record.restartCount;
    }
    this.#loop.schedule(0);
  }

  /** A new generation from the controller. */
  update(vm: Vm): void {
    this.#vm = vm;
    this.#failures = 0;
    this.#nextStartAt = 0;
    this.#loop.schedule(0);
  }

  /** Stops the VM (gracefully, then by force) and stops supervising it. */
  async delete(): Promise<void> {
    this.#deleting = true;
    this.#loop.schedule(0);
    await this.#loop.settled;
    while (this.#proc) {
      await new Promise((r) => setTimeout(r, Math.min(this.#d.pollMs, 200)));
      await this.#loop.settled;
    }
    this.close();
  }

  /** Stops supervising; the hypervisor keeps running (the agent is stopping: fail-static). */
  close(): void {
    this.#closed = true;
    this.#loop.stop();
    this.#relay?.close();
  }

  #attach(proc: VmProcess): void {
    this.#proc = proc;
    this.#relay?.close();
    this.#relay = new SerialRelay(
      this.#d.paths.serialSocket,
      proc.logsItself ? undefined : this.#d.paths.consoleLog,
    );
  }

  #detach(): void {
    this.#proc = undefined;
    this.#relay?.close();
    this.#relay = undefined;
  }

  #move(to: VmState, observed: Observed, message: string): void {
    const r = transitionVm(this.#life, to, observed, new Date(this.#d.clock.now()), message);
    if (!r.ok) {
      this.#d.logger.warn({ from: this.#life.state, to, observed: observed.kind }, r.error);
      return;
    }
    const changed = r.value.state !== this.#life.state || r.value.message !== this.#life.message;
    this.#life = r.value;
    if (changed) {
      this.#d.logger.info({ state: r.value.state, message }, "VM state");
      this.#persist();
      this.#d.report(this.#vm, this.status());
    }
  }

  #persist(): void {
    this.#d.persist({
      uid: this.#vm.metadata.uid,
      startedGeneration: this.#startedGeneration,
      ...(this.#proc ? { process: { pid: this.#proc.pid, startTime: this.#proc.startTime } } : {}),
      restartCount: this.#restartCount,
      lifecycle: this.#life,
    });
  }

  async #tick(): Promise<void> {
    if (this.#closed) return;
    if (this.#proc?.logsItself === true) trimConsoleLog(this.#d.paths.consoleLog);
    let observed: Observed = this.#proc ? await this.#proc.observe() : { kind: "absent" };
    if (observed.kind === "absent" && this.#proc) {
      this.#detach();
      this.#persist();
    }
    const now = this.#d.clock.now();
    const desired = this.#deleting ? "Stopped" : this.#vm.spec.desiredState;
    const stale = this.#proc !== undefined && this.#startedKey !== runSpecKey(this.#vm);
    if (desired === "Stopped" || (stale && observed.kind !== "absent")) {
      await this.#stopStep(observed, now, stale && desired === "Running");
      return;
    }
    switch (observed.kind) {
      case "running":
        if (this.#life.state !== "Running") this.#runningSince = now;
        if (now - this.#runningSince >= this.#d.backoff.resetAfterMs) this.#failures = 0;
        this.#move("Running", observed, "the guest is running");
        return;
      case "created":
        this.#move("Starting", observed, "the hypervisor has the VM but has not booted it");
        return;
      case "paused":
        this.#move("Running", observed, "the VM is paused in the hypervisor");
        return;
      case "unreachable":
        this.#move("Unknown", observed, `cannot reach the hypervisor: ${observed.reason}`);
        return;
      case "shutdown":
      case "absent":
        break;
      default:
        assertNever(observed, "observed VM state");
    }
    // Nothing runs: it crashed, the guest powered off, or it has not started yet.
    if (observed.kind === "shutdown" && this.#proc) {
      await this.#proc.forceStop();
      this.#detach();
      observed = { kind: "absent" };
    }
    const wasUp =
      this.#life.state === "Running" ||
      this.#life.state === "Starting" ||
      this.#life.state === "Unknown";
    if (wasUp) {
      this.#failures += 1;
      this.#nextStartAt = now + backoffDelay(this.#d.backoff, this.#failures);
      this.#startedKey = undefined;
      this.#move(
        "Failed",
        observed,
        `the hypervisor exited; starting again in ${Math.round((this.#nextStartAt - now) / 1000)} s`,
      );
    }
    if (now < this.#nextStartAt) return;
    await this.#startStep(observed);
  }

  async #startStep(observed: Observed): Promise<void> {
    const vm = this.#vm;
    try {
      this.#move("Provisioning", observed, "preparing disks and cloud-init");
      const plan = await this.#d.provision(vm, (message) => {
        this.#move("Provisioning", observed, message);
      });
      if (this.#closed || this.#deleting || vm !== this.#vm) return;
      this.#move("Starting", observed, `starting ${this.#d.driver.kind}`);
      const proc = await this.#d.driver.start(plan, this.#d.paths);
      this.#attach(proc);
      this.#startedKey = runSpecKey(vm);
      this.#startedGeneration = vm.metadata.generation;
      if (this.#life.state === "Failed" || this.#failures > 0) this.#restartCount += 1;
      this.#persist();
      const now = await proc.observe();
      if (now.kind === "running") {
        this.#runningSince = this.#d.clock.now();
        this.#move("Running", now, "the guest is running");
      }
    } catch (e) {
      this.#failures += 1;
      const delay = backoffDelay(this.#d.backoff, this.#failures);
      this.#nextStartAt = this.#d.clock.now() + delay;
      const msg = e instanceof Error ? e.message : String(e);
      this.#move(
        "Failed",
        { kind: "absent" },
        `${msg}; trying again in ${Math.round(delay / 1000)} s`,
      );
    }
  }

  async #stopStep(observed: Observed, now: number, restart: boolean): Promise<void> {
    const proc = this.#proc;
    if (!proc || observed.kind === "absent") {
      this.#stopDeadline = undefined;
      if (restart) return; // the next tick starts the new spec
      this.#move(
        "Stopped",
        { kind: "absent" },
        this.#deleting ? "deleted" : "stopped as requested",
      );
      return;
    }
    if (observed.kind === "unreachable") {
      this.#move("Unknown", observed, `cannot reach the hypervisor: ${observed.reason}`);
    }
    if (this.#stopDeadline === undefined) {
      this.#stopDeadline = now + this.#d.stopTimeoutMs;
      this.#move(
        "Stopping",
        observed.kind === "unreachable" ? { kind: "running" } : observed,
        restart
          ? "restarting to apply the new spec"
          : "shutting the guest down (ACPI power button)",
      );
      if (observed.kind === "running") {
        try {
          await proc.powerButton();
        } catch (e) {
          this.#d.logger.warn(
            { err: e instanceof Error ? e.message : String(e) },
            "power button failed",
          );
          this.#stopDeadline = now;
        }
      } else {
        this.#stopDeadline = now; // not running a guest: nothing to shut down gracefully
      }
    }
    if (now >= this.#stopDeadline) {
      this.#d.logger.info("guest did not shut down in time; stopping it");
      await proc.forceStop();
      this.#detach();
      this.#stopDeadline = undefined;
      this.#persist();
      if (!restart)
        this.#move(
          "Stopped",
          { kind: "absent" },
          this.#deleting ? "deleted" : "stopped by force after the shutdown timeout",
        );
    }
  }
}
