import type { Logger } from "pino";
import type { ServiceClient } from "../api/grpc-client.js";
import type { NodeAgentService } from "../gen/kcore/v1/agent_pb.js";
import type { ClusterPki } from "./cluster-pki.js";
import type { JoinTokenStore } from "../store/join-token-store.js";
import type { Node } from "../domain/node.js";
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
  /** Signing, revocation, rotation; keys are read from the data directory when used. */
  readonly pki: ClusterPki;
  /** How long a node certificate the controller signs is valid. */
  readonly nodeCertTtlMs: number;
  readonly joinTokens: JoinTokenStore;
  /** New nodes wait as Pending until an operator approves them (--require-approval). */
  readonly requireApproval: boolean;
  /** The port of the controller's API, told to joining nodes. */
  readonly apiPort: () => number;
  /**
   * A client of a node's agent, with the controller's identity; the agent must present the
   * certificate of that very node.
   */
  readonly agentClient: (node: Node) => ServiceClient<typeof NodeAgentService>;
}
