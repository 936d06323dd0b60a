import type { Logger } from "pino";
import type { BackoffPolicy } from "../../domain/backoff.js";
import {
  decideAfterExit,
  phaseOf,
  transition,
  type ExitInfo,
  type WorkloadState,
} from "../../domain/workload-state.js";
import type { WasmWorkload, WasmWorkloadStatus } from "../../domain/wasm-workload.js";
import type { Clock } from "../clock.js";

/** A module process the supervisor is watching. */
export interface LaunchedProcess {
  readonly pid: number;
  /** Kernel start time, to tell this process from a later one with the same pid. */
  readonly startTime: string;
  readonly startedAt: string;
  /** Settles once the process has ended, with how it ended. */
  readonly exited: Promise<ExitInfo>;
  /** Asks the workload to stop by itself (what this means depends on the workload kind). */
  requestStop(): void;
  /** Stops it at once. */
  kill(): void;
}

/** What the supervisor keeps on disk so that a restarted agent carries on where it stopped. */
export interface SupervisorRecord {
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  readonly restartCount: number;
  readonly streak: number;
  readonly run: number;
  readonly process?: {
    readonly pid: number;
    readonly startTime: string;
    readonly startedAt: string;
    readonly run: number;
  };
  readonly last?: ExitInfo;
  readonly done?: boolean;
}

export type Prepared =
  | { readonly kind: "ready" }
  | {
      readonly kind: "failed";
      readonly reason: "ModuleNotFound" | "InvalidModule" | "VolumeError";
      readonly message: string;
    };

export type Adopted =
  | { readonly kind: "alive"; readonly process: LaunchedProcess }
  | { readonly kind: "exited"; readonly exit: ExitInfo }
  | { readonly kind: "gone" };

/** The side effects a supervisor needs; the real ones spawn processes, tests pass fakes. */
export interface SupervisorDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff: BackoffPolicy;
  /** Fetches the module and creates volumes for this spec. */
  prepare(w: WasmWorkload): Promise<Prepared>;
  launch(w: WasmWorkload, run: number): Promise<LaunchedProcess>;
  adopt(w: WasmWorkload, proc: NonNullable<SupervisorRecord["process"]>): Adopted;
  persist(record: SupervisorRecord): void;
  report(w: WasmWorkload, status: WasmWorkloadStatus): void;
}

/**
 * Runs one workload on this node: launches its module, applies the restart policy with
 * crash-loop backoff, terminates it with its grace period, and reports every change.
 */
export class WorkloadSupervisor {
  #w: WasmWorkload;
  readonly #deps: SupervisorDeps;
  #state: WorkloadState = { kind: "Waiting", reason: "ContainerCreating" };
  #restartCount = 0;
  #streak = 0;
  #run = 0;
  #last: ExitInfo | undefined;
  #proc: LaunchedProcess | undefined;
  #cancelTimer: (() => void) | undefined;
  #stopping: Promise<void> | undefined;
  #message = "";

  constructor(w: WasmWorkload, deps: SupervisorDeps) {
    this.#w = w;
    this.#deps = deps;
  }

  get state(): WorkloadState {
    return this.#state;
  }

  get workload(): WasmWorkload {
    return this.#w;
  }

  get restartCount(): number {
    return this.#restartCount;
  }

