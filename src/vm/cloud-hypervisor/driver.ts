import { existsSync, readFileSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Observed } from "../../domain/vm-state.js";
import { isSameProcess, signalProcess } from "../../util/processes.js";
import type { HypervisorDriver, VmPlan, VmProcess, VmRuntimePaths } from "../driver.js";
import { spawnDetached, startFailure, waitForSocket } from "../spawn.js";
import { chCall, CloudHypervisorError } from "./api-client.js";
import { parseChEvents, type ChEvent } from "./events.js";

/** Every API call has this long to answer (vm.boot returns once the vCPUs run). */
const CALL_TIMEOUT_MS = 10_000;

/** The `vm.create` body for a plan (schema `VmConfig` in CH's API description). */
export function vmConfig(plan: VmPlan, paths: VmRuntimePaths): Record<string, unknown> {
  const boot = plan.boot;
  return {
    cpus: { boot_vcpus: plan.cpus, max_vcpus: plan.cpus },
    memory: { size: plan.memoryBytes },
    payload:
      boot.kind === "kernel"
        ? {
            kernel: boot.kernel,
            cmdline: boot.cmdline,
            ...(boot.initrd === undefined ? {} : { initramfs: boot.initrd }),
          }
        : { firmware: boot.firmware },
    disks: plan.disks.map((d) => ({
      path: d.path,
      readonly: d.readOnly,
      image_type: d.format === "qcow2" ? "Qcow2" : "Raw",
      // Overlays made by the agent name their base image as a backing file.
      ...(d.format === "qcow2" ? { backing_files: true } : {}),
    })),
    ...(plan.tap ? { net: [{ tap: plan.tap.name, mac: plan.tap.mac }] } : {}),
    serial: { mode: "Socket", socket: paths.serialSocket },
    console: { mode: "Off" },
  };
}

/** Maps `vm.info`'s state to what the lifecycle knows. */
export function observedFromChState(state: unknown): Observed {
  switch (state) {
    case "Running":
      return { kind: "running" };
    case "Paused":
    case "BreakPoint":
      return { kind: "paused" };
    case "Created":
      return { kind: "created" };
    case "Shutdown":
      return { kind: "shutdown" };
    default:
      return { kind: "unreachable", reason: `unknown VM state ${JSON.stringify(state)}` };
  }
}

class ChProcess implements VmProcess {
  readonly pid: number;
  readonly startTime: string;
  readonly logsItself = false;
  readonly #paths: VmRuntimePaths;

  constructor(pid: number, startTime: string, paths: VmRuntimePaths) {
    this.pid = pid;
    this.startTime = startTime;
    this.#paths = paths;
  }

  #alive(): boolean {
    return isSameProcess(this.pid, this.startTime);
  }

  #call(method: "GET" | "PUT", endpoint: string, body?: unknown) {
    return chCall(this.#paths.controlSocket, method, endpoint, body, {
      timeoutMs: CALL_TIMEOUT_MS,
    });
  }

  async observe(): Promise<Observed> {
    if (!this.#alive()) return { kind: "absent" };
    try {
      const res = await this.#call("GET", "vm.info");
      return observedFromChState((res.body as { state?: unknown } | undefined)?.state);
    } catch (e) {
      if (!this.#alive()) return { kind: "absent" };
      // No VM configured in a live VMM: 404 from v53, 500 before.
      if (e instanceof CloudHypervisorError && (e.status === 404 || e.status === 500))
        return { kind: "absent" };
      return { kind: "unreachable", reason: e instanceof Error ? e.message : String(e) };
    }
  }

  async powerButton(): Promise<void> {
    await this.#call("PUT", "vm.power-button");
  }

  async forceStop(): Promise<void> {
    if (!this.#alive()) return;
    try {
      await this.#call("PUT", "vmm.shutdown");
    } catch {
      // unreachable or already going: the signal below ends it
    }
    for (let i = 0; i < 50 && this.#alive(); i++) await sleep(20);
    if (this.#alive()) signalProcess(this.pid, "SIGKILL");
    for (let i = 0; i < 100 && this.#alive(); i++) await sleep(20);
    // A killed VMM leaves its sockets behind; the next start must not trip over them.
    for (const s of [this.#paths.controlSocket, this.#paths.serialSocket])
      if (existsSync(s)) rmSync(s, { force: true });
  }
}

/**
 * Runs VMs under Cloud Hypervisor: starts the VMM with only its API socket and event monitor,
 * then creates and boots the VM through the REST API. The serial console is CH's socket, which
 * the agent relays into the console log.
 */
export class CloudHypervisorDriver implements HypervisorDriver {
  readonly kind = "cloud-hypervisor" as const;
  readonly #command: readonly string[];

  /** `command`: the VMM's argv prefix (`["cloud-hypervisor"]`, or a simulator in tests). */
  constructor(command: readonly string[]) {
    this.#command = command;
  }

  async start(plan: VmPlan, paths: VmRuntimePaths): Promise<VmProcess> {
    // A stale serial socket would make vm.create fail (CH binds it and refuses an existing file);
    // CH v53+ removes a stale API socket itself, older versions need it gone too.
    for (const s of [paths.controlSocket, paths.serialSocket]) if (existsSync(s)) rmSync(s);
    const [bin = "cloud-hypervisor", ...pre] = this.#command;
    const p = spawnDetached(
      bin,
      [
        ...pre,
        "--api-socket",
        `path=${paths.controlSocket}`,
        "--event-monitor",
        `path=${paths.eventsFile}`,
      ],
      paths.hypervisorLog,
    );
    const proc = new ChProcess(p.pid, p.startTime, paths);
    const call = (method: "GET" | "PUT", endpoint: string, body?: unknown) =>
      chCall(paths.controlSocket, method, endpoint, body, { timeoutMs: CALL_TIMEOUT_MS });
    try {
      await waitForSocket(paths.controlSocket, p.pid, p.startTime, 10_000, "cloud-hypervisor");
      await call("GET", "vmm.ping");
      await call("PUT", "vm.create", vmConfig(plan, paths));
      await call("PUT", "vm.boot");
    } catch (e) {
      await proc.forceStop();
      throw startFailure("cloud-hypervisor did not start", e, paths.hypervisorLog);
    }
    return proc;
  }

  adopt(paths: VmRuntimePaths, pid: number, startTime: string): VmProcess | undefined {
    return isSameProcess(pid, startTime) ? new ChProcess(pid, startTime, paths) : undefined;
  }
}

/** The events CH has written so far for a VM (empty when the file is missing). */
export function readChEvents(path: string): ChEvent[] {
  try {
    return parseChEvents(readFileSync(path, "utf8")).events;
  } catch {
    return [];
  }
}
