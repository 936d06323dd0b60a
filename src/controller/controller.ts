import { join } from "node:path";
import type { Server } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { Histogram, Registry } from "prom-client";
import { createClient, type ServiceClient } from "../api/grpc-client.js";
import { addGatedService, gateLimits, type GateOptions } from "../api/gate.js";
import type { LimitSettings } from "../api/limits.js";
import { addStandardServices, bind, newServer, shutdown } from "../api/server-common.js";
import { clientCredentials, serverCredentials, type TlsMaterial } from "../api/tls.js";
import { AgentService, NodeAgentService } from "../gen/kcore/v1/agent_pb.js";
import { ModuleService } from "../gen/kcore/v1/module_pb.js";
import { NodeService } from "../gen/kcore/v1/node_pb.js";
import { WasmWorkloadService } from "../gen/kcore/v1/wasm_workload_pb.js";
import { CERT_FILES, certsDir, readPem } from "../pki/cert-files.js";
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
import { AccessService } from "../gen/kcore/v1/access_pb.js";
import { AuditLog } from "../store/audit-log.js";
import { wasmWorkloadService } from "./services/wasm-workload-service.js";

export interface ControllerOptions {
  readonly dataDir: string;
  /** host:port; port 0 picks a free one. */
  readonly listen: string;
  readonly tls: TlsMaterial;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** Per-identity rate and stream limits, deadlines (defaults: DEFAULT_LIMITS). */
  readonly limits?: LimitSettings;
}

/** The controller daemon: store, API, scheduler. */
export class Controller {
  readonly #opts: ControllerOptions;
  readonly #db: Db;
  readonly #server: Server;
  readonly #scheduler: SchedulerLoop;
  readonly #agentClients = new Map<string, ServiceClient<typeof NodeAgentService>>();
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
      ca: () => ({
        certPem: readPem(certsDir(opts.dataDir), CERT_FILES.caCert),
        keyPem: readPem(certsDir(opts.dataDir), CERT_FILES.caKey),
      }),
      agentClient: (address) => {
        let c = this.#agentClients.get(address);
        if (!c) {
          c = createClient(NodeAgentService, address, clientCredentials(opts.tls, "node"));
          this.#agentClients.set(address, c);
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
    const limits = gateLimits(opts.limits);
    this.#sweep = setInterval(() => {
      limits.rate.sweep();
    }, 60_000);
    this.#sweep.unref();
    const gate: GateOptions = {
      logger,
      audit,
      limits,
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
  }

  async start(): Promise<number> {
    this.port = await bind(this.#server, this.#opts.listen, serverCredentials(this.#opts.tls));
    this.#scheduler.start();
    this.#opts.logger.info({ listen: this.#opts.listen, port: this.port }, "controller serving");
    return this.port;
  }

  /** Stops serving (in-flight calls get `graceMs`), then closes the store. Workloads are not touched. */
  async stop(graceMs = 2000): Promise<void> {
    this.#scheduler.stop();
    clearInterval(this.#sweep);
    await shutdown(this.#server, graceMs);
    for (const c of this.#agentClients.values()) c.close();
    this.#db.close();
  }
}
