import type { Identity, Role } from "./identity.js";

const ADMIN: readonly Role[] = ["admin"];
/** Reading: admins and viewers. */
const READ: readonly Role[] = ["admin", "viewer"];
/** A node, acting only for itself (the request's node name is checked against its own). */
const NODE: readonly Role[] = ["node"];
const CONTROLLER: readonly Role[] = ["controller"];
const HEALTH: readonly Role[] = ["admin", "viewer", "controller"];
/** Callers without a certificate, on the join port only: a valid bootstrap token is their key. */
const JOINING: readonly Role[] = ["anonymous"];

/**
 * The one authorisation table. Every method every daemon serves has an entry; a method without
 * one is refused. Keys are full gRPC paths.
 */
export const AUTHZ_TABLE: Readonly<Record<string, readonly Role[]>> = {
  "/kcore.v1.WasmWorkloadService/ApplyWasmWorkload": ADMIN,
  "/kcore.v1.WasmWorkloadService/GetWasmWorkload": READ,
  "/kcore.v1.WasmWorkloadService/ListWasmWorkloads": READ,
  "/kcore.v1.WasmWorkloadService/DeleteWasmWorkload": ADMIN,
  "/kcore.v1.WasmWorkloadService/WatchWasmWorkloads": READ,
  "/kcore.v1.WasmWorkloadService/WorkloadLogs": READ,
  "/kcore.v1.VmService/ApplyVm": ADMIN,
  "/kcore.v1.VmService/GetVm": READ,
  "/kcore.v1.VmService/ListVms": READ,
  "/kcore.v1.VmService/DeleteVm": ADMIN,
  "/kcore.v1.VmService/WatchVms": READ,
  "/kcore.v1.VmService/SetVmState": ADMIN,
  "/kcore.v1.VmService/VmConsoleLog": READ,
  "/kcore.v1.VmService/AttachConsole": ADMIN,
  "/kcore.v1.VmService/ApplySshKey": ADMIN,
  "/kcore.v1.VmService/GetSshKey": READ,
  "/kcore.v1.VmService/ListSshKeys": READ,
  "/kcore.v1.VmService/DeleteSshKey": ADMIN,
  "/kcore.v1.ModuleService/UploadModule": ADMIN,
  "/kcore.v1.ModuleService/FetchModule": NODE,
  "/kcore.v1.NodeService/GetNode": READ,
  "/kcore.v1.NodeService/RenderNix": READ,
  "/kcore.v1.NodeService/ListNodes": READ,
  "/kcore.v1.NodeService/SignNodeCertificate": ADMIN,
  "/kcore.v1.AccessService/SignUserCertificate": ADMIN,
  "/kcore.v1.AccessService/ListAudit": ADMIN,
  "/kcore.v1.AccessService/ListCertificates": ADMIN,
  "/kcore.v1.AccessService/Revoke": ADMIN,
  "/kcore.v1.AccessService/Rotate": ADMIN,
  "/kcore.v1.AccessService/CreateJoinToken": ADMIN,
  "/kcore.v1.NodeService/ApproveNode": ADMIN,
  "/kcore.v1.NodeService/RejectNode": ADMIN,
  "/kcore.v1.NodeService/CordonNode": ADMIN,
  "/kcore.v1.NodeService/UncordonNode": ADMIN,
  "/kcore.v1.NodeService/DrainNode": ADMIN,
  "/kcore.v1.JoinService/ClusterInfo": JOINING,
  "/kcore.v1.JoinService/Join": JOINING,
  "/kcore.v1.AgentService/RenewCertificate": NODE,
  "/kcore.v1.AgentService/RegisterNode": NODE,
  "/kcore.v1.AgentService/Heartbeat": NODE,
  "/kcore.v1.AgentService/GetRevocations": NODE,
  "/kcore.v1.AgentService/WatchAssignments": NODE,
  "/kcore.v1.AgentService/ReportWorkloadStatus": NODE,
  "/kcore.v1.AgentService/ReportVmStatus": NODE,
  "/kcore.v1.AgentService/ReportRebuild": NODE,
  "/kcore.v1.NodeAgentService/ReadLogs": CONTROLLER,
  "/kcore.v1.NodeAgentService/ReadVmConsole": CONTROLLER,
  "/kcore.v1.NodeAgentService/AttachVmConsole": CONTROLLER,
  "/kcore.v1.NodeAgentService/RenderNix": CONTROLLER,
  "/grpc.health.v1.Health/Check": HEALTH,
  "/grpc.health.v1.Health/Watch": HEALTH,
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": READ,
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": READ,
};

/**
 * Calls recorded in the audit log: every call that changes desired state, identities or cluster
 * membership. Node heartbeats and status reports (observations, many per second) are not.
 */
export const AUDITED: ReadonlySet<string> = new Set([
  "/kcore.v1.WasmWorkloadService/ApplyWasmWorkload",
  "/kcore.v1.WasmWorkloadService/DeleteWasmWorkload",
  "/kcore.v1.VmService/ApplyVm",
  "/kcore.v1.VmService/DeleteVm",
  "/kcore.v1.VmService/SetVmState",
  "/kcore.v1.VmService/AttachConsole",
  "/kcore.v1.VmService/ApplySshKey",
  "/kcore.v1.VmService/DeleteSshKey",
  "/kcore.v1.ModuleService/UploadModule",
  "/kcore.v1.NodeService/SignNodeCertificate",
  "/kcore.v1.AccessService/SignUserCertificate",
  "/kcore.v1.AccessService/Revoke",
  "/kcore.v1.AccessService/Rotate",
  "/kcore.v1.AccessService/CreateJoinToken",
  "/kcore.v1.NodeService/ApproveNode",
  "/kcore.v1.NodeService/RejectNode",
  "/kcore.v1.NodeService/CordonNode",
  "/kcore.v1.NodeService/UncordonNode",
  "/kcore.v1.NodeService/DrainNode",
  "/kcore.v1.JoinService/Join",
  "/kcore.v1.AgentService/RenewCertificate",
  "/kcore.v1.AgentService/RegisterNode",
]);

/** The outcome of an authorisation check. */
export type Decision =
  | { readonly kind: "allow" }
  /** Allowed if the request's node name equals this one (the caller's own). */
  | { readonly kind: "allow-as-node"; readonly nodeName: string }
  | { readonly kind: "deny"; readonly reason: string };

/** Decides whether `identity` may call `method`. Unknown methods and identities are refused. */
export function authorize(method: string, identity: Identity): Decision {
  const roles = Object.hasOwn(AUTHZ_TABLE, method) ? AUTHZ_TABLE[method] : undefined;
  if (roles === undefined)
    return { kind: "deny", reason: `method ${method} is not in the authorisation table` };
  if (identity.kind === "unknown")
    return { kind: "deny", reason: `unknown identity ${JSON.stringify(identity.commonName)}` };
  if (!roles.includes(identity.kind))
    return {
      kind: "deny",
      reason: `the ${identity.kind} role may not call ${method} (allowed: ${roles.join(", ")})`,
    };
  return identity.kind === "node"
    ? { kind: "allow-as-node", nodeName: identity.nodeName }
    : { kind: "allow" };
}
