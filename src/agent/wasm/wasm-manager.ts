import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { BackoffPolicy } from "../../domain/backoff.js";
import { KcoreError } from "../../domain/errors.js";
import type { Sha256 } from "../../domain/names.js";
import type { WasmWorkload, WasmWorkloadStatus } from "../../domain/wasm-workload.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { gateHostDirectory, gatePath } from "../../util/path-gate.js";
import type { Clock } from "../clock.js";
import { RUNTIME_WRITE, UUID } from "../records.js";
import { StatusBatcher } from "../status-batcher.js";
import { detectCgroups, type Cgroups } from "./cgroups.js";
import { workloadPaths, type WorkloadPaths } from "./layout.js";
import { readLogs } from "./log-reader.js";
import { ModuleCache } from "./module-cache.js";
import { WorkloadSupervisor, type Prepared, type SupervisorRecord } from "./supervisor.js";
import { WasmLauncher, type RunFiles } from "./wasm-launcher.js";

export interface WasmManagerOptions {
  readonly dataDir: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly backoff: BackoffPolicy;
  /** Module processes kept started ahead of need. */
  readonly warmPool: number;
  /** An uploaded module's bytes, from the controller. */
  readonly fetchModule: (sha256: Sha256) => Promise<Uint8Array>;
  readonly report: (items: { w: WasmWorkload; status: WasmWorkloadStatus }[]) => Promise<unknown>;
}

/** The node's WebAssembly workloads: one supervisor each, matched to the assignment. */
export class WasmManager {
  readonly #o: WasmManagerOptions;
  readonly #log: Logger;
  readonly cgroups: Cgroups;
  readonly #launcher: WasmLauncher;
  readonly #cache: ModuleCache;
  readonly #supervisors = new Map<string, WorkloadSupervisor>();
  readonly #removing = new Map<string, Promise<void>>();
  readonly #files = new Map<string, RunFiles>();
  readonly #reports: StatusBatcher<{ w: WasmWorkload; status: WasmWorkloadStatus }>;

  constructor(o: WasmManagerOptions) {
    this.#o = o;
    this.#log = o.logger;
    this.cgroups = detectCgroups(this.#log);
    if (this.cgroups.kind === "none")
      this.#log.warn(
        { reason: this.cgroups.reason },
        "cgroups unavailable: no CPU limits, memory limited inside the module only",
      );
    this.#launcher = new WasmLauncher({
      logger: this.#log,
      cgroups: this.cgroups,
      pollMs: 200,
      warmPool: o.warmPool,
    });
    this.#cache = new ModuleCache(o.dataDir, o.fetchModule);
    this.#reports = new StatusBatcher(o.report, this.#log);
  }

  /** Workloads whose module runs now. */
  runningCount(): number {
    return [...this.#supervisors.values()].filter((s) => s.state.kind === "Running").length;
  }

  /** A workload's logs; see readLogs. */
  readLogs(
    name: string,
    uid: string,
    opts: { follow: boolean; previous: boolean; timestamps: boolean; tailLines?: number },
    signal: AbortSignal,
  ): AsyncGenerator<Buffer> {
    if (!UUID.test(uid)) throw new KcoreError("InvalidArgument", "workloadUid: not a UUID");
    const paths = workloadPaths(this.#o.dataDir, name, uid);
    const sup = this.#supervisors.get(uid);
    const logDir = gatePath(this.#o.dataDir, ["logs", `${name}_${uid}`]);
    return readLogs(logDir, {
      ...opts,
      signal,
      runEnded: (run) =>
        existsSync(paths.runExit(run)) || sup === undefined || sup.state.kind === "Terminated",
    });
  }

  /** Re-attaches to every workload recorded on disk, before the controller is reachable. */
  adoptFromDisk(): void {
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
    const sup = new WorkloadSupervisor(w, {
      clock: this.#o.clock,
      logger: this.#log.child({ workload: w.metadata.name, uid }),
      backoff: this.#o.backoff,
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
        this.#reports.queue(cur.metadata.uid, { w: cur, status });
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
        this.#reports.forget(uid);
        const paths = this.#paths(w);
        rmSync(paths.dir, { recursive: true, force: true });
        rmSync(paths.logDir, { recursive: true, force: true });
      })
      .finally(() => this.#removing.delete(uid));
    this.#removing.set(uid, p);
  }

  /** Reports every workload's status again (after a reconnect, and periodically). */
  reportAll(): void {
    for (const sup of this.#supervisors.values())
      this.#reports.queue(sup.workload.metadata.uid, { w: sup.workload, status: sup.status() });
  }

  /** Stops supervising; modules keep running (fail-static). */
  close(): void {
    this.#reports.close();
    this.#launcher.close();
  }
}
