import { create } from "@bufbuild/protobuf";
import { InvalidFieldError } from "../domain/errors.js";
import { assertNever } from "../domain/assert-never.js";
import { parseLabels, parseName, type SafeName } from "../domain/names.js";
import { formatCpu, formatMemory } from "../domain/quantity.js";
import {
  parseWasmWorkloadSpec,
  type RawModule,
  type RawWasmWorkloadSpec,
  type RestartPolicy,
  type WasmWorkload,
  type WasmWorkloadSpec,
  type WasmWorkloadStatus,
  type WorkloadPhase,
} from "../domain/wasm-workload.js";
import {
  RestartPolicy as PbRestartPolicy,
  WasmWorkloadSchema,
  WasmWorkloadSpecSchema,
  WasmWorkloadStatusSchema,
  WorkloadPhase as PbPhase,
  type ModuleSource,
  type WasmWorkload as PbWasmWorkload,
  type WasmWorkloadSpec as PbSpec,
  type WasmWorkloadStatus as PbStatus,
} from "../gen/kcore/v1/wasm_workload_pb.js";
import { metaToProto } from "./convert-meta.js";

const POLICY_TO_PB = {
  Always: PbRestartPolicy.ALWAYS,
  OnFailure: PbRestartPolicy.ON_FAILURE,
  Never: PbRestartPolicy.NEVER,
} as const satisfies Record<RestartPolicy, PbRestartPolicy>;
const PHASE_TO_PB = {
  Pending: PbPhase.PENDING,
  Running: PbPhase.RUNNING,
  Succeeded: PbPhase.SUCCEEDED,
  Failed: PbPhase.FAILED,
} as const satisfies Record<WorkloadPhase, PbPhase>;

function policyFromPb(field: string, p: PbRestartPolicy): RestartPolicy | undefined {
  switch (p) {
    case PbRestartPolicy.UNSPECIFIED:
      return undefined; // not given: the documented default (Always) applies
    case PbRestartPolicy.ALWAYS:
      return "Always";
    case PbRestartPolicy.ON_FAILURE:
      return "OnFailure";
    case PbRestartPolicy.NEVER:
      return "Never";
    default:
      throw new InvalidFieldError(field, `unknown restart policy number ${String(p)}`);
  }
}

export function phaseFromPb(field: string, p: PbPhase): WorkloadPhase {
  switch (p) {
    case PbPhase.PENDING:
      return "Pending";
    case PbPhase.RUNNING:
      return "Running";
    case PbPhase.SUCCEEDED:
      return "Succeeded";
    case PbPhase.FAILED:
      return "Failed";
    case PbPhase.UNSPECIFIED:
      throw new InvalidFieldError(field, "phase is required");
    default:
      throw new InvalidFieldError(field, `unknown phase number ${String(p)}`);
  }
}

function moduleFromPb(m: ModuleSource | undefined): RawModule {
  const src = m?.source;
  switch (src?.case) {
    case undefined:
      return {};
    case "uploadedSha256":
      return { sha256: src.value, name: m?.fileName ?? "" };
    case "url":
      return { url: src.value.url, sha256: src.value.sha256 };
    case "image":
      return { image: src.value };
    default:
      return assertNever(src, "module source");
  }
}

/** Wire spec to the raw shape the domain validates. */
export function rawSpecFromPb(spec: PbSpec | undefined): RawWasmWorkloadSpec {
  if (!spec) return { module: {} };
  const policy = policyFromPb("spec.restartPolicy", spec.restartPolicy);
  return {
    module: moduleFromPb(spec.module),
    args: spec.args,
    env: spec.env,
    volumes: spec.volumes.map((v) => ({
      name: v.name,
      mountPath: v.mountPath,
      ...(v.source.case === "hostPath" ? { hostPath: v.source.value } : {}),
      ...(v.source.case === "emptyDir" ? { emptyDir: {} } : {}),
      readOnly: v.readOnly,
    })),
    ...(policy === undefined ? {} : { restartPolicy: policy }),
    resources: { limits: { memory: spec.limits?.memory ?? "", cpu: spec.limits?.cpu ?? "" } },
    nodeSelector: spec.nodeSelector,
    ...(spec.terminationGracePeriodSeconds === undefined
      ? {}
      : { terminationGracePeriodSeconds: Number(spec.terminationGracePeriodSeconds) }),
  };
}

