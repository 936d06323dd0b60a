import type { Demand } from "./scheduler.js";
import { assertNever } from "./assert-never.js";
import { parseVerifiedDownload, type HttpsUrl } from "./download.js";
import { InvalidFieldError, showValue } from "./errors.js";
import { parseLabels, parseName, type SafeName, type Sha256 } from "./names.js";
import { parseAbsolutePath, type AbsolutePath } from "./paths.js";
import { parseMemory } from "./quantity.js";
import type { VmLifecycle } from "./vm-state.js";
import type { ObjectMeta } from "./meta.js";

/** How a VM boots: a kernel (direct boot) or firmware that boots the first disk. */
export type VmBoot =
  | {
      readonly kind: "kernel";
      readonly kernel: AbsolutePath;
      readonly initrd?: AbsolutePath;
      readonly cmdline: string;
    }
  | { readonly kind: "firmware"; readonly firmware: AbsolutePath };

/** Where a disk's content comes from: a verified image download, or a file on the node. */
export type DiskSource =
  | { readonly kind: "image"; readonly url: HttpsUrl; readonly sha256: Sha256 }
  | { readonly kind: "path"; readonly path: AbsolutePath };

export type DiskFormat = "raw" | "qcow2";

export interface VmDisk {
  readonly name: SafeName;
  readonly source: DiskSource;
  readonly format: DiskFormat;
  /** Size of the VM's own copy-on-write overlay; the image's size when unset. */
  readonly sizeBytes?: number;
  readonly readOnly: boolean;
  /** Keep the VM's disk file when the VM is deleted. */
  readonly keep: boolean;
}

export type VmDesiredState = "Running" | "Stopped";

export interface VmSpec {
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly boot: VmBoot;
  readonly disks: readonly VmDisk[];
  /** Name of a Network resource; none means no network device. */
  readonly network?: SafeName;
  /** Names of SshKey resources whose keys cloud-init installs. */
  readonly sshKeys: readonly SafeName[];
  readonly cloudInit: { readonly userData?: string };
  readonly desiredState: VmDesiredState;
  readonly nodeSelector: Readonly<Record<string, string>>;
}

/** The plain shape both edges produce before validation. */
export interface RawVmSpec {
  readonly cpus?: number | undefined;
  readonly memory?: string | undefined;
  readonly boot?:
    | {
        readonly kernel?: string | undefined;
        readonly initrd?: string | undefined;
        readonly cmdline?: string | undefined;
        readonly firmware?: string | undefined;
      }
    | undefined;
  readonly disks?:
    | readonly {
        readonly name: string;
        readonly url?: string | undefined;
        readonly sha256?: string | undefined;
        readonly path?: string | undefined;
        readonly format?: string | undefined;
        readonly sizeBytes?: number | undefined;
        readonly readOnly?: boolean | undefined;
        readonly keep?: boolean | undefined;
      }[]
    | undefined;
  readonly network?: string | undefined;
  readonly sshKeys?: readonly string[] | undefined;
  readonly cloudInit?: { readonly userData?: string | undefined } | undefined;
  readonly desiredState?: string | undefined;
  readonly nodeSelector?: Readonly<Record<string, string>> | undefined;
}

export const VM_LIMITS = {
  maxCpus: 256,
  minMemoryBytes: 16 * 1024 * 1024,
  maxDisks: 16,
  maxCmdline: 4096,
  maxUserData: 64 * 1024,
  maxSshKeys: 64,
  /** Most bytes of console input one message may carry. */
  maxConsoleInput: 64 * 1024,
} as const;

function parseBoot(field: string, raw: RawVmSpec["boot"]): VmBoot {
  if (raw === undefined)
    throw new InvalidFieldError(
      field,
      "required: kernel (with optional initrd and cmdline) or firmware",
    );
  if (raw.firmware !== undefined) {
    if (raw.kernel !== undefined || raw.initrd !== undefined || raw.cmdline !== undefined) {
      throw new InvalidFieldError(field, "give either firmware or kernel/initrd/cmdline, not both");
    }
    return { kind: "firmware", firmware: parseAbsolutePath(`${field}.firmware`, raw.firmware) };
  }
  if (raw.kernel === undefined)
    throw new InvalidFieldError(`${field}.kernel`, "required unless firmware is given");
  const cmdline = raw.cmdline ?? "";
  if (cmdline.length > VM_LIMITS.maxCmdline || /[\0\n\r]/.test(cmdline)) {
    throw new InvalidFieldError(
      `${field}.cmdline`,
      `must be one line of at most ${VM_LIMITS.maxCmdline} characters without NUL`,
    );
  }
  return {
    kind: "kernel",
    kernel: parseAbsolutePath(`${field}.kernel`, raw.kernel),
    ...(raw.initrd === undefined
      ? {}
      : { initrd: parseAbsolutePath(`${field}.initrd`, raw.initrd) }),
    cmdline,
  };
}

