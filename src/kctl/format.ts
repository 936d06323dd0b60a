import { stringify } from "yaml";
import { workloadFromPbTrusted } from "../api/convert-wasm-workload.js";
import { approvalFromPb } from "../api/convert-node.js";
import { API_VERSION } from "../domain/meta.js";
import type { WasmWorkload } from "../domain/wasm-workload.js";
import { formatCpu, formatMemory } from "../domain/quantity.js";
import { assertNever } from "../domain/assert-never.js";
import { NodeApproval, type Node as PbNode, type ResourceList } from "../gen/kcore/v1/node_pb.js";
import type { WasmWorkload as PbWasmWorkload } from "../gen/kcore/v1/wasm_workload_pb.js";

export type OutputFormat = "table" | "wide" | "json" | "yaml";

export function parseOutputFormat(value: string | undefined): OutputFormat {
  const f = value ?? "table";
  if (f === "table" || f === "wide" || f === "json" || f === "yaml") return f;
  throw new Error(
    `-o: unknown output format ${JSON.stringify(f)}: expected table, wide, json or yaml`,
  );
}

const dropEmpty = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== "" && v !== undefined));

/** A workload in manifest shape, as `-o json|yaml` prints it (re-applicable). */
export function workloadDocument(pb: PbWasmWorkload): Record<string, unknown> {
  const w = workloadFromPbTrusted(pb);
  const s = w.spec;
  const mod = s.module;
  const module =
    mod.kind === "uploaded"
      ? dropEmpty({ sha256: mod.sha256, name: mod.fileName })
      : mod.kind === "url"
        ? { url: mod.url, sha256: mod.sha256 }
        : { image: mod.image };
  const limits = dropEmpty({
    memory: s.limits.memoryBytes === undefined ? undefined : formatMemory(s.limits.memoryBytes),
    cpu: s.limits.cpuMillis === undefined ? undefined : formatCpu(s.limits.cpuMillis),
  });
  return {
    apiVersion: API_VERSION,
    kind: "WasmWorkload",
    metadata: {
      name: w.metadata.name,
      ...(Object.keys(w.metadata.labels).length > 0 ? { labels: w.metadata.labels } : {}),
      uid: w.metadata.uid,
      generation: w.metadata.generation,
      resourceVersion: String(w.metadata.resourceVersion),
      creationTimestamp: w.metadata.creationTimestamp,
    },
    spec: {
      module,
      ...(s.args.length > 0 ? { args: s.args } : {}),
      ...(Object.keys(s.env).length > 0 ? { env: s.env } : {}),
      ...(s.volumes.length > 0
        ? {
            volumes: s.volumes.map((v) => ({
              name: v.name,
              mountPath: v.mountPath,
              ...(v.source.kind === "hostPath" ? { hostPath: v.source.path } : { emptyDir: {} }),
              ...(v.readOnly ? { readOnly: true } : {}),
            })),
          }
        : {}),
      restartPolicy: s.restartPolicy,
      ...(Object.keys(limits).length > 0 ? { resources: { limits } } : {}),
      ...(Object.keys(s.nodeSelector).length > 0 ? { nodeSelector: s.nodeSelector } : {}),
      terminationGracePeriodSeconds: s.terminationGracePeriodSeconds,
    },
    status: dropEmpty({ ...w.status }),
  };
}

function resources(r: ResourceList | undefined): Record<string, unknown> {
  return {
    cpu: formatCpu(Number(r?.cpuMillis ?? 0n)),
    memory: formatMemory(Number(r?.memoryBytes ?? 0n)),
    workloads: Number(r?.workloads ?? 0n),
  };
}

