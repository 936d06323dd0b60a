import { join } from "node:path";
import type { Server } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { Histogram, Registry } from "prom-client";
import { createClient, type ServiceClient } from "../api/grpc-client.js";
import { addGatedService, gateLimits, type GateOptions } from "../api/gate.js";
import type { LimitSettings } from "../api/limits.js";
import { addStandardServices, bind, newServer, shutdown } from "../api/server-common.js";
import { clientCredentials } from "../api/tls.js";
import { AgentService, NodeAgentService } from "../gen/kcore/v1/agent_pb.js";
import { ModuleService } from "../gen/kcore/v1/module_pb.js";
import { NodeService } from "../gen/kcore/v1/node_pb.js";
import { WasmWorkloadService } from "../gen/kcore/v1/wasm_workload_pb.js";
import { Peers } from "../api/peers.js";
import { CertStore } from "../store/cert-store.js";
import { ClusterPki } from "./cluster-pki.js";
import { DEFAULT_NODE_CERT_TTL_MS } from "./node-certs.js";
import { openDatabase, type Db } from "../store/database.js";
import { GroupCommitter } from "../store/group-commit.js";
import { NodeStore } from "../store/node-store.js";
import { SshKeyStore } from "../store/ssh-key-store.js";
import { VmStore } from "../store/vm-store.js";
import { WasmWorkloadStore } from "../store/wasm-workload-store.js";
import { PENDING_VM_STATUS } from "../domain/vm.js";
import { PENDING_STATUS } from "../domain/wasm-workload.js";
import { VmService } from "../gen/kcore/v1/vm_pb.js";
import { vmService } from "./services/vm-service.js";
import type { ControllerContext } from "./context.js";
import { ModuleBlobs } from "./module-blobs.js";
import { SchedulerLoop } from "./scheduler-loop.js";
import { agentService } from "./services/agent-service.js";
import { moduleService } from "./services/module-service.js";
import { nodeService } from "./services/node-service.js";
import { accessService } from "./services/access-service.js";
import { AccessService, JoinService } from "../gen/kcore/v1/access_pb.js";
import { joinService } from "./services/join-service.js";
import { JoinTokenStore } from "../store/join-token-store.js";
import { AuditLog } from "../store/audit-log.js";
import { wasmWorkloadService } from "./services/wasm-workload-service.js";

export interface ControllerOptions {
  readonly dataDir: string;
  /** host:port; port 0 picks a free one. */
  readonly listen: string;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** Per-identity rate and stream limits, deadlines (defaults: DEFAULT_LIMITS). */
  readonly limits?: LimitSettings;
  /** Lifetime of the node certificates it signs (default DEFAULT_NODE_CERT_TTL_MS). */
  readonly nodeCertTtlMs?: number;
  /** host:port of the join port (nodes joining with a token); none when absent. */
  readonly joinListen?: string;
  /** New nodes wait as Pending until approved. */
  readonly requireApproval?: boolean;
}

/** The controller daemon: store, API, scheduler. */
export class Controller {
  readonly #opts: ControllerOptions;
  readonly #db: Db;
  readonly #server: Server;
  readonly #scheduler: SchedulerLoop;
  readonly #agentClients = new Map<string, ServiceClient<typeof NodeAgentService>>();
  readonly #pki: ClusterPki;
  readonly #joinServer: Server | undefined;
  joinPort = 0;
  readonly metrics = new Registry();
  #sweep: NodeJS.Timeout | undefined;
  port = 0;

