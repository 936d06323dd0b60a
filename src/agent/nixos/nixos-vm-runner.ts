import type { Logger } from "pino";
import { assertNever } from "../../domain/assert-never.js";
import { backoffDelay, type BackoffPolicy } from "../../domain/backoff.js";
import type { NixosVm } from "../../domain/nixos-module.js";
import type { Vm, VmStatus } from "../../domain/vm.js";
import type { VmPlan } from "../../domain/vm-plan.js";
import {
  transitionVm,
  type Observed,
  type VmLifecycle,
  type VmState,
} from "../../domain/vm-state.js";
import { observeChSocket } from "../../vm/cloud-hypervisor/driver.js";
import type { Clock } from "../clock.js";
import { TickLoop } from "../tick-loop.js";
import { SerialRelay } from "../vms/console.js";
import { macFor } from "../vms/vm-provision.js";
import type { VmPaths } from "../vms/vm-layout.js";
import type { VmRecord, VmRunner } from "../vms/vm-runner.js";
import type { NixosRealizer, RealizedState } from "./realizer.js";

export interface NixosVmRunnerDeps {
  readonly realizer: NixosRealizer;
  readonly paths: VmPaths;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff: BackoffPolicy;
  readonly pollMs: number;
  /** How long after an applied rebuild a unit may take to show its VM before it counts as failed. */
  readonly startGraceMs: number;
  provision(vm: Vm, progress: (message: string) => void): Promise<VmPlan>;
  persist(record: VmRecord): void;
  report(vm: Vm, status: VmStatus): void;
}

/** The VM's entry in the rendered module, from its plan and the agent's paths. */
export function nixosVmOf(vm: Vm, plan: VmPlan, paths: VmPaths): NixosVm {
  const seed = plan.disks.find((d) => d.path === paths.seed);
  return {
    name: vm.metadata.name,
    uid: plan.uid,
    cpus: plan.cpus,
    memoryBytes: plan.memoryBytes,
    boot: plan.boot,
    disks: plan.disks.filter((d) => d !== seed),
    ...(plan.tap ? { tap: plan.tap } : {}),
    ...(seed ? { cloudInitSeed: seed.path } : {}),
    mac: plan.tap?.mac ?? macFor(plan.uid),
    apiSocket: paths.controlSocket,
    serialSocket: paths.serialSocket,
    desiredState: vm.spec.desiredState,
  };
}

/**
 * One VM on a node with the nixos realizer. The agent prepares the VM (disks, images, seed) and
 * gives its entry to the realizer; systemd runs the hypervisor, as the rebuilt configuration
 * says. The VM's state is observed through the hypervisor's API socket, and a failed rebuild is
 * shown on the VMs it was about.
 */
export class NixosVmRunner implements VmRunner {
  #vm: Vm;
  readonly #d: NixosVmRunnerDeps;
  readonly #relay: SerialRelay;
  /** Whether the hypervisor answered with a VM at the last look (the console is attachable). */
  #up = false;
  #life: VmLifecycle;
  #restartCount = 0;
  /** The generation whose entry the realizer has. */
  #submitted: number | undefined;
  #failures = 0;
  #nextProvisionAt = 0;
  #appliedAt: number | undefined;
  #deleting = false;
  #closed = false;
  readonly #loop: TickLoop;

