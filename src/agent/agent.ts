import { join } from "node:path";
import { cpus, freemem, loadavg, totalmem } from "node:os";
import type { Server } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { vmFromPbTrusted, vmStatusToPb } from "../api/convert-vm.js";
import { statusToPb, workloadFromPbTrusted } from "../api/convert-wasm-workload.js";
import { addGatedService } from "../api/gate.js";
import { createClient, type ServiceClient } from "../api/grpc-client.js";
import { addStandardServices, bind, newServer, shutdown } from "../api/server-common.js";
import { clientCredentials, ReloadableServerCredentials, type TlsMaterial } from "../api/tls.js";
import { CertRenewer } from "./cert-renewer.js";
import { Peers } from "../api/peers.js";
import { rebuildToPb } from "../api/convert-node.js";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "../domain/backoff.js";
import type { RebuildOutcome } from "../domain/node.js";
import type { SafeName } from "../domain/names.js";
import { AgentService, NodeAgentService } from "../gen/kcore/v1/agent_pb.js";
import { nodeAgentService } from "./node-agent-service.js";
import { ModuleService } from "../gen/kcore/v1/module_pb.js";
import { KCORE_VERSION } from "../version.js";
import type { HypervisorDriver } from "../vm/driver.js";
import { systemClock, type Clock } from "./clock.js";
import { NixosRealizer } from "./nixos/realizer.js";
import { VmManager } from "./vms/vm-manager.js";
import { WasmManager } from "./wasm/wasm-manager.js";

export interface AgentOptions {
  readonly dataDir: string;
  readonly nodeName: SafeName;
  /** host:port of the controller. */
  readonly controller: string;
  /** host:port to serve the controller on; port 0 picks a free one. */
  readonly listen: string;
  /** host:port the controller should use to reach this agent; defaults to the bound listen address. */
  readonly advertise?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly tls: TlsMaterial;
  readonly logger: Logger;
  readonly maxWorkloads: number;
  /** Schedulable cpus per core: above 1 overcommits (idle VMs share cores). */
  readonly cpuAllocationRatio: number;
  readonly backoff?: BackoffPolicy;
  readonly clock?: Clock;
  readonly heartbeatMs?: number;
  /** Renew the node certificate when this little time is left (default: a third of its life). */
  readonly renewBeforeMs?: number;
  readonly resyncMs?: number;
  /** Module processes kept started ahead of need. Default 2. */
  readonly warmPool?: number;
  /** Runs this node's VMs. */
  readonly hypervisor: HypervisorDriver;
  /** Where hypervisor sockets live (`/run/kcore` as root). */
  readonly runDir: string;
  /** How long a guest has to shut down after the ACPI power button. Default 30 s. */
  readonly vmStopTimeoutMs?: number;
  /** How often each VM's hypervisor is observed. Default 1 s. */
  readonly vmPollMs?: number;
  /** `direct`: the agent runs hypervisors itself; `nixos`: rendered into a module for nixos-rebuild. */
  readonly realizer: Realizer;
}

export type Realizer =
  | { readonly kind: "direct" }
  | {
      readonly kind: "nixos";
      /** Where the rendered module is written (`/etc/nixos/kcore-vms.nix`). */
      readonly configFile: string;
      /** argv prefix of the rebuild command; `test` or `switch` is appended. */
      readonly rebuildCommand: readonly string[];
      readonly debounceMs?: number;
    };

/**
 * The node agent: registers, heartbeats, and converges on the controller's desired state for its
 * node. WebAssembly workloads and VMs each have their manager; this class connects them to the
 * controller.
 */
export class Agent {
  readonly #o: AgentOptions;
  readonly #log: Logger;
  readonly #server: Server;
  readonly #wasm: WasmManager;
  readonly #vms: VmManager;
  readonly #nixos: NixosRealizer | undefined;
  /** A rebuild outcome the controller has not acknowledged yet. */
  #unreported: RebuildOutcome | undefined;
  readonly #abort = new AbortController();
  #agentClient: ServiceClient<typeof AgentService> | undefined;
  #moduleClient: ServiceClient<typeof ModuleService> | undefined;
  /** The last assignment received, reconciled again periodically (level-triggered). */
  #last: (() => void) | undefined;
  #timers: NodeJS.Timeout[] = [];
  /** The node's certificate and key as last renewed. */
  #tls: TlsMaterial;
  readonly #credentials: ReloadableServerCredentials;
  readonly #renewer: CertRenewer;
  /** Revoked callers (the controller's CRLs): refused at the handshake, open connections cut. */
  readonly #peers = new Peers();
  #crlPems: readonly string[] = [];
  #revocationVersion = "";
  port = 0;

