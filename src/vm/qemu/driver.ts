import { closeSync, openSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { assertNever } from "../../domain/assert-never.js";
import type { Observed } from "../../domain/vm-state.js";
import { isSameProcess } from "../../util/processes.js";
import type { HypervisorDriver, VmPlan, VmProcess, VmRuntimePaths } from "../driver.js";
import { HypervisorProcess, removeSockets } from "../hypervisor-process.js";
import { spawnDetached, startFailure, waitForSocket } from "../spawn.js";
import type { Accel } from "./accel.js";
import { qmpExecute } from "./qmp.js";

/** Every QMP call has this long to answer. */
const QMP_TIMEOUT_MS = 5000;

/**
 * QEMU's command line for a plan. Every value comes from a validated spec or an agent-made
 * path, and each is its own argv element: nothing passes through a shell. Commas inside
 * option values are doubled, as QEMU's option syntax requires.
 */
export function qemuArgs(plan: VmPlan, paths: VmRuntimePaths, accel: Accel): string[] {
  const q = (v: string): string => v.replaceAll(",", ",,");
  const args = [
    "-name",
    `${q(plan.name)},process=kcore-vm-${q(plan.name)}`,
    "-accel",
    accel,
    "-machine",
    "q35",
    "-cpu",
    accel === "kvm" ? "host" : "max",
    "-smp",
    String(plan.cpus),
    "-m",
    `${Math.floor(plan.memoryBytes / (1024 * 1024))}M`,
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-qmp",
    `unix:${q(paths.controlSocket)},server=on,wait=off`,
    "-chardev",
    `socket,id=serial0,path=${q(paths.serialSocket)},server=on,wait=off,logfile=${q(paths.consoleLog)},logappend=on`,
    "-serial",
    "chardev:serial0",
  ];
  const boot = plan.boot;
  switch (boot.kind) {
    case "kernel":
      args.push("-kernel", boot.kernel, "-append", boot.cmdline);
      if (boot.initrd !== undefined) args.push("-initrd", boot.initrd);
      break;
    case "firmware":
      args.push("-bios", boot.firmware);
      break;
    default:
      assertNever(boot, "boot");
  }
  plan.disks.forEach((d, i) => {
    args.push(
      "-drive",
      `file=${q(d.path)},format=${d.format},if=virtio,index=${i},readonly=${d.readOnly ? "on" : "off"}`,
    );
  });
  if (plan.tap) {
    args.push(
      "-netdev",
      `tap,id=net0,ifname=${q(plan.tap.name)},script=no,downscript=no`,
      "-device",
      `virtio-net-pci,netdev=net0,mac=${plan.tap.mac}`,
    );
  }
  return args;
}

/** Maps `query-status` to what the lifecycle knows. */
export function observedFromQmpStatus(status: string): Observed {
  switch (status) {
    case "running":
      return { kind: "running" };
    case "prelaunch":
    case "inmigrate":
      return { kind: "created" };
    case "shutdown":
    case "guest-panicked":
    case "internal-error":
    case "io-error":
      return { kind: "shutdown" };
    default:
      // paused, suspended, debug, watchdog, save-vm, restore-vm, finish-migrate, postmigrate...
      return { kind: "paused" };
  }
}

class QemuProcess extends HypervisorProcess {
  readonly logsItself = true;

  protected async query(): Promise<Observed> {
    const [st] = await qmpExecute(
      this.paths.controlSocket,
      [{ execute: "query-status" }],
      QMP_TIMEOUT_MS,
    );
    const status = (st as { status?: unknown } | undefined)?.status;
    return typeof status === "string"
      ? observedFromQmpStatus(status)
      : { kind: "unreachable", reason: "query-status gave no status" };
  }

  protected askToQuit(): Promise<unknown> {
    return qmpExecute(this.paths.controlSocket, [{ execute: "quit" }], QMP_TIMEOUT_MS);
  }

  async powerButton(): Promise<void> {
    await qmpExecute(this.paths.controlSocket, [{ execute: "system_powerdown" }], QMP_TIMEOUT_MS);
  }
}

/** Runs VMs under QEMU with QMP on a Unix socket and the serial console logged by QEMU itself. */
export class QemuDriver implements HypervisorDriver {
  readonly kind = "qemu" as const;
  readonly #binary: string;
  readonly #accel: Accel;

  constructor(binary: string, accel: Accel) {
    this.#binary = binary;
    this.#accel = accel;
  }

  get accel(): Accel {
    return this.#accel;
  }

  async start(plan: VmPlan, paths: VmRuntimePaths): Promise<VmProcess> {
    removeSockets(paths);
    // Created here so that it is private from the start (QEMU would create it world-readable).
    closeSync(openSync(paths.consoleLog, "a", 0o600));
    const p = spawnDetached(this.#binary, qemuArgs(plan, paths, this.#accel), paths.hypervisorLog);
    const proc = new QemuProcess(p.pid, p.startTime, paths);
    try {
      await waitForSocket(paths.controlSocket, p.pid, p.startTime, 10_000, "qemu");
      // The socket file exists a moment before QEMU accepts on it.
      for (let attempt = 0; ; attempt++) {
        try {
          await qmpExecute(paths.controlSocket, [{ execute: "query-status" }], QMP_TIMEOUT_MS);
          break;
        } catch (e) {
          if (attempt >= 400 || !isSameProcess(p.pid, p.startTime)) throw e;
          await sleep(5);
        }
      }
    } catch (e) {
      await proc.forceStop();
      throw startFailure("qemu did not start", e, paths.hypervisorLog);
    }
    return proc;
  }

  adopt(paths: VmRuntimePaths, pid: number, startTime: string): VmProcess | undefined {
    return isSameProcess(pid, startTime) ? new QemuProcess(pid, startTime, paths) : undefined;
  }
}
