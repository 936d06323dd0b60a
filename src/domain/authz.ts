import type { Identity } from "./identity.js";

/** Who may call a method. `self-node` means a node acting only for itself (checked per request). */
export type Rule = "admin" | "controller" | "self-node" | "admin-or-controller";

/**
 * The one authorisation table. Every method every daemon serves has an entry; a method without
 * one is refused. Keys are full gRPC paths.
 */
export const AUTHZ_TABLE: Readonly<Record<string, Rule>> = {
  "/kcore.v1.WasmWorkloadService/ApplyWasmWorkload": "admin",
  "/kcore.v1.WasmWorkloadService/GetWasmWorkload": "admin",
  "/kcore.v1.WasmWorkloadService/ListWasmWorkloads": "admin",
  "/kcore.v1.WasmWorkloadService/DeleteWasmWorkload": "admin",
  "/kcore.v1.WasmWorkloadService/WatchWasmWorkloads": "admin",
  "/kcore.v1.WasmWorkloadService/WorkloadLogs": "admin",
  "/kcore.v1.VmService/ApplyVm": "admin",
  "/kcore.v1.VmService/GetVm": "admin",
  "/kcore.v1.VmService/ListVms": "admin",
  "/kcore.v1.VmService/DeleteVm": "admin",
  "/kcore.v1.VmService/WatchVms": "admin",
  "/kcore.v1.VmService/SetVmState": "admin",
  "/kcore.v1.VmService/VmConsoleLog": "admin",
  "/kcore.v1.VmService/AttachConsole": "admin",
  "/kcore.v1.VmService/ApplySshKey": "admin",
  "/kcore.v1.VmService/GetSshKey": "admin",
  "/kcore.v1.VmService/ListSshKeys": "admin",
  "/kcore.v1.VmService/DeleteSshKey": "admin",
  "/kcore.v1.ModuleService/UploadModule": "admin",
  "/kcore.v1.ModuleService/FetchModule": "self-node",
  "/kcore.v1.NodeService/GetNode": "admin",
  "/kcore.v1.NodeService/RenderNix": "admin",
  "/kcore.v1.NodeService/ListNodes": "admin",
  "/kcore.v1.NodeService/SignNodeCertificate": "admin",
  "/kcore.v1.AgentService/RegisterNode": "self-node",
  "/kcore.v1.AgentService/Heartbeat": "self-node",
  "/kcore.v1.AgentService/WatchAssignments": "self-node",
  "/kcore.v1.AgentService/ReportWorkloadStatus": "self-node",
  "/kcore.v1.AgentService/ReportVmStatus": "self-node",
  "/kcore.v1.AgentService/ReportRebuild": "self-node",
  "/kcore.v1.NodeAgentService/ReadLogs": "controller",
  "/kcore.v1.NodeAgentService/ReadVmConsole": "controller",
  "/kcore.v1.NodeAgentService/AttachVmConsole": "controller",
  "/kcore.v1.NodeAgentService/RenderNix": "controller",
  "/grpc.health.v1.Health/Check": "admin-or-controller",
  "/grpc.health.v1.Health/Watch": "admin-or-controller",
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": "admin",
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": "admin",
};

/** The outcome of an authorisation check. */
export type Decision =
  | { readonly kind: "allow" }
  /** Allowed if the request's node name equals this one (the caller's own). */
  | { readonly kind: "allow-as-node"; readonly nodeName: string }
  | { readonly kind: "deny"; readonly reason: string };

/** Decides whether `identity` may call `method`. Unknown methods and identities are refused. */
export function authorize(method: string, identity: Identity): Decision {
  const rule = Object.hasOwn(AUTHZ_TABLE, method) ? AUTHZ_TABLE[method] : undefined;
  if (rule === undefined)
    return { kind: "deny", reason: `method ${method} is not in the authorisation table` };
  const denied: Decision = { kind: "deny", reason: `identity is not allowed to call ${method}` };
  switch (identity.kind) {
    case "unknown":
      return { kind: "deny", reason: `unknown identity ${JSON.stringify(identity.commonName)}` };
    case "admin":
      return rule === "admin" || rule === "admin-or-controller" ? { kind: "allow" } : denied;
    case "controller":
      return rule === "controller" || rule === "admin-or-controller" ? { kind: "allow" } : denied;
    case "node":
      return rule === "self-node" ? { kind: "allow-as-node", nodeName: identity.nodeName } : denied;
  }
}