/** Parses an apply request's workload into validated name, labels and spec. */
export function workloadFromPb(w: PbWasmWorkload | undefined): {
  name: SafeName;
  labels: Record<string, string>;
  spec: WasmWorkloadSpec;
} {
  if (!w) throw new InvalidFieldError("workload", "is required");
  const name = parseName("metadata.name", w.metadata?.name ?? "");
  const labels = { ...parseLabels("metadata.labels", w.metadata?.labels ?? {}) };
  return { name, labels, spec: parseWasmWorkloadSpec("spec", rawSpecFromPb(w.spec)) };
}

export function specToPb(s: WasmWorkloadSpec): PbSpec {
  const mod = s.module;
  const source =
    mod.kind === "uploaded"
      ? { source: { case: "uploadedSha256" as const, value: mod.sha256 }, fileName: mod.fileName }
      : mod.kind === "url"
        ? { source: { case: "url" as const, value: { url: mod.url, sha256: mod.sha256 } } }
        : { source: { case: "image" as const, value: mod.image } };
  return create(WasmWorkloadSpecSchema, {
    module: source,
    args: [...s.args],
    env: { ...s.env },
    volumes: s.volumes.map((v) => ({
      name: v.name,
      mountPath: v.mountPath,
      source:
        v.source.kind === "hostPath"
          ? { case: "hostPath" as const, value: v.source.path }
          : { case: "emptyDir" as const, value: {} },
      readOnly: v.readOnly,
    })),
    restartPolicy: POLICY_TO_PB[s.restartPolicy],
    limits: {
      memory: s.limits.memoryBytes === undefined ? "" : formatMemory(s.limits.memoryBytes),
      cpu: s.limits.cpuMillis === undefined ? "" : formatCpu(s.limits.cpuMillis),
    },
    nodeSelector: { ...s.nodeSelector },
    terminationGracePeriodSeconds: BigInt(s.terminationGracePeriodSeconds),
  });
}

export function statusToPb(s: WasmWorkloadStatus): PbStatus {
  return create(WasmWorkloadStatusSchema, {
    phase: PHASE_TO_PB[s.phase],
    reason: s.reason,
    message: s.message,
    node: s.node,
    ...(s.exitCode === undefined ? {} : { exitCode: s.exitCode }),
    restartCount: s.restartCount,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    observedGeneration: BigInt(s.observedGeneration),
  });
}

/** Parses a status reported by a node. */
export function statusFromPb(
  field: string,
  s: PbStatus | undefined,
): Omit<WasmWorkloadStatus, "node"> {
  if (!s) throw new InvalidFieldError(field, "is required");
  const text = (f: string, v: string, max: number): string => {
    if (v.length > max) throw new InvalidFieldError(`${field}.${f}`, `longer than ${max}`);
    return v;
  };
  return {
    phase: phaseFromPb(`${field}.phase`, s.phase),
    reason: text("reason", s.reason, 128),
    message: text("message", s.message, 4096),
    ...(s.exitCode === undefined ? {} : { exitCode: s.exitCode }),
    restartCount: Math.max(0, s.restartCount),
    startedAt: text("startedAt", s.startedAt, 64),
    finishedAt: text("finishedAt", s.finishedAt, 64),
    observedGeneration: Number(s.observedGeneration),
  };
}

export function workloadToPb(w: WasmWorkload): PbWasmWorkload {
  return create(WasmWorkloadSchema, {
    metadata: metaToProto(w.metadata),
    spec: specToPb(w.spec),
    status: statusToPb(w.status),
  });
}

/** Wire workload back to the domain (kctl and the agent read what the controller validated). */
export function workloadFromPbTrusted(w: PbWasmWorkload): WasmWorkload {
  const { name, labels, spec } = workloadFromPb(w);
  const m = w.metadata;
  return {
    metadata: {
      name,
      labels,
      uid: m?.uid ?? "",
      generation: Number(m?.generation ?? 0n),
      resourceVersion: Number(m?.resourceVersion ?? 0n),
      creationTimestamp: m?.creationTimestamp ?? "",
    },
    spec,
    status: {
      ...statusFromPb(
        "status",
        w.status ?? create(WasmWorkloadStatusSchema, { phase: PbPhase.PENDING }),
      ),
      node: w.status?.node ?? "",
    },
  };
}