  constructor(opts: ControllerOptions) {
    this.#opts = opts;
    const logger = opts.logger;
    const now = opts.now ?? (() => new Date());
    this.#db = openDatabase(join(opts.dataDir, "state.db"), logger);
    const commit = new GroupCommitter(this.#db);
    const workloads = new WasmWorkloadStore(this.#db, commit);
    const vms = new VmStore(this.#db, commit);
    const sshKeys = new SshKeyStore(this.#db, commit);
    const nodes = new NodeStore(this.#db, commit);
    const blobs = new ModuleBlobs(opts.dataDir);
    const audit = new AuditLog(this.#db, commit, now);
    const peers = new Peers();
    this.#pki = new ClusterPki({
      dataDir: opts.dataDir,
      certs: new CertStore(this.#db, commit),
      peers,
      logger,
      now,
    });
    // Agents are reached with the controller's current certificate: after a rotation, new
    // channels are made with the new one.
    this.#pki.onReload = () => {
      for (const c of this.#agentClients.values()) c.close();
      this.#agentClients.clear();
    };
    const scheduler = new SchedulerLoop(
      workloads,
      vms,
      nodes,
      logger.child({ component: "scheduler" }),
      now,
    );
    this.#scheduler = scheduler;
    const ctx: ControllerContext = {
      placeWasm: scheduler.placeWasm(PENDING_STATUS),
      placeVm: scheduler.placeVm(PENDING_VM_STATUS),
      logger,
      workloads,
      vms,
      sshKeys,
      nodes,
      blobs,
      audit,
      now,
      pki: this.#pki,
      nodeCertTtlMs: opts.nodeCertTtlMs ?? DEFAULT_NODE_CERT_TTL_MS,
      joinTokens: new JoinTokenStore(this.#db, commit),
      requireApproval: opts.requireApproval ?? false,
      apiPort: () => this.port,
      agentClient: (node) => {
        const address = node.status.address;
        const key = `${node.metadata.name} ${address}`;
        let c = this.#agentClients.get(key);
        if (!c) {
          c = createClient(
            NodeAgentService,
            address,
            clientCredentials(this.#pki.tls, { node: node.metadata.name }),
          );
          this.#agentClients.set(key, c);
        }
        return c;
      },
    };
    const latency = new Histogram({
      name: "kcore_api_request_duration_seconds",
      help: "gRPC call latency by method and status code",
      labelNames: ["method", "code"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [this.metrics],
    });
    const admission = new Histogram({
      name: "kcore_api_admission_seconds",
      help: "Time a call spent in the gate before its handler: identity, revocation, authorisation table, limits",
      labelNames: ["method"],
      buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005],
      registers: [this.metrics],
    });
    const auditWrite = new Histogram({
      name: "kcore_audit_write_seconds",
      help: "Time spent writing audit records (inside the change's transaction, or on their own)",
      buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.05],
      registers: [this.metrics],
    });
    audit.observe = (seconds) => {
      auditWrite.observe(seconds);
    };
    const limits = gateLimits(opts.limits);
    this.#sweep = setInterval(() => {
      limits.rate.sweep();
    }, 60_000);
    this.#sweep.unref();
    const gate: GateOptions = {
      logger,
      audit,
      limits,
      peers,
      observeAdmission: (method, seconds) => {
        admission.observe({ method }, seconds);
      },
      observe: (method, code, seconds) => {
        latency.observe({ method, code: String(code) }, seconds);
      },
    };
    this.#server = newServer();
    addGatedService(this.#server, WasmWorkloadService, wasmWorkloadService(ctx), gate);
    addGatedService(this.#server, NodeService, nodeService(ctx), gate);
    addGatedService(this.#server, AgentService, agentService(ctx), gate);
    addGatedService(this.#server, ModuleService, moduleService(ctx), gate);
    addGatedService(this.#server, VmService, vmService(ctx), gate);
    addGatedService(this.#server, AccessService, accessService(ctx), gate);
    addStandardServices(this.#server, gate);
    if (opts.joinListen !== undefined) {
      this.#joinServer = newServer();
      addGatedService(this.#joinServer, JoinService, joinService(ctx), gate);
    }
  }

  async start(): Promise<number> {
    const credentials = await this.#pki.init();
    this.port = await bind(this.#server, this.#opts.listen, credentials);
    if (this.#joinServer && this.#opts.joinListen !== undefined)
      this.joinPort = await bind(
        this.#joinServer,
        this.#opts.joinListen,
        this.#pki.joinCredentials(),
      );
    this.#scheduler.start();
    this.#opts.logger.info(
      { listen: this.#opts.listen, port: this.port, joinPort: this.joinPort },
      "controller serving",
    );
    return this.port;
  }

  /** Re-reads certificates, keys and revocations from the data directory (SIGHUP). */
  reload(): Promise<void> {
    return this.#pki.reload();
  }

  /** Stops serving (in-flight calls get `graceMs`), then closes the store. Workloads are not touched. */
  async stop(graceMs = 2000): Promise<void> {
    clearInterval(this.#sweep);
    await Promise.all([
      shutdown(this.#server, graceMs),
      ...(this.#joinServer ? [shutdown(this.#joinServer, graceMs)] : []),
    ]);
    for (const c of this.#agentClients.values()) c.close();
    // After the server: a call in its grace period may still place work.
    await this.#scheduler.stop();
    this.#db.close();
  }
}