  constructor(vm: Vm, deps: NixosVmRunnerDeps) {
    this.#vm = vm;
    this.#d = deps;
    this.#loop = new TickLoop(deps.clock, deps.pollMs, () => this.#tick(), deps.logger);
    this.#relay = new SerialRelay(deps.paths.serialSocket, deps.paths.consoleLog);
    this.#life = {
      state: "Pending",
      message: "accepted by the node",
      lastTransitionTime: new Date(deps.clock.now()).toISOString(),
    };
    deps.realizer.join(vm.metadata.uid);
  }

  get vm(): Vm {
    return this.#vm;
  }

  get relay(): SerialRelay | undefined {
    return this.#up ? this.#relay : undefined;
  }

  status(): VmStatus {
    return {
      ...this.#life,
      node: this.#vm.status.node,
      hypervisor: "cloud-hypervisor",
      ip: "",
      observedGeneration: this.#vm.metadata.generation,
      restartCount: this.#restartCount,
    };
  }

  start(record?: VmRecord): void {
    if (record) {
      this.#life = record.lifecycle;
      this.#restartCount = record.restartCount;
    }
    this.#loop.schedule(0);
  }

  update(vm: Vm): void {
    this.#vm = vm;
    this.#failures = 0;
    this.#nextProvisionAt = 0;
    this.#loop.schedule(0);
  }

  /** Takes the VM out of the module; resolves once a rebuild removed its unit and it is gone. */
  async delete(): Promise<void> {
    this.#deleting = true;
    this.#d.realizer.leave(this.#vm.metadata.uid);
    for (;;) {
      await this.#d.realizer.settled();
      const observed = await observeChSocket(this.#d.paths.controlSocket, undefined);
      if (this.#d.realizer.isGone(this.#vm.metadata.uid) && observed.kind === "absent") break;
      if (this.#closed) return;
      await new Promise((r) => setTimeout(r, Math.min(this.#d.pollMs, 500)));
    }
    this.#move("Stopped", { kind: "absent" }, "deleted");
    this.close();
  }

  close(): void {
    this.#closed = true;
    this.#loop.stop();
    this.#relay.close();
  }

  #move(to: VmState, observed: Observed, message: string): void {
    const r = transitionVm(this.#life, to, observed, new Date(this.#d.clock.now()), message);
    if (!r.ok) {
      this.#d.logger.debug({ from: this.#life.state, to, observed: observed.kind }, r.error);
      return;
    }
    const changed = r.value.state !== this.#life.state || r.value.message !== this.#life.message;
    if (this.#life.state === "Failed" && r.value.state === "Running") this.#restartCount += 1;
    this.#life = r.value;
    if (changed) {
      this.#d.logger.info({ state: r.value.state, message }, "VM state");
      this.#d.persist({
        uid: this.#vm.metadata.uid,
        startedGeneration: this.#submitted ?? 0,
        restartCount: this.#restartCount,
        lifecycle: this.#life,
      });
      this.#d.report(this.#vm, this.status());
    }
  }

  async #tick(): Promise<void> {
    if (this.#closed || this.#deleting) return;
    const vm = this.#vm;
    const now = this.#d.clock.now();
    if (this.#submitted !== vm.metadata.generation) {
      if (now < this.#nextProvisionAt) return;
      if (!(await this.#submit(vm))) return;
    }
    const observed = await observeChSocket(this.#d.paths.controlSocket, undefined);
    this.#up = observed.kind === "running" || observed.kind === "paused";
    const realized = this.#d.realizer.stateOf(vm.metadata.uid);
    if (realized.kind === "applied") this.#appliedAt ??= now;
    else this.#appliedAt = undefined;
    this.#show(observed, realized, now);
  }

  /** Prepares the VM and hands its entry to the realizer; false when preparing failed. */
  async #submit(vm: Vm): Promise<boolean> {
    const observed: Observed = { kind: "absent" };
    try {
      if (this.#life.state === "Pending" || this.#life.state === "Failed")
        this.#move("Provisioning", observed, "preparing disks and cloud-init");
      const plan = await this.#d.provision(vm, (message) => {
        this.#move("Provisioning", observed, message);
      });
      if (this.#closed || this.#deleting || vm !== this.#vm) return false;
      this.#d.realizer.set(vm.metadata.uid, nixosVmOf(vm, plan, this.#d.paths));
      this.#submitted = vm.metadata.generation;
      return true;
    } catch (e) {
      this.#failures += 1;
      const delay = backoffDelay(this.#d.backoff, this.#failures);
      this.#nextProvisionAt = this.#d.clock.now() + delay;
      const msg = e instanceof Error ? e.message : String(e);
      this.#move("Failed", observed, `${msg}; trying again in ${Math.round(delay / 1000)} s`);
      return false;
    }
  }

  /** The VM's state from what the hypervisor shows and where its entry stands. */
  #show(observed: Observed, realized: RealizedState, now: number): void {
    const unit = `kcore-vm-${this.#vm.metadata.name}`;
    const wantRunning = this.#vm.spec.desiredState === "Running";
    if (realized.kind === "failed") {
      const o = realized.outcome;
      const msg = `${o.message}${o.outputTail === "" ? "" : `: ${o.outputTail.split("\n").at(-1) ?? ""}`}`;
      if (observed.kind === "running" || observed.kind === "paused")
        this.#move("Running", observed, `running the last good configuration; ${msg}`);
      else if (observed.kind === "unreachable")
        this.#move("Unknown", observed, `cannot reach the hypervisor: ${observed.reason}; ${msg}`);
      else this.#move("Failed", observed, msg);
      return;
    }
    switch (observed.kind) {
      case "unreachable":
        this.#move("Unknown", observed, `cannot reach the hypervisor: ${observed.reason}`);
        return;
      case "running":
      case "paused":
        if (wantRunning) {
          const what =
            observed.kind === "paused"
              ? "the VM is paused in the hypervisor"
              : "the guest is running";
          this.#move(
            "Running",
            observed,
            realized.kind === "pending" ? `${what}; nixos-rebuild has yet to apply a change` : what,
          );
        } else {
          this.#move(
            "Stopping",
            observed,
            realized.kind === "pending"
              ? "waiting for nixos-rebuild to stop the unit"
              : `${unit} is shutting the guest down`,
          );
        }
        return;
      case "created":
      case "shutdown":
      case "absent":
        break;
      default:
        assertNever(observed, "observed VM state");
    }
    if (!wantRunning) {
      this.#move("Stopped", observed, "stopped as requested");
      return;
    }
    const starting: Observed = observed.kind === "created" ? observed : { kind: "absent" };
    if (realized.kind === "pending") {
      this.#move(
        "Starting",
        starting,
        realized.applying ? "nixos-rebuild is applying the VM" : "waiting for nixos-rebuild",
      );
      return;
    }
    if (now - (this.#appliedAt ?? now) < this.#d.startGraceMs)
      this.#move("Starting", starting, `${unit} is starting the hypervisor`);
    else
      this.#move(
        "Failed",
        starting,
        `${unit} is not running its hypervisor (generation ${realized.generation}); systemd restarts it`,
      );
  }
}
