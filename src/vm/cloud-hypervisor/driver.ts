import { existsSync, readFileSync } from "node:fs";
import type { Observed } from "../../domain/vm-state.js";
import { isSameProcess } from "../../util/processes.js";
import { assertNever } from "../../domain/assert-never.js";
import type { HypervisorDriver, PlanBoot, VmPlan, VmProcess, VmRuntimePaths } from "../driver.js";
import { HypervisorProcess, removeSockets } from "../hypervisor-process.js";
import { spawnDetached, startFailure, waitForSocket } from "../spawn.js";
import { chCall, CloudHypervisorError, type ChResponse } from "./api-client.js";
import { parseChEvents, type ChEvent } from "./events.js";

/** Every API call has this long to answer by default (vm.boot returns once the vCPUs run). */
const CALL_TIMEOUT_MS = 10_000;

type ChApi = (method: "GET" | "PUT", endpoint: string, body?: unknown) => Promise<ChResponse>;

/** Calls on one VMM's API socket, each with the same timeout. */
function chApi(socket: string, timeoutMs: number): ChApi {
  return (method, endpoint, body) => chCall(socket, method, endpoint, body, { timeoutMs });
}

/** The `payload` of `vm.create`: a kernel (with initramfs and command line) or firmware. */
function payload(boot: PlanBoot): Record<string, string> {
  switch (boot.kind) {
    case "kernel":
      return {
        kernel: boot.kernel,
        cmdline: boot.cmdline,
        ...(boot.initrd === undefined ? {} : { initramfs: boot.initrd }),
      };
    case "firmware":
      return { firmware: boot.firmware };
    default:
      return assertNever(boot, "boot");
  }
}

/** The `vm.create` body for a plan (schema `VmConfig` in CH's API description). */
export function vmConfig(plan: VmPlan, paths: VmRuntimePaths): Record<string, unknown> {
  return {
    cpus: { boot_vcpus: plan.cpus, max_vcpus: plan.cpus },
    memory: { size: plan.memoryBytes },
    payload: payload(plan.boot),
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
    // A pvpanic device makes a guest kernel panic show up in the event monitor.
    pvpanic: true,
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

class ChProcess extends HypervisorProcess {
  readonly logsItself = false;
  readonly #call: ChApi;

  constructor(pid: number, startTime: string, paths: VmRuntimePaths, call: ChApi) {
    super(pid, startTime, paths);
    this.#call = call;
  }

  protected async query(): Promise<Observed> {
    const res = await this.#call("GET", "vm.info");
    const observed = observedFromChState((res.body as { state?: unknown } | undefined)?.state);
    // A panicked guest still shows Running in vm.info; the event monitor tells.
    const last = readChEvents(this.paths.eventsFile).at(-1);
    if (observed.kind === "running" && last?.source === "guest" && last.event === "panic")
      return { kind: "shutdown" };
    return observed;
  }

  /** No VM configured in a live VMM: 404 from v53, 500 before. */
  protected override readonly meansAbsent = (e: unknown): boolean =>
    e instanceof CloudHypervisorError && (e.status === 404 || e.status === 500);

  protected askToQuit(): Promise<unknown> {
    return this.#call("PUT", "vmm.shutdown");
  }

  async powerButton(): Promise<void> {
    await this.#call("PUT", "vm.power-button");
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
  readonly #callTimeoutMs: number;

  /**
   * `command`: the VMM's argv prefix (`["cloud-hypervisor"]`, or a simulator in tests);
   * `callTimeoutMs`: how long each API call may take before the VMM counts as unreachable.
   */
  constructor(command: readonly string[], opts: { callTimeoutMs?: number } = {}) {
    this.#command = command;
    this.#callTimeoutMs = opts.callTimeoutMs ?? CALL_TIMEOUT_MS;
  }

  async start(plan: VmPlan, paths: VmRuntimePaths): Promise<VmProcess> {
    // A stale serial socket would make vm.create fail (CH binds it and refuses an existing file);
    // CH v53+ removes a stale API socket itself, older versions need it gone too.
    removeSockets(paths);
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
    const call = chApi(paths.controlSocket, this.#callTimeoutMs);
    const proc = new ChProcess(p.pid, p.startTime, paths, call);
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
    return isSameProcess(pid, startTime)
      ? new ChProcess(pid, startTime, paths, chApi(paths.controlSocket, this.#callTimeoutMs))
      : undefined;
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

/**
 * What a VMM that the agent did not start (a systemd unit, with the nixos realizer) shows through
 * its API socket alone. No socket, a refused connection or no VM in the VMM is `absent`; no
 * answer in time is `unreachable`. Never throws.
 */
export async function observeChSocket(
  socket: string,
  eventsFile: string | undefined,
  timeoutMs = CALL_TIMEOUT_MS,
): Promise<Observed> {
  if (!existsSync(socket)) return { kind: "absent" };
  try {
    const res = await chCall(socket, "GET", "vm.info", undefined, { timeoutMs });
    const observed = observedFromChState((res.body as { state?: unknown } | undefined)?.state);
    const last = eventsFile === undefined ? undefined : readChEvents(eventsFile).at(-1);
    if (observed.kind === "running" && last?.source === "guest" && last.event === "panic")
      return { kind: "shutdown" };
    return observed;
  } catch (e) {
    if (e instanceof CloudHypervisorError && (e.status === 404 || e.status === 500))
      return { kind: "absent" };
    const cause = e instanceof Error ? (e.cause as NodeJS.ErrnoException | undefined) : undefined;
    if (cause?.code === "ECONNREFUSED" || cause?.code === "ENOENT") return { kind: "absent" };
    return { kind: "unreachable", reason: e instanceof Error ? e.message : String(e) };
  }
}
