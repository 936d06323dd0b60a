import type { Logger } from "pino";
import type { ServiceClient } from "../api/grpc-client.js";
import type { NodeAgentService } from "../gen/kcore/v1/agent_pb.js";
import type { CertKeyPair } from "../pki/pki.js";
import type { NodeStore } from "../store/node-store.js";
import type { VmSpec, VmStatus } from "../domain/vm.js";
import type { WasmWorkloadSpec, WasmWorkloadStatus } from "../domain/wasm-workload.js";
import type { SshKeyStore } from "../store/ssh-key-store.js";
import type { VmStore } from "../store/vm-store.js";
import type { WasmWorkloadStore } from "../store/wasm-workload-store.js";
import type { ModuleBlobs } from "./module-blobs.js";
import type { AuditLog } from "../store/audit-log.js";

/** What the controller's services share. */
export interface ControllerContext {
  readonly logger: Logger;
  readonly workloads: WasmWorkloadStore;
  readonly vms: VmStore;
  readonly sshKeys: SshKeyStore;
  readonly nodes: NodeStore;
  readonly blobs: ModuleBlobs;
  readonly audit: AuditLog;
  /** Place a new workload or VM inside its apply transaction. */
  readonly placeWasm: (spec: WasmWorkloadSpec) => Partial<WasmWorkloadStatus>;
  readonly placeVm: (spec: VmSpec) => Partial<VmStatus>;
  readonly now: () => Date;
  /** The cluster CA, read when needed so that the key is not kept in memory longer than necessary. */
  readonly ca: () => CertKeyPair;
  /** A client of the agent at `address`, with the controller's identity. */
  readonly agentClient: (address: string) => ServiceClient<typeof NodeAgentService>;
}
