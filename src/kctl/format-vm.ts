import { vmFromPbTrusted } from "../api/convert-vm.js";
import { API_VERSION } from "../domain/meta.js";
import { formatMemory } from "../domain/quantity.js";
import { rawBoot, rawDiskSource } from "../domain/vm.js";
import type { SshKey as PbSshKey, Vm as PbVm } from "../gen/kcore/v1/vm_pb.js";
import { age } from "./format.js";

/** A VM in manifest shape, as `-o json|yaml` prints it (re-applicable). */
export function vmDocument(pb: PbVm): Record<string, unknown> {
  const v = vmFromPbTrusted(pb);
  const s = v.spec;
  return {
    apiVersion: API_VERSION,
    kind: "VM",
    metadata: {
      name: v.metadata.name,
      ...(Object.keys(v.metadata.labels).length > 0 ? { labels: v.metadata.labels } : {}),
      uid: v.metadata.uid,
      generation: v.metadata.generation,
      resourceVersion: String(v.metadata.resourceVersion),
      creationTimestamp: v.metadata.creationTimestamp,
    },
    spec: {
      cpus: s.cpus,
      memory: formatMemory(s.memoryBytes),
      boot: rawBoot(s.boot),
      ...(s.disks.length > 0
        ? {
            disks: s.disks.map((d) => ({
              name: d.name,
              ...rawDiskSource(d.source),
              format: d.format,
              ...(d.sizeBytes === undefined ? {} : { sizeBytes: d.sizeBytes }),
              ...(d.readOnly ? { readOnly: true } : {}),
              ...(d.keep ? { keep: true } : {}),
            })),
          }
        : {}),
      ...(s.network === undefined ? {} : { network: s.network }),
      ...(s.sshKeys.length > 0 ? { sshKeys: s.sshKeys } : {}),
      ...(s.cloudInit.userData === undefined
        ? {}
        : { cloudInit: { userData: s.cloudInit.userData } }),
      desiredState: s.desiredState,
      ...(Object.keys(s.nodeSelector).length > 0 ? { nodeSelector: s.nodeSelector } : {}),
    },
    status: Object.fromEntries(
      Object.entries(v.status).filter(([, x]) => x !== "" && x !== undefined),
    ),
  };
}

export const VM_HEADER = ["NAME", "STATE", "DESIRED", "NODE", "CPUS", "MEMORY", "RESTARTS", "AGE"];
export const VM_WIDE_HEADER = [...VM_HEADER, "HYPERVISOR", "IP", "MESSAGE"];

export function vmRow(pb: PbVm, wide: boolean): string[] {
  const v = vmFromPbTrusted(pb);
  const row = [
    v.metadata.name,
    v.status.state,
    v.spec.desiredState,
    v.status.node === "" ? "<none>" : v.status.node,
    String(v.spec.cpus),
    formatMemory(v.spec.memoryBytes),
    String(v.status.restartCount),
    age(v.metadata.creationTimestamp),
  ];
  if (wide)
    row.push(
      v.status.hypervisor === "" ? "<none>" : v.status.hypervisor,
      v.status.ip === "" ? "<none>" : v.status.ip,
      v.status.message,
    );
  return row;
}

export function sshKeyDocument(k: PbSshKey): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: "SshKey",
    metadata: {
      name: k.metadata?.name ?? "",
      uid: k.metadata?.uid ?? "",
      creationTimestamp: k.metadata?.creationTimestamp ?? "",
    },
    spec: { publicKey: k.spec?.publicKey ?? "" },
  };
}

export const SSH_KEY_HEADER = ["NAME", "TYPE", "COMMENT", "AGE"];

export function sshKeyRow(k: PbSshKey): string[] {
  const [type = "", , ...comment] = (k.spec?.publicKey ?? "").split(/ +/);
  return [
    k.metadata?.name ?? "",
    type,
    comment.join(" "),
    age(k.metadata?.creationTimestamp ?? ""),
  ];
}
