import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, freemem, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import type { Server } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { createClient, type ServiceClient } from "../api/grpc-client.js";
import { addGatedService } from "../api/gate.js";
import { statusToPb, workloadFromPbTrusted } from "../api/convert-wasm-workload.js";
import { addStandardServices, bind, newServer, shutdown } from "../api/server-common.js";
import { clientCredentials, serverCredentials, type TlsMaterial } from "../api/tls.js";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "../domain/backoff.js";
import { KcoreError } from "../domain/errors.js";
import type { SafeName } from "../domain/names.js";
import type { WasmWorkload, WasmWorkloadStatus } from "../domain/wasm-workload.js";
import { AgentService, NodeAgentService } from "../gen/kcore/v1/agent_pb.js";
import { ModuleService } from "../gen/kcore/v1/module_pb.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { gateHostDirectory, gatePath } from "../util/path-gate.js";
import { detectCgroups, type Cgroups } from "./cgroups.js";
import { systemClock, type Clock } from "./clock.js";
import { RUNTIME_WRITE, workloadPaths, UUID, type WorkloadPaths } from "./layout.js";
import { readLogs } from "./log-reader.js";
import { ModuleCache } from "./module-cache.js";
import { WorkloadSupervisor, type Prepared, type SupervisorRecord } from "./supervisor.js";
import { WasmLauncher, type RunFiles } from "./wasm-launcher.js";

import { KCORE_VERSION } from "../version.js";
import { vmFromPbTrusted } from "../api/convert-vm.js";
import type { HypervisorDriver } from "../vm/driver.js";
import { VmManager, type VmAssignmentOnNode } from "./vm-manager.js";

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
  readonly backoff?: BackoffPolicy;
  readonly clock?: Clock;
  readonly heartbeatMs?: number;
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
}

/** The node agent: registers, heartbeats, converges on the controller's desired state for its node. */
export class Agent {
  readonly #o: AgentOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #server: Server;
  readonly #cgroups: Cgroups;
  readonly #launcher: WasmLauncher;
  readonly #cache: ModuleCache;
  readonly #supervisors = new Map<string, WorkloadSupervisor>();
  readonly #removing = new Map<string, Promise<void>>();
  readonly #files = new Map<string, RunFiles>();
  readonly #dirty = new Map<string, { w: WasmWorkload; status: WasmWorkloadStatus }>();
  readonly #abort = new AbortController();
  readonly #vms: VmManager;
  #agentClient: ServiceClient<typeof AgentService> | undefined;
  #moduleClient: ServiceClient<typeof ModuleService> | undefined;
  #lastSnapshot: WasmWorkload[] | undefined;
  #lastVms: VmAssignmentOnNode[] | undefined;
  #flushScheduled = false;
  #timers: NodeJS.Timeout[] = [];
  port = 0;