  constructor(o: AgentOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: "agent", node: o.nodeName });
    const clock = o.clock ?? systemClock;
    this.#tls = o.tls;
    this.#credentials = new ReloadableServerCredentials(o.tls);
    this.#renewer = new CertRenewer({
      dataDir: o.dataDir,
      clock,
      logger: this.#log,
      ...(o.renewBeforeMs === undefined ? {} : { renewBeforeMs: o.renewBeforeMs }),
      current: () => this.#tls,
      sign: (csrPem) => this.#agent().renewCertificate({ csrPem }, { timeoutMs: 30_000 }),
      renewed: (tls) => {
        this.#tls = tls;
        this.#credentials.reload({ ...tls, crlPems: this.#crlPems });
        // New connections to the controller present the new certificate; the old ones close
        // (the watch reconnects at once), so nothing keeps using the old one until it expires.
        this.#agentClient?.close();
        this.#moduleClient?.close();
        this.#agentClient = undefined;
        this.#moduleClient = undefined;
      },
    });
    const backoff = o.backoff ?? DEFAULT_BACKOFF;
    this.#server = newServer();
    this.#wasm = new WasmManager({
      dataDir: o.dataDir,
      logger: this.#log,
      clock,
      backoff,
      warmPool: o.warmPool ?? 2,
      fetchModule: async (sha256) =>
        (await this.#modules().fetchModule({ sha256 }, { timeoutMs: 60_000 })).content,
      report: (items) =>
        this.#agent().reportWorkloadStatus(
          {
            nodeName: o.nodeName,
            reports: items.map(({ w, status }) => ({
              name: w.metadata.name,
              uid: w.metadata.uid,
              status: statusToPb(status),
            })),
          },
          { timeoutMs: 10_000 },
        ),
    });
    const r = o.realizer;
    this.#nixos =
      r.kind === "nixos"
        ? new NixosRealizer({
            node: o.nodeName,
            configFile: r.configFile,
            rebuildCommand: r.rebuildCommand,
            stateDir: join(o.dataDir, "nixos"),
            logger: this.#log,
            clock,
            ...(r.debounceMs === undefined ? {} : { debounceMs: r.debounceMs }),
            report: (outcome) => {
              this.#unreported = outcome;
              void this.#reportRebuild();
            },
          })
        : undefined;
    this.#vms = new VmManager({
      ...(this.#nixos ? { realizer: this.#nixos } : {}),
      dataDir: o.dataDir,
      runDir: o.runDir,
      driver: o.hypervisor,
      logger: this.#log.child({ component: "vms" }),
      clock,
      backoff,
      stopTimeoutMs: o.vmStopTimeoutMs ?? 30_000,
      pollMs: o.vmPollMs ?? 1000,
      report: (items) =>
        this.#agent().reportVmStatus(
          {
            nodeName: o.nodeName,
            reports: items.map(({ vm, status }) => ({
              name: vm.metadata.name,
              uid: vm.metadata.uid,
              status: vmStatusToPb(status),
            })),
          },
          { timeoutMs: 10_000 },
        ),
    });
    const gate = { logger: this.#log, peers: this.#peers };
    addGatedService(
      this.#server,
      NodeAgentService,
      nodeAgentService({
        nodeName: o.nodeName,
        wasm: this.#wasm,
        vms: this.#vms,
        nixos:
          this.#nixos && o.realizer.kind === "nixos"
            ? { realizer: this.#nixos, configFile: o.realizer.configFile }
            : undefined,
      }),
      gate,
    );
    addStandardServices(this.#server, gate);
  }

  /** Read through a method so that checks after an await are not narrowed away. */
  #stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  #agent(): ServiceClient<typeof AgentService> {
    this.#agentClient ??= createClient(
      AgentService,
      this.#o.controller,
      clientCredentials(this.#tls, "controller"),
    );
    return this.#agentClient;
  }

  #modules(): ServiceClient<typeof ModuleService> {
    this.#moduleClient ??= createClient(
      ModuleService,
      this.#o.controller,
      clientCredentials(this.#tls, "controller"),
    );
    return this.#moduleClient;
  }

  async start(): Promise<void> {
    this.port = await bind(this.#server, this.#o.listen, this.#credentials);
    this.#renewer.start();
    this.#wasm.adoptFromDisk();
    this.#vms.adoptFromDisk();
    void this.#connectLoop();
    this.#timers.push(
      setInterval(() => {
        void this.#heartbeat();
      }, this.#o.heartbeatMs ?? 10_000),
      setInterval(() => {
        this.#last?.();
        this.#reportAll();
      }, this.#o.resyncMs ?? 30_000),
    );
    this.#log.info({ port: this.port, cgroups: this.#wasm.cgroups.kind }, "agent serving");
  }

  /** Stops talking to the controller. Running modules and VMs are left running (fail-static). */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#renewer.close();
    this.#wasm.close();
    this.#vms.close();
    this.#nixos?.close();
    for (const t of this.#timers) clearInterval(t);
    await shutdown(this.#server, 1000);
    this.#agentClient?.close();
    this.#moduleClient?.close();
  }

  #reportAll(): void {
    this.#wasm.reportAll();
    this.#vms.reportAll();
    this.#unreported ??= this.#nixos?.lastOutcome();
    void this.#reportRebuild();
  }

  async #reportRebuild(): Promise<void> {
    const outcome = this.#unreported;
    if (!outcome) return;
    try {
      await this.#agent().reportRebuild(
        { nodeName: this.#o.nodeName, outcome: rebuildToPb(outcome) },
        { timeoutMs: 10_000 },
      );
      if (this.#unreported === outcome) this.#unreported = undefined;
    } catch (e) {
      this.#log.debug(
        { err: e instanceof Error ? e.message : String(e) },
        "reporting the rebuild outcome failed; it is sent again on the next resync",
      );
    }
  }

  async #connectLoop(): Promise<void> {
    let delay = 500;
    while (!this.#abort.signal.aborted) {
      try {
        await this.#register();
        delay = 500;
        this.#reportAll();
        for await (const msg of this.#agent().watchAssignments(
          { nodeName: this.#o.nodeName },
          { signal: this.#abort.signal },
        )) {
          const workloads = msg.workloads.map(workloadFromPbTrusted);
          const vms = msg.vms.flatMap((a) =>
            a.vm ? [{ vm: vmFromPbTrusted(a.vm), sshPublicKeys: [...a.sshPublicKeys] }] : [],
          );
          this.#last = () => {
            this.#wasm.reconcile(workloads);
            this.#vms.reconcile(vms);
          };
          this.#last();
        }
      } catch (e) {
        if (this.#stopped()) return;
        this.#log.warn(
          { err: e instanceof Error ? e.message : String(e) },
          "controller connection lost; retrying",
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  }

  async #register(): Promise<void> {
    await this.#agent().registerNode(
      {
        nodeName: this.#o.nodeName,
        labels: { ...this.#o.labels },
        capacity: {
          cpuMillis: BigInt(Math.round(cpus().length * 1000 * this.#o.cpuAllocationRatio)),
          memoryBytes: BigInt(totalmem()),
          workloads: BigInt(this.#o.maxWorkloads),
        },
        hypervisor: this.#o.hypervisor.kind,
        realizer: this.#o.realizer.kind,
        version: KCORE_VERSION,
        address: this.#o.advertise ?? `127.0.0.1:${this.port}`,
      },
      { timeoutMs: 10_000 },
    );
    this.#log.info({ controller: this.#o.controller }, "registered");
  }

  /** Fetches the controller's revocations and serves with them (when they changed). */
  async #refreshRevocations(): Promise<void> {
    const r = await this.#agent().getRevocations(
      { nodeName: this.#o.nodeName },
      { timeoutMs: 10_000 },
    );
    this.#crlPems = [...r.crlPems];
    this.#credentials.reload({ ...this.#tls, crlPems: this.#crlPems });
    this.#peers.setRevoked(r.revokedSerials);
    const cut = this.#peers.cut(r.revokedSerials);
    this.#revocationVersion = r.revocationVersion;
    this.#log.info(
      { version: r.revocationVersion, revoked: r.revokedSerials.length, connectionsClosed: cut },
      "revocations updated",
    );
  }

  async #heartbeat(): Promise<void> {
    try {
      const res = await this.#agent().heartbeat(
        {
          nodeName: this.#o.nodeName,
          usage: {
            cpuMillis: BigInt(Math.round((loadavg()[0] ?? 0) * 1000)),
            memoryBytes: BigInt(totalmem() - freemem()),
            workloads: BigInt(this.#wasm.runningCount()),
          },
        },
        { timeoutMs: 5000 },
      );
      if (res.revocationVersion !== this.#revocationVersion) await this.#refreshRevocations();
    } catch (e) {
      this.#log.debug({ err: e instanceof Error ? e.message : String(e) }, "heartbeat failed");
    }
  }
}
