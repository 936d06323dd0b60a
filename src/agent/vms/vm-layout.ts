import { join } from "node:path";
import { KcoreError } from "../../domain/errors.js";
import type { HypervisorKind, VmRuntimePaths } from "../../vm/driver.js";

/** Where the agent keeps one VM's files. Names and uids are validated before they get here. */
export interface VmPaths extends VmRuntimePaths {
  /** `<data-dir>/vms/<uid>`: the VM as assigned, the supervisor's record, the seed image. */
  readonly stateDir: string;
  readonly record: string;
  readonly assignment: string;
  readonly seed: string;
  /** `<data-dir>/disks/<name>_<uid>`: the VM's own disks (overlays). */
  readonly diskDir: string;
  /** `<data-dir>/logs/vm_<name>_<uid>`. */
  readonly logDir: string;
}

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

export function vmPaths(
  dataDir: string,
  runDir: string,
  name: string,
  uid: string,
  kind: HypervisorKind,
): VmPaths {
  const stateDir = join(dataDir, "vms", uid);
  const logDir = join(dataDir, "logs", `vm_${name}_${uid}`);
  const controlSocket = join(runDir, kind === "qemu" ? `${name}.qmp.sock` : `${name}.sock`);
  const serialSocket = join(runDir, `${name}.serial.sock`);
  for (const s of [controlSocket, serialSocket])
    if (Buffer.byteLength(s) > MAX_SOCKET_PATH)
      throw new KcoreError(
        "FailedPrecondition",
        `socket path ${s} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter --run-dir or VM name`,
      );
  return {
    stateDir,
    record: join(stateDir, "record.json"),
    assignment: join(stateDir, "vm.json"),
    seed: join(stateDir, "seed.iso"),
    hypervisorLog: join(stateDir, "hypervisor.log"),
    eventsFile: join(stateDir, "events.json"),
    diskDir: join(dataDir, "disks", `${name}_${uid}`),
    logDir,
    consoleLog: join(logDir, "console.log"),
    controlSocket,
    serialSocket,
  };
}
