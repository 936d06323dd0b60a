import { rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Observed } from "../domain/vm-state.js";
import { isSameProcess, signalProcess } from "../util/processes.js";
import type { VmProcess, VmRuntimePaths } from "./driver.js";

/** Removes a VM's sockets: stale ones would make the next start fail to bind. */
export function removeSockets(paths: VmRuntimePaths): void {
  for (const s of [paths.controlSocket, paths.serialSocket]) rmSync(s, { force: true });
}

/**
 * What every hypervisor process shares: liveness by pid and kernel start time, observation
 * that never throws, and a forced stop that asks the hypervisor to quit, then kills it.
 */
export abstract class HypervisorProcess implements VmProcess {
  readonly pid: number;
  readonly startTime: string;
  abstract readonly logsItself: boolean;
  protected readonly paths: VmRuntimePaths;

  constructor(pid: number, startTime: string, paths: VmRuntimePaths) {
    this.pid = pid;
    this.startTime = startTime;
    this.paths = paths;
  }

  protected alive(): boolean {
    return isSameProcess(this.pid, this.startTime);
  }

  /** The hypervisor's own view, asked through its control socket. */
  protected abstract query(): Promise<Observed>;
  /** Asks the hypervisor process to exit by itself. */
  protected abstract askToQuit(): Promise<unknown>;
  abstract powerButton(): Promise<void>;

  /** Whether a failed query means the VM is gone while its process lives. */
  protected readonly meansAbsent: (e: unknown) => boolean = () => false;

  async observe(): Promise<Observed> {
    if (!this.alive()) return { kind: "absent" };
    try {
      return await this.query();
    } catch (e) {
      if (!this.alive() || this.meansAbsent(e)) return { kind: "absent" };
      return { kind: "unreachable", reason: e instanceof Error ? e.message : String(e) };
    }
  }

  async forceStop(): Promise<void> {
    if (this.alive()) {
      try {
        await this.askToQuit();
      } catch {
        // unreachable or already going: the signal below ends it
      }
      for (let i = 0; i < 50 && this.alive(); i++) await sleep(20);
      if (this.alive()) signalProcess(this.pid, "SIGKILL");
      for (let i = 0; i < 100 && this.alive(); i++) await sleep(20);
    }
    // A killed hypervisor leaves its sockets behind.
    if (!this.alive()) removeSockets(this.paths);
  }
}