  /** Starts supervising: adopts the process in `record` if it is still running, else starts anew. */
  start(record?: SupervisorRecord): void {
    if (
      record &&
      record.uid === this.#w.metadata.uid &&
      record.generation === this.#w.metadata.generation
    ) {
      this.#restartCount = record.restartCount;
      this.#streak = record.streak;
      this.#run = record.run;
      this.#last = record.last;
      if (record.process) {
        const adopted = this.#deps.adopt(this.#w, record.process);
        switch (adopted.kind) {
          case "alive":
            this.#deps.logger.info({ pid: adopted.process.pid }, "adopted running module");
            this.#running(adopted.process);
            return;
          case "exited":
            this.#proc = undefined;
            this.#set({
              kind: "Running",
              pid: record.process.pid,
              startedAt: record.process.startedAt,
            });
            this.#exited(adopted.exit, Date.parse(adopted.exit.startedAt));
            return;
          case "gone":
            break;
        }
      } else if (record.done === true && record.last) {
        this.#set({ kind: "Terminated", last: record.last });
        return;
      }
    }
    void this.#launch();
  }

  /** Applies a newer version of the workload: a changed spec restarts the module. */
  async update(w: WasmWorkload): Promise<void> {
    const changed = w.metadata.generation !== this.#w.metadata.generation;
    this.#w = w;
    if (!changed) return;
    this.#deps.logger.info(
      { generation: w.metadata.generation },
      "spec changed: restarting module",
    );
    await this.stop();
    this.#stopping = undefined;
    this.#restartCount = 0;
    this.#streak = 0;
    this.#last = undefined;
    this.#set({ kind: "Waiting", reason: "ContainerCreating" });
    void this.#launch();
  }

  /** Stops the module: asks it to stop, kills it when the grace period ends. Resolves once it is gone. */
  stop(graceSeconds = this.#w.spec.terminationGracePeriodSeconds): Promise<void> {
    this.#stopping ??= this.#stop(graceSeconds);
    return this.#stopping;
  }

  async #stop(graceSeconds: number): Promise<void> {
    this.#cancelTimer?.();
    const s = this.#state;
    switch (s.kind) {
      case "Running": {
        const proc = this.#proc;
        if (!proc) return;
        const killAtMs = this.#deps.clock.now() + graceSeconds * 1000;
        this.#set({ kind: "Terminating", pid: s.pid, startedAt: s.startedAt, killAtMs });
        if (graceSeconds === 0) proc.kill();
        else {
          proc.requestStop();
          this.#cancelTimer = this.#deps.clock.setTimeout(() => {
            proc.kill();
          }, graceSeconds * 1000);
        }
        await proc.exited.catch(() => undefined);
        return;
      }
      case "Terminating":
        await this.#proc?.exited.catch(() => undefined);
        return;
      case "BackOff":
        this.#set({ kind: "Terminated", last: s.last });
        return;
      case "Waiting":
      case "SetupFailed":
        this.#set({
          kind: "Terminated",
          last: this.#last ?? {
            exitCode: 0,
            reason: "Killed",
            message: "stopped before it started",
            startedAt: "",
            finishedAt: new Date(this.#deps.clock.now()).toISOString(),
          },
        });
        return;
      case "Terminated":
        return;
    }
  }

  async #launch(): Promise<void> {
    if (this.#stopping) return;
    this.#set({ kind: "Waiting", reason: "ContainerCreating" });
    let prepared: Prepared;
    try {
      prepared = await this.#deps.prepare(this.#w);
    } catch (e) {
      prepared = {
        kind: "failed",
        reason: "InvalidModule",
        message: e instanceof Error ? e.message : String(e),
      };
    }
    if (this.#isStopping()) return;
    if (prepared.kind === "failed") {
      this.#message = prepared.message;
      this.#set({ kind: "SetupFailed", reason: prepared.reason, message: prepared.message });
      // Retried: the module may be uploaded, or the volume created, later.
      this.#streak += 1;
      const delay = Math.min(
        this.#deps.backoff.initialMs * 2 ** Math.min(this.#streak - 1, 20),
        this.#deps.backoff.maxMs,
      );
      this.#cancelTimer = this.#deps.clock.setTimeout(() => {
        void this.#launch();
      }, delay);
      return;
    }
    this.#message = "";
    try {
      const proc = await this.#deps.launch(this.#w, this.#run);
      if (this.#isStopping()) {
        proc.kill();
        return;
      }
      this.#running(proc);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.#deps.logger.error({ err: e }, "cannot start module process");
      const now = new Date(this.#deps.clock.now()).toISOString();
      this.#set({ kind: "Running", pid: 0, startedAt: now });
      this.#exited(
        {
          exitCode: 1,
          reason: "Error",
          message: `cannot start module process: ${message}`,
          startedAt: now,
          finishedAt: now,
        },
        this.#deps.clock.now(),
      );
    }
  }

  /** Read through a method so that checks after an await are not narrowed away. */
  #isStopping(): boolean {
    return this.#stopping !== undefined;
  }

  #running(proc: LaunchedProcess): void {
    this.#proc = proc;
    this.#set({ kind: "Running", pid: proc.pid, startedAt: proc.startedAt });
    const startedMs = this.#deps.clock.now();
    proc.exited.then(
      (exit) => {
        this.#exited(exit, Date.parse(exit.startedAt) || startedMs);
      },
      (e: unknown) => {
        const now = new Date(this.#deps.clock.now()).toISOString();
        this.#exited(
          {
            exitCode: 1,
            reason: "Error",
            message: String(e),
            startedAt: proc.startedAt,
            finishedAt: now,
          },
          startedMs,
        );
      },
    );
  }

  #exited(exit: ExitInfo, startedMs: number): void {
    this.#proc = undefined;
    this.#last = exit;
    this.#run += 1;
    this.#deps.logger.info({ exitCode: exit.exitCode, reason: exit.reason }, "module exited");
    if (this.#state.kind === "Terminating" || this.#stopping) {
      this.#set({ kind: "Terminated", last: exit });
      return;
    }
    const ranMs = Math.max(0, this.#deps.clock.now() - startedMs);
    const decision = decideAfterExit(
      this.#w.spec.restartPolicy,
      exit,
      this.#streak,
      ranMs,
      this.#deps.backoff,
    );
    switch (decision.kind) {
      case "done":
        this.#set({ kind: "Terminated", last: exit });
        return;
      case "restart": {
        this.#streak = decision.streak;
        const restartAtMs = this.#deps.clock.now() + decision.delayMs;
        this.#set({ kind: "BackOff", restartAtMs, last: exit });
        this.#cancelTimer = this.#deps.clock.setTimeout(() => {
          this.#restartCount += 1;
          void this.#launch();
        }, decision.delayMs);
        return;
      }
    }
  }

  #set(next: WorkloadState): void {
    const from = this.#state;
    this.#state =
      from.kind === next.kind && from.kind !== "Waiting" && from.kind !== "SetupFailed"
        ? next
        : transition(from, next);
    if (from.kind !== next.kind)
      this.#deps.logger.debug({ from: from.kind, to: next.kind }, "workload state");
    this.#deps.persist(this.record());
    this.#deps.report(this.#w, this.status());
  }

  /** The record to keep on disk. */
  record(): SupervisorRecord {
    const s = this.#state;
    const proc =
      (s.kind === "Running" || s.kind === "Terminating") && this.#proc ? this.#proc : undefined;
    return {
      name: this.#w.metadata.name,
      uid: this.#w.metadata.uid,
      generation: this.#w.metadata.generation,
      restartCount: this.#restartCount,
      streak: this.#streak,
      run: this.#run,
      ...(proc
        ? {
            process: {
              pid: proc.pid,
              startTime: proc.startTime,
              startedAt: proc.startedAt,
              run: this.#run,
            },
          }
        : {}),
      ...(this.#last ? { last: this.#last } : {}),
      ...(s.kind === "Terminated" ? { done: true } : {}),
    };
  }

  /** The status to report to the controller. */
  status(): WasmWorkloadStatus {
    const s = this.#state;
    const { phase, reason } = phaseOf(s);
    const running = s.kind === "Running" || s.kind === "Terminating";
    const last = this.#last;
    const message =
      s.kind === "SetupFailed"
        ? s.message
        : s.kind === "BackOff"
          ? `back-off ${Math.max(0, Math.round((s.restartAtMs - this.#deps.clock.now()) / 1000))}s before restarting the module (last exit code ${s.last.exitCode})`
          : s.kind === "Terminated"
            ? s.last.message
            : this.#message;
    return {
      phase,
      reason,
      message,
      node: "",
      ...(last && !running ? { exitCode: last.exitCode } : {}),
      restartCount: this.#restartCount,
      startedAt: running ? s.startedAt : (last?.startedAt ?? ""),
      finishedAt: running ? "" : (last?.finishedAt ?? ""),
      observedGeneration: this.#w.metadata.generation,
    };
  }
}