export function nodeDocument(n: PbNode): Record<string, unknown> {
  const s = n.status;
  return {
    apiVersion: API_VERSION,
    kind: "Node",
    metadata: {
      name: n.metadata?.name ?? "",
      labels: n.metadata?.labels ?? {},
      uid: n.metadata?.uid ?? "",
      resourceVersion: String(n.metadata?.resourceVersion ?? 0n),
      creationTimestamp: n.metadata?.creationTimestamp ?? "",
    },
    status: {
      ready: s?.ready ?? false,
      approval: approvalFromPb(s?.approval ?? NodeApproval.UNSPECIFIED),
      schedulable: s?.schedulable ?? false,
      capacity: resources(s?.capacity),
      allocatable: resources(s?.allocatable),
      usage: resources(s?.usage),
      lastHeartbeat: s?.lastHeartbeat ?? "",
      hypervisor: s?.hypervisor ?? "",
      realizer: s?.realizer ?? "",
      version: s?.version ?? "",
      address: s?.address ?? "",
      taints: s?.taints.map((t) => ({ key: t.key, value: t.value, effect: t.effect })) ?? [],
      ...(s?.lastRebuild
        ? {
            lastRebuild: {
              state: s.lastRebuild.state,
              generation: Number(s.lastRebuild.generation),
              systemGeneration: Number(s.lastRebuild.systemGeneration),
              configSha256: s.lastRebuild.configSha256,
              phase: s.lastRebuild.phase,
              message: s.lastRebuild.message,
              startedAt: s.lastRebuild.startedAt,
              finishedAt: s.lastRebuild.finishedAt,
              outputTail: s.lastRebuild.outputTail,
            },
          }
        : {}),
    },
  };
}

/** "5s", "3m", "2h", "4d", as kubectl shows ages. */
export function age(since: string, nowMs = Date.now()): string {
  const t = Date.parse(since);
  if (!Number.isFinite(t)) return "<unknown>";
  const s = Math.max(0, Math.floor((nowMs - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows)
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3)))
        .join("")
        .trimEnd(),
    )
    .join("\n");
}

function workloadStatusText(w: WasmWorkload): string {
  return w.status.reason !== "" && w.status.reason !== "Scheduled"
    ? w.status.reason
    : w.status.phase;
}

export const WORKLOAD_HEADER = ["NAME", "STATUS", "NODE", "RESTARTS", "EXIT", "AGE"];
export const WORKLOAD_WIDE_HEADER = [...WORKLOAD_HEADER, "PHASE", "POLICY", "MODULE"];

export function workloadRow(pb: PbWasmWorkload, wide: boolean): string[] {
  const w = workloadFromPbTrusted(pb);
  const row = [
    w.metadata.name,
    workloadStatusText(w),
    w.status.node === "" ? "<none>" : w.status.node,
    String(w.status.restartCount),
    w.status.exitCode === undefined ? "" : String(w.status.exitCode),
    age(w.metadata.creationTimestamp),
  ];
  if (!wide) return row;
  const m = w.spec.module;
  const mod =
    m.kind === "uploaded"
      ? m.fileName === ""
        ? `sha256:${m.sha256.slice(0, 12)}`
        : m.fileName
      : m.kind === "url"
        ? m.url
        : m.image;
  return [...row, w.status.phase, w.spec.restartPolicy, mod];
}

export const NODE_HEADER = ["NAME", "STATUS", "APPROVAL", "WORKLOADS", "AGE", "VERSION"];
export const NODE_WIDE_HEADER = [...NODE_HEADER, "ADDRESS", "REALIZER", "CPU", "MEMORY"];

export function nodeRow(n: PbNode, wide: boolean): string[] {
  const s = n.status;
  const status = `${s?.ready === true ? "Ready" : "NotReady"}${s?.schedulable === false ? ",SchedulingDisabled" : ""}`;
  const row = [
    n.metadata?.name ?? "",
    status,
    approvalFromPb(s?.approval ?? NodeApproval.UNSPECIFIED),
    `${Number(s?.usage?.workloads ?? 0n)}/${Number(s?.allocatable?.workloads ?? 0n)}`,
    age(n.metadata?.creationTimestamp ?? ""),
    s?.version ?? "",
  ];
  if (!wide) return row;
  return [
    ...row,
    s?.address ?? "",
    s?.realizer ?? "",
    formatCpu(Number(s?.capacity?.cpuMillis ?? 0n)),
    formatMemory(Number(s?.capacity?.memoryBytes ?? 0n)),
  ];
}

/** Prints documents as JSON or YAML; several as a kubectl List. */
export function renderDocuments(
  docs: readonly Record<string, unknown>[],
  format: "json" | "yaml",
  asList: boolean,
): string {
  const value = asList ? { apiVersion: "v1", kind: "List", items: docs } : docs[0];
  switch (format) {
    case "json":
      return JSON.stringify(value, null, 2);
    case "yaml":
      return stringify(value).trimEnd();
    default:
      return assertNever(format, "format");
  }
}

/** `kctl describe` text: the resource as YAML, status included. */
export function describeDocument(doc: Record<string, unknown>): string {
  return stringify(doc).trimEnd();
}
