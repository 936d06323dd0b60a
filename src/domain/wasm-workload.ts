import type { Demand } from "./scheduler.js";
import { canonicalJson, type ObjectMeta } from "./meta.js";
import { parseVerifiedDownload, type HttpsUrl } from "./download.js";
import { InvalidFieldError, showValue } from "./errors.js";
import { parseLabels, parseName, parseSha256, type SafeName, type Sha256 } from "./names.js";
import { parseAbsolutePath, type AbsolutePath } from "./paths.js";
import { parseCpu, parseMemory } from "./quantity.js";

/** What to do when a module's process ends. */
export type RestartPolicy = "Always" | "OnFailure" | "Never";
export const RESTART_POLICIES: readonly RestartPolicy[] = ["Always", "OnFailure", "Never"];

/** Where a module comes from. */
export type ModuleRef =
  | { readonly kind: "uploaded"; readonly sha256: Sha256; readonly fileName: string }
  | { readonly kind: "url"; readonly url: HttpsUrl; readonly sha256: Sha256 }
  | { readonly kind: "image"; readonly image: string };

export type VolumeSource =
  { readonly kind: "hostPath"; readonly path: AbsolutePath } | { readonly kind: "emptyDir" };

export interface Volume {
  readonly name: SafeName;
  /** Where the module sees the directory (a WASI preopen). */
  readonly mountPath: AbsolutePath;
  readonly source: VolumeSource;
  readonly readOnly: boolean;
}

export interface ResourceLimits {
  readonly memoryBytes?: number;
  readonly cpuMillis?: number;
}

export interface WasmWorkloadSpec {
  readonly module: ModuleRef;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly volumes: readonly Volume[];
  readonly restartPolicy: RestartPolicy;
  readonly limits: ResourceLimits;
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** Seconds between the stop request and the kill. Default 30. */
  readonly terminationGracePeriodSeconds: number;
}

export type WorkloadPhase = "Pending" | "Running" | "Succeeded" | "Failed";
export const WORKLOAD_PHASES: readonly WorkloadPhase[] = [
  "Pending",
  "Running",
  "Succeeded",
  "Failed",
];

export interface WasmWorkloadStatus {
  readonly phase: WorkloadPhase;
  readonly reason: string;
  readonly message: string;
  readonly node: string;
  readonly exitCode?: number;
  readonly restartCount: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly observedGeneration: number;
}

export interface WasmWorkload {
  readonly metadata: ObjectMeta;
  readonly spec: WasmWorkloadSpec;
  readonly status: WasmWorkloadStatus;
}

export const PENDING_STATUS: WasmWorkloadStatus = {
  phase: "Pending",
  reason: "",
  message: "",
  node: "",
  restartCount: 0,
  startedAt: "",
  finishedAt: "",
  observedGeneration: 0,
};

/** The plain shape that both edges (YAML manifests, wire messages) produce before validation. */
export interface RawModule {
  readonly path?: string | undefined;
  readonly sha256?: string | undefined;
  readonly url?: string | undefined;
  readonly image?: string | undefined;
  readonly name?: string | undefined;
}

export interface RawVolume {
  readonly name: string;
  readonly mountPath: string;
  readonly hostPath?: string | undefined;
  readonly emptyDir?: object | undefined;
  readonly readOnly?: boolean | undefined;
}

export interface RawWasmWorkloadSpec {
  readonly module: RawModule;
  readonly args?: readonly string[] | undefined;
  readonly env?: Readonly<Record<string, string>> | undefined;
  readonly volumes?: readonly RawVolume[] | undefined;
  readonly restartPolicy?: string | undefined;
  readonly resources?:
    | {
        readonly limits?:
          { readonly memory?: string | undefined; readonly cpu?: string | undefined } | undefined;
      }
    | undefined;
  readonly nodeSelector?: Readonly<Record<string, string>> | undefined;
  readonly terminationGracePeriodSeconds?: number | undefined;
}

