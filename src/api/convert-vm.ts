import { create } from "@bufbuild/protobuf";
import { InvalidFieldError, showValue } from "../domain/errors.js";
import { parseLabels, parseName, type SafeName } from "../domain/names.js";
import { formatMemory } from "../domain/quantity.js";
import { parseSshKeySpec, type SshKey, type SshKeySpec } from "../domain/ssh-key.js";
import {
  parseVmSpec,
  rawBoot,
  rawDiskSource,
  type RawVmSpec,
  type Vm,
  type VmSpec,
  type VmStatus,
} from "../domain/vm.js";
import { VM_STATES, type VmState } from "../domain/vm-state.js";
import {
  SshKeySchema,
  VmSchema,
  VmSpecSchema,
  VmStatusSchema,
  type SshKey as PbSshKey,
  type Vm as PbVm,
  type VmSpec as PbVmSpec,
  type VmStatus as PbVmStatus,
} from "../gen/kcore/v1/vm_pb.js";
import { metaFromProtoTrusted, metaToProto } from "./convert-meta.js";

const orUndefined = (s: string): string | undefined => (s === "" ? undefined : s);

function rawVmSpecFromPb(s: PbVmSpec | undefined): RawVmSpec {
  if (!s) return {};
  const boot = s.boot;
  return {
    ...(s.cpus === undefined ? {} : { cpus: s.cpus }),
    memory: orUndefined(s.memory),
    ...(boot === undefined
      ? {}
      : {
          boot: {
            kernel: orUndefined(boot.kernel),
            initrd: orUndefined(boot.initrd),
            cmdline: orUndefined(boot.cmdline),
            firmware: orUndefined(boot.firmware),
          },
        }),
    disks: s.disks.map((d) => ({
      name: d.name,
      url: orUndefined(d.url),
      sha256: orUndefined(d.sha256),
      path: orUndefined(d.path),
      format: orUndefined(d.format),
      ...(d.sizeBytes === undefined ? {} : { sizeBytes: Number(d.sizeBytes) }),
      readOnly: d.readOnly,
      keep: d.keep,
    })),
    network: orUndefined(s.network),
    sshKeys: [...s.sshKeys],
    cloudInit: s.cloudInitUserData === undefined ? {} : { userData: s.cloudInitUserData },
    desiredState: orUndefined(s.desiredState),
    nodeSelector: s.nodeSelector,
  };
}

/** Parses an apply request's VM into validated name, labels and spec. */
export function vmFromPb(v: PbVm | undefined): {
  name: SafeName;
  labels: Record<string, string>;
  spec: VmSpec;
} {
  if (!v) throw new InvalidFieldError("vm", "is required");
  const name = parseName("metadata.name", v.metadata?.name ?? "");
  const labels = { ...parseLabels("metadata.labels", v.metadata?.labels ?? {}) };
  return { name, labels, spec: parseVmSpec("spec", rawVmSpecFromPb(v.spec)) };
}

export function vmSpecToPb(s: VmSpec): PbVmSpec {
  return create(VmSpecSchema, {
    cpus: s.cpus,
    memory: formatMemory(s.memoryBytes),
    boot: rawBoot(s.boot),
    disks: s.disks.map((d) => ({
      name: d.name,
      ...rawDiskSource(d.source),
      format: d.format,
      ...(d.sizeBytes === undefined ? {} : { sizeBytes: BigInt(d.sizeBytes) }),
      readOnly: d.readOnly,
      keep: d.keep,
    })),
    network: s.network ?? "",
    sshKeys: [...s.sshKeys],
    ...(s.cloudInit.userData === undefined ? {} : { cloudInitUserData: s.cloudInit.userData }),
    desiredState: s.desiredState,
    nodeSelector: { ...s.nodeSelector },
  });
}

export function vmStatusToPb(s: VmStatus): PbVmStatus {
  return create(VmStatusSchema, {
    state: s.state,
    node: s.node,
    hypervisor: s.hypervisor,
    ip: s.ip,
    message: s.message,
    observedGeneration: BigInt(s.observedGeneration),
    lastTransitionTime: s.lastTransitionTime,
    restartCount: s.restartCount,
  });
}

export function parseVmState(field: string, s: string): VmState {
  const state = VM_STATES.find((x) => x === s);
  if (state === undefined)
    throw new InvalidFieldError(
      field,
      `unknown state ${showValue(s)}: expected one of ${VM_STATES.join(", ")}`,
    );
  return state;
}

/** Parses a status reported by a node (its node is set by the controller, not the report). */
export function vmStatusFromPb(field: string, s: PbVmStatus | undefined): Omit<VmStatus, "node"> {
  if (!s) throw new InvalidFieldError(field, "is required");
  const text = (f: string, v: string, max: number): string => {
    if (v.length > max) throw new InvalidFieldError(`${field}.${f}`, `longer than ${max}`);
    return v;
  };
  return {
    state: parseVmState(`${field}.state`, s.state),
    hypervisor: text("hypervisor", s.hypervisor, 64),
    ip: text("ip", s.ip, 64),
    message: text("message", s.message, 4096),
    observedGeneration: Number(s.observedGeneration),
    lastTransitionTime: text("lastTransitionTime", s.lastTransitionTime, 64),
    restartCount: Math.max(0, s.restartCount),
  };
}

export function vmToPb(v: Vm): PbVm {
  return create(VmSchema, {
    metadata: metaToProto(v.metadata),
    spec: vmSpecToPb(v.spec),
    status: vmStatusToPb(v.status),
  });
}

/** A VM the controller validated, read back by kctl or an agent. */
export function vmFromPbTrusted(v: PbVm): Vm {
  const { spec } = vmFromPb(v);
  const status = v.status ?? create(VmStatusSchema, { state: "Pending" });
  return {
    metadata: metaFromProtoTrusted(v.metadata),
    spec,
    status: { ...vmStatusFromPb("status", status), node: status.node },
  };
}

export function sshKeyFromPb(k: PbSshKey | undefined): {
  name: SafeName;
  labels: Record<string, string>;
  spec: SshKeySpec;
} {
  if (!k) throw new InvalidFieldError("sshKey", "is required");
  return {
    name: parseName("metadata.name", k.metadata?.name ?? ""),
    labels: { ...parseLabels("metadata.labels", k.metadata?.labels ?? {}) },
    spec: parseSshKeySpec("spec", { publicKey: k.spec?.publicKey }),
  };
}

export function sshKeyToPb(k: SshKey): PbSshKey {
  return create(SshKeySchema, { metadata: metaToProto(k.metadata), spec: { ...k.spec } });
}