  constructor(o: AgentOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: "agent", node: o.nodeName });
    this.#clock = o.clock ?? systemClock;
    this.#server = newServer();
    this.#cgroups = detectCgroups(this.#log);
    if (this.#cgroups.kind === "none")
      this.#log.warn(
        { reason: this.#cgroups.reason },
        "cgroups unavailable: no CPU limits, memory limited inside the module only",
      );
    this.#launcher = new WasmLauncher({
      logger: this.#log,
      cgroups: this.#cgroups,
      pollMs: 200,
      warmPool: o.warmPool ?? 2,
    });
    this.#cache = new ModuleCache(o.dataDir, async (sha256) => {
      const res = await this.#modules().fetchModule({ sha256 }, { timeoutMs: 60_000 });
      return res.content;
    });
    this.#vms = new VmManager({
      dataDir: o.dataDir,
      runDir: o.runDir,
      driver: o.hypervisor,
      logger: this.#log,
      clock: this.#clock,
      backoff: o.backoff ?? DEFAULT_BACKOFF,
      stopTimeoutMs: o.vmStopTimeoutMs ?? 30_000,
      pollMs: o.vmPollMs ?? 1000,
      report: (reports) =>
        this.#agent().reportVmStatus({ nodeName: o.nodeName, reports }, { timeoutMs: 10_000 }),
    });
    const gate = { logger: this.#log };
    addGatedService(
      this.#server,
      NodeAgentService,
      {
        readLogs: async (req, ctx, send) => {
          if (!UUID.test(req.workloadUid))
            throw new KcoreError("InvalidArgument", "workloadUid: not a UUID");
          const paths = workloadPaths(this.#o.dataDir, req.workloadName, req.workloadUid);
          const sup = this.#supervisors.get(req.workloadUid);
          const logDir = gatePath(this.#o.dataDir, [
            "logs",
            `${req.workloadName}_${req.workloadUid}`,
          ]);
          for await (const chunk of readLogs(logDir, {
            follow: req.follow,
            previous: req.previous,
            timestamps: req.timestamps,
            signal: ctx.signal,
            ...(req.tailLines === undefined ? {} : { tailLines: req.tailLines }),
            runEnded: (run) =>
              existsSync(paths.runExit(run)) ||
              sup === undefined ||
              sup.state.kind === "Terminated",
          })) {
            send({ data: chunk });
          }
        },
        readVmConsole: async (req, ctx, send) => {
          for await (const chunk of this.#vms.readConsole(req.vmName, req.vmUid, {
            follow: req.follow,
            signal: ctx.signal,
            ...(req.tailLines === undefined ? {} : { tailLines: req.tailLines }),
          }))
            send({ data: chunk });
        },
        attachVmConsole: (requests, ctx, send) =>
          this.#vms.attachConsole(requests, ctx.signal, send),
      },
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
      clientCredentials(this.#o.tls, "controller"),
    );
    return this.#agentClient;
  }

  #modules(): ServiceClient<typeof ModuleService> {
    this.#moduleClient ??= createClient(
      ModuleService,
      this.#o.controller,
      clientCredentials(this.#o.tls, "controller"),
    );
    return this.#moduleClient;
  }

  async start(): Promise<void> {
    this.port = await bind(this.#server, this.#o.listen, serverCredentials(this.#o.tls));
    this.#adoptFromDisk();
    this.#vms.adoptFromDisk();
    void this.#connectLoop();
    const hb = this.#o.heartbeatMs ?? 10_000;
    this.#timers.push(
      setInterval(() => {
        void this.#heartbeat();
      }, hb),
    );
    this.#timers.push(
      setInterval(() => {
        this.#resync();
      }, this.#o.resyncMs ?? 30_000),
    );
    this.#log.info({ port: this.port, cgroups: this.#cgroups.kind }, "agent serving");
  }

  /** Stops talking to the controller. Running modules are left running (fail-static). */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#launcher.close();
    this.#vms.close();
    for (const t of this.#timers) clearInterval(t);
    await shutdown(this.#server, 1000);
    this.#agentClient?.close();
    this.#moduleClient?.close();
  }

  /** Re-attaches to every workload recorded on disk, before the controller is reachable. */
  #adoptFromDisk(): void {
    const dir = join(this.#o.dataDir, "workloads");
    if (!existsSync(dir)) return;
    for (const uid of readdirSync(dir)) {
      if (!UUID.test(uid)) continue;
      try {
        const w = JSON.parse(readFileSync(join(dir, uid, "workload.json"), "utf8")) as WasmWorkload;
        const record = JSON.parse(
          readFileSync(join(dir, uid, "record.json"), "utf8"),
        ) as SupervisorRecord;
        this.#supervise(w, record);
      } catch (e) {
        this.#log.warn(
          { err: e, uid },
          "cannot read workload record; it will be reconciled from the controller",
        );
      }
    }
  }

  #paths(w: WasmWorkload): WorkloadPaths {
    return workloadPaths(this.#o.dataDir, w.metadata.name, w.metadata.uid);
  }

  #supervise(w: WasmWorkload, record?: SupervisorRecord): WorkloadSupervisor {
    const uid = w.metadata.uid;
    const paths = this.#paths(w);
    writeFileAtomic(join(paths.dir, "workload.json"), JSON.stringify(w), 0o600, RUNTIME_WRITE);
    const log = this.#log.child({ workload: w.metadata.name, uid });
    const sup = new WorkloadSupervisor(w, {
      clock: this.#clock,
      logger: log,
      backoff: this.#o.backoff ?? DEFAULT_BACKOFF,
      prepare: (cur) => this.#prepare(cur),
      launch: (cur, run) => {
        const files = this.#files.get(cur.metadata.uid);
        if (!files) return Promise.reject(new Error("run files missing"));
        return this.#launcher.launch(cur, run, files);
      },
      adopt: (cur, proc) => this.#launcher.adopt(this.#paths(cur), cur.metadata.uid, proc),
      persist: (rec) => {
        writeFileAtomic(paths.record, JSON.stringify(rec), 0o600, RUNTIME_WRITE);
      },
      report: (cur, status) => {
        this.#queueReport(cur, status);
      },
    });
    this.#supervisors.set(uid, sup);
    sup.start(record);
    return sup;
  }

  async #prepare(w: WasmWorkload): Promise<Prepared> {
    const paths = this.#paths(w);
    const preopens: RunFiles["preopens"][number][] = [];
    try {
      for (const v of w.spec.volumes) {
        const host =
          v.source.kind === "hostPath"
            ? gateHostDirectory(v.source.path, [this.#o.dataDir])
            : gatePath(this.#o.dataDir, ["workloads", w.metadata.uid, "volumes", v.name], {
                mkdir: true,
              });
        preopens.push({ guest: v.mountPath, host, readOnly: v.readOnly });
      }
    } catch (e) {
      return {
        kind: "failed",
        reason: "VolumeError",
        message: e instanceof Error ? e.message : String(e),
      };
    }
    const mod = await this.#cache.ensure(w.spec.module);
    if (!mod.ok) return { kind: "failed", reason: mod.reason, message: mod.message };
    this.#files.set(w.metadata.uid, { paths, modulePath: mod.path, preopens });
    return { kind: "ready" };
  }

  /** Converges on the desired set: starts what is missing, updates what changed, stops the rest. */
  reconcile(desired: readonly WasmWorkload[]): void {
    const want = new Map(desired.map((w) => [w.metadata.uid, w]));
    for (const [uid, sup] of this.#supervisors) {
      if (!want.has(uid)) this.#remove(uid, sup);
    }
    for (const w of desired) {
      if (this.#removing.has(w.metadata.uid)) continue;
      const sup = this.#supervisors.get(w.metadata.uid);
      if (!sup) this.#supervise(w);
      else if (sup.workload.metadata.generation !== w.metadata.generation) {
        writeFileAtomic(
          join(this.#paths(w).dir, "workload.json"),
          JSON.stringify(w),
          0o600,
          RUNTIME_WRITE,
        );
        void sup.update(w);
      }
    }
  }

  #remove(uid: string, sup: WorkloadSupervisor): void {
    if (this.#removing.has(uid)) return;
    const w = sup.workload;
    this.#log.info({ workload: w.metadata.name, uid }, "stopping removed workload");
    const p = sup
      .stop()
      .then(() => {
        this.#supervisors.delete(uid);
        this.#files.delete(uid);
        this.#dirty.delete(uid);
        const paths = this.#paths(w);
        rmSync(paths.dir, { recursive: true, force: true });
        rmSync(paths.logDir, { recursive: true, force: true });
      })
      .finally(() => this.#removing.delete(uid));
    this.#removing.set(uid, p);
  }

  #resync(): void {
    if (this.#lastSnapshot) this.reconcile(this.#lastSnapshot);
    if (this.#lastVms) this.#vms.reconcile(this.#lastVms);
    this.#vms.reportAll();
    for (const sup of this.#supervisors.values()) this.#queueReport(sup.workload, sup.status());
  }

  async #connectLoop(): Promise<void> {
    let delay = 500;
    while (!this.#abort.signal.aborted) {
      try {
        await this.#register();
        delay = 500;
        for (const sup of this.#supervisors.values()) this.#queueReport(sup.workload, sup.status());
        this.#vms.reportAll();
        for await (const msg of this.#agent().watchAssignments(
          { nodeName: this.#o.nodeName },
          { signal: this.#abort.signal },
        )) {
          const snapshot = msg.workloads.map(workloadFromPbTrusted);
          this.#lastSnapshot = snapshot;
          this.reconcile(snapshot);
          const vms = msg.vms.flatMap((a) =>
            a.vm ? [{ vm: vmFromPbTrusted(a.vm), sshPublicKeys: [...a.sshPublicKeys] }] : [],
          );
          this.#lastVms = vms;
          this.#vms.reconcile(vms);
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
          cpuMillis: BigInt(cpus().length * 1000),
          memoryBytes: BigInt(totalmem()),
          workloads: BigInt(this.#o.maxWorkloads),
        },
        hypervisor: this.#o.hypervisor.kind,
        realizer: existsSync("/etc/NIXOS") ? "nixos" : "direct",
        version: KCORE_VERSION,
        address: this.#o.advertise ?? `127.0.0.1:${this.port}`,
      },
      { timeoutMs: 10_000 },
    );
    this.#log.info({ controller: this.#o.controller }, "registered");
  }

  async #heartbeat(): Promise<void> {
    const running = [...this.#supervisors.values()].filter(
      (s) => s.state.kind === "Running",
    ).length;
    try {
      await this.#agent().heartbeat(
        {
          nodeName: this.#o.nodeName,
          usage: {
            cpuMillis: BigInt(Math.round((loadavg()[0] ?? 0) * 1000)),
            memoryBytes: BigInt(totalmem() - freemem()),
            workloads: BigInt(running),
          },
        },
        { timeoutMs: 5000 },
      );
    } catch (e) {
      this.#log.debug({ err: e instanceof Error ? e.message : String(e) }, "heartbeat failed");
    }
  }

  #queueReport(w: WasmWorkload, status: WasmWorkloadStatus): void {
    this.#dirty.set(w.metadata.uid, { w, status });
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    if (this.#dirty.size === 0) return;
    const batch = [...this.#dirty.values()];
    this.#dirty.clear();
    try {
      await this.#agent().reportWorkloadStatus(
        {
          nodeName: this.#o.nodeName,
          reports: batch.map(({ w, status }) => ({
            name: w.metadata.name,
            uid: w.metadata.uid,
            status: statusToPb(status),
          })),
        },
        { timeoutMs: 10_000 },
      );
    } catch (e) {
      if (this.#abort.signal.aborted) return;
      this.#log.debug(
        { err: e instanceof Error ? e.message : String(e) },
        "status report failed; will retry",
      );
      for (const b of batch)
        if (!this.#dirty.has(b.w.metadata.uid)) this.#dirty.set(b.w.metadata.uid, b);
      setTimeout(() => {
        if (!this.#flushScheduled) {
          this.#flushScheduled = true;
          void this.#flush();
        }
      }, 1000);
    }
  }
}