/** Limits that keep one workload from swamping the store or the node. */
export const LIMITS = {
  args: 1024,
  argBytes: 4096,
  envEntries: 1024,
  envValueBytes: 32 * 1024,
  volumes: 64,
  maxGraceSeconds: 24 * 3600,
  defaultGraceSeconds: 30,
} as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseModule(field: string, raw: RawModule): ModuleRef {
  const given = (["path", "sha256", "url", "image"] as const).filter((k) => raw[k] !== undefined);
  if (raw.image !== undefined) {
    if (given.length > 1)
      throw new InvalidFieldError(field, "give only one of path, url (+sha256) or image");
    if (raw.image.length === 0 || raw.image.length > 512 || /\s/.test(raw.image)) {
      throw new InvalidFieldError(
        `${field}.image`,
        `invalid image reference ${showValue(raw.image)}`,
      );
    }
    return { kind: "image", image: raw.image };
  }
  if (raw.url !== undefined) {
    if (raw.path !== undefined)
      throw new InvalidFieldError(field, "give only one of path, url (+sha256) or image");
    return { kind: "url", ...parseVerifiedDownload(field, raw.url, raw.sha256) };
  }
  if (raw.path !== undefined) {
    throw new InvalidFieldError(
      `${field}.path`,
      "a local path must be uploaded by kctl first (use kctl apply)",
    );
  }
  if (raw.sha256 === undefined) {
    throw new InvalidFieldError(
      field,
      "one of path, sha256 (an uploaded module), url (+sha256) or image is required",
    );
  }
  const fileName = raw.name ?? "";
  if (fileName.length > 255 || fileName.includes("\0"))
    throw new InvalidFieldError(`${field}.name`, `invalid file name ${showValue(fileName)}`);
  return { kind: "uploaded", sha256: parseSha256(`${field}.sha256`, raw.sha256), fileName };
}

function parseVolumes(field: string, raw: readonly RawVolume[]): Volume[] {
  if (raw.length > LIMITS.volumes)
    throw new InvalidFieldError(field, `at most ${LIMITS.volumes} volumes`);
  const names = new Set<string>();
  const mounts = new Set<string>();
  return raw.map((v, i) => {
    const at = `${field}[${i}]`;
    const name = parseName(`${at}.name`, v.name);
    if (names.has(name))
      throw new InvalidFieldError(`${at}.name`, `duplicate volume name ${showValue(name)}`);
    names.add(name);
    const mountPath = parseAbsolutePath(`${at}.mountPath`, v.mountPath);
    if (mounts.has(mountPath))
      throw new InvalidFieldError(
        `${at}.mountPath`,
        `duplicate mount path ${showValue(mountPath)}`,
      );
    mounts.add(mountPath);
    let source: VolumeSource;
    if (v.hostPath !== undefined && v.emptyDir !== undefined) {
      throw new InvalidFieldError(at, "give only one of hostPath or emptyDir");
    } else if (v.hostPath !== undefined) {
      source = { kind: "hostPath", path: parseAbsolutePath(`${at}.hostPath`, v.hostPath) };
    } else if (v.emptyDir !== undefined) {
      source = { kind: "emptyDir" };
    } else {
      throw new InvalidFieldError(at, "one of hostPath or emptyDir is required");
    }
    return { name, mountPath, source, readOnly: v.readOnly ?? false };
  });
}

function parseStringMap(
  field: string,
  raw: Readonly<Record<string, string>>,
  keyPattern: RegExp,
  what: string,
): Record<string, string> {
  const keys = Object.keys(raw).sort();
  if (keys.length > LIMITS.envEntries)
    throw new InvalidFieldError(field, `at most ${LIMITS.envEntries} entries`);
  const out: Record<string, string> = {};
  for (const key of keys) {
    const value = raw[key] ?? "";
    if (!keyPattern.test(key))
      throw new InvalidFieldError(`${field}.${key}`, `invalid ${what} name ${showValue(key)}`);
    if (value.includes("\0"))
      throw new InvalidFieldError(`${field}.${key}`, "value contains a NUL character");
    if (value.length > LIMITS.envValueBytes)
      throw new InvalidFieldError(`${field}.${key}`, `value longer than ${LIMITS.envValueBytes}`);
    out[key] = value;
  }
  return out;
}