function parseDisks(field: string, raw: NonNullable<RawVmSpec["disks"]>): VmDisk[] {
  if (raw.length > VM_LIMITS.maxDisks)
    throw new InvalidFieldError(field, `at most ${VM_LIMITS.maxDisks} disks`);
  const names = new Set<string>();
  return raw.map((d, i) => {
    const at = `${field}[${i}]`;
    const name = parseName(`${at}.name`, d.name);
    if (names.has(name))
      throw new InvalidFieldError(`${at}.name`, `duplicate disk name ${showValue(name)}`);
    names.add(name);
    let source: DiskSource;
    if (d.url !== undefined) {
      if (d.path !== undefined)
        throw new InvalidFieldError(at, "give either url (with sha256) or path, not both");
      source = { kind: "image", ...parseVerifiedDownload(at, d.url, d.sha256) };
    } else if (d.path !== undefined) {
      source = { kind: "path", path: parseAbsolutePath(`${at}.path`, d.path) };
    } else {
      throw new InvalidFieldError(at, "one of url (with sha256) or path is required");
    }
    const format = d.format ?? "raw";
    if (format !== "raw" && format !== "qcow2")
      throw new InvalidFieldError(
        `${at}.format`,
        `invalid value ${showValue(format)}: expected raw or qcow2`,
      );
    if (d.sizeBytes !== undefined && (!Number.isSafeInteger(d.sizeBytes) || d.sizeBytes <= 0)) {
      throw new InvalidFieldError(
        `${at}.sizeBytes`,
        `invalid value ${showValue(d.sizeBytes)}: expected a positive whole number of bytes`,
      );
    }
    return {
      name,
      source,
      format,
      ...(d.sizeBytes === undefined ? {} : { sizeBytes: d.sizeBytes }),
      readOnly: d.readOnly ?? false,
      keep: d.keep ?? false,
    };
  });
}

/** Validates a VM spec from either edge; errors name the field path under `field`. */
export function parseVmSpec(field: string, raw: RawVmSpec): VmSpec {
  const cpus = raw.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > VM_LIMITS.maxCpus) {
    throw new InvalidFieldError(
      `${field}.cpus`,
      `invalid value ${showValue(cpus)}: expected a whole number from 1 to ${VM_LIMITS.maxCpus}`,
    );
  }
  const memoryBytes = parseMemory(`${field}.memory`, raw.memory ?? "512Mi");
  if (memoryBytes < VM_LIMITS.minMemoryBytes)
    throw new InvalidFieldError(
      `${field}.memory`,
      `invalid value ${showValue(raw.memory)}: at least 16Mi`,
    );
  const desired = raw.desiredState ?? "Running";
  if (desired !== "Running" && desired !== "Stopped") {
    throw new InvalidFieldError(
      `${field}.desiredState`,
      `invalid value ${showValue(desired)}: expected Running or Stopped`,
    );
  }
  const sshKeys = raw.sshKeys ?? [];
  if (sshKeys.length > VM_LIMITS.maxSshKeys)
    throw new InvalidFieldError(`${field}.sshKeys`, `at most ${VM_LIMITS.maxSshKeys} keys`);
  const userData = raw.cloudInit?.userData;
  if (
    userData !== undefined &&
    (userData.length > VM_LIMITS.maxUserData || userData.includes("\0"))
  ) {
    throw new InvalidFieldError(
      `${field}.cloudInit.userData`,
      `at most ${VM_LIMITS.maxUserData} characters, no NUL`,
    );
  }
  return {
    cpus,
    memoryBytes,
    boot: parseBoot(`${field}.boot`, raw.boot),
    disks: parseDisks(`${field}.disks`, raw.disks ?? []),
    ...(raw.network === undefined ? {} : { network: parseName(`${field}.network`, raw.network) }),
    sshKeys: sshKeys.map((k, i) => parseName(`${field}.sshKeys[${i}]`, k)),
    cloudInit: userData === undefined ? {} : { userData },
    desiredState: desired,
    nodeSelector: parseLabels(`${field}.nodeSelector`, raw.nodeSelector ?? {}),
  };
}

/** What the agent reports about a VM (`status` of the resource). */
export interface VmStatus extends VmLifecycle {
  readonly node: string;
  /** Driver that runs it: "qemu" or "cloud-hypervisor"; empty until placed on a node. */
  readonly hypervisor: string;
  readonly ip: string;
  readonly observedGeneration: number;
  /** Times the agent started the VM again after it crashed or failed to start. */
  readonly restartCount: number;
}

export interface Vm {
  readonly metadata: ObjectMeta;
  readonly spec: VmSpec;
  readonly status: VmStatus;
}

export const PENDING_VM_STATUS: VmStatus = {
  state: "Pending",
  message: "waiting to be scheduled",
  lastTransitionTime: "",
  node: "",
  hypervisor: "",
  ip: "",
  observedGeneration: 0,
  restartCount: 0,
};

/** What a VM holds on its node, for the scheduler's accounting. */
export function vmDemand(spec: VmSpec): Demand {
  return {
    memoryBytes: spec.memoryBytes,
    cpuMillis: spec.cpus * 1000,
    nodeSelector: spec.nodeSelector,
  };
}

/** A boot back in the shape the manifest and the wire use (the inverse of parsing). */
export function rawBoot(
  b: VmBoot,
): { kernel: string; initrd?: string; cmdline?: string } | { firmware: string } {
  switch (b.kind) {
    case "kernel":
      return {
        kernel: b.kernel,
        ...(b.initrd === undefined ? {} : { initrd: b.initrd }),
        ...(b.cmdline === "" ? {} : { cmdline: b.cmdline }),
      };
    case "firmware":
      return { firmware: b.firmware };
    default:
      return assertNever(b, "boot");
  }
}

/** A disk's source back in the manifest's shape: url and sha256, or path. */
export function rawDiskSource(s: DiskSource): { url: string; sha256: string } | { path: string } {
  switch (s.kind) {
    case "image":
      return { url: s.url, sha256: s.sha256 };
    case "path":
      return { path: s.path };
    default:
      return assertNever(s, "disk source");
  }
}