/** Validates a spec from either edge. Errors name the field path under `field` (normally "spec"). */
export function parseWasmWorkloadSpec(field: string, raw: RawWasmWorkloadSpec): WasmWorkloadSpec {
  const args = raw.args ?? [];
  if (args.length > LIMITS.args)
    throw new InvalidFieldError(`${field}.args`, `at most ${LIMITS.args} arguments`);
  args.forEach((a, i) => {
    if (a.includes("\0"))
      throw new InvalidFieldError(`${field}.args[${i}]`, "contains a NUL character");
    if (a.length > LIMITS.argBytes)
      throw new InvalidFieldError(`${field}.args[${i}]`, `longer than ${LIMITS.argBytes}`);
  });
  const policy = raw.restartPolicy ?? "Always";
  if (!(RESTART_POLICIES as readonly string[]).includes(policy)) {
    throw new InvalidFieldError(
      `${field}.restartPolicy`,
      `invalid value ${showValue(policy)}: expected one of ${RESTART_POLICIES.join(", ")}`,
    );
  }
  const limits = raw.resources?.limits;
  const grace = raw.terminationGracePeriodSeconds ?? LIMITS.defaultGraceSeconds;
  if (!Number.isInteger(grace) || grace < 0 || grace > LIMITS.maxGraceSeconds) {
    throw new InvalidFieldError(
      `${field}.terminationGracePeriodSeconds`,
      `invalid value ${showValue(grace)}: expected a whole number of seconds from 0 to ${LIMITS.maxGraceSeconds}`,
    );
  }
  const memoryBytes =
    limits?.memory === undefined || limits.memory === ""
      ? undefined
      : parseMemory(`${field}.resources.limits.memory`, limits.memory);
  const cpuMillis =
    limits?.cpu === undefined || limits.cpu === ""
      ? undefined
      : parseCpu(`${field}.resources.limits.cpu`, limits.cpu);
  if (memoryBytes !== undefined && memoryBytes < 64 * 1024) {
    throw new InvalidFieldError(
      `${field}.resources.limits.memory`,
      `invalid value ${showValue(limits?.memory)}: at least 64Ki (one WebAssembly page)`,
    );
  }
  if (cpuMillis === 0)
    throw new InvalidFieldError(`${field}.resources.limits.cpu`, "must be more than 0");
  return {
    module: parseModule(`${field}.module`, raw.module),
    args: [...args],
    env: parseStringMap(`${field}.env`, raw.env ?? {}, ENV_NAME, "environment variable"),
    volumes: parseVolumes(`${field}.volumes`, raw.volumes ?? []),
    restartPolicy: policy as RestartPolicy,
    limits: {
      ...(memoryBytes === undefined ? {} : { memoryBytes }),
      ...(cpuMillis === undefined ? {} : { cpuMillis }),
    },
    nodeSelector: parseLabels(`${field}.nodeSelector`, raw.nodeSelector ?? {}),
    terminationGracePeriodSeconds: grace,
  };
}

/** True when two specs would run the same thing (used to decide whether generation changes). */
export function sameSpec(a: WasmWorkloadSpec, b: WasmWorkloadSpec): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** What a workload asks of its node, for the scheduler. */
export function wasmDemand(spec: WasmWorkloadSpec): Demand {
  return {
    memoryBytes: spec.limits.memoryBytes ?? 0,
    cpuMillis: spec.limits.cpuMillis ?? 0,
    nodeSelector: spec.nodeSelector,
  };
}
