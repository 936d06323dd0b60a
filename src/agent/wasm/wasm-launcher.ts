import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { ExitInfo } from "../../domain/workload-state.js";
import type { WasmWorkload } from "../../domain/wasm-workload.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import type { RunnerExit, RunnerSpec } from "../../wasm/runner-spec.js";
import { createGroup, removeGroup, wasOomKilled, type Cgroups } from "./cgroups.js";
import { RUNTIME_WRITE } from "../records.js";
import type { WorkloadPaths } from "./layout.js";
import { processStartTime, signalProcess } from "../../util/processes.js";
import { WarmPool } from "./warm-pool.js";
import type { Adopted, LaunchedProcess, SupervisorRecord } from "./supervisor.js";

/** The module process's script (`src/wasm/runner-main.ts` in the build). */
export const RUNNER_SCRIPT = fileURLToPath(new URL("../../wasm/runner-main.js", import.meta.url));

/** Room in a warm runner's command line for the title it takes once given a module (Linux keeps argv's size). */
const TITLE_ROOM = "-".repeat(160);

/** Most bytes one run's log file grows to before it is rotated. */
export const MAX_LOG_BYTES = 10 * 1024 * 1024;

/** Node flags for module processes: small heaps, no warnings on the module's stderr. */
const NODE_FLAGS = [
  "--disable-warning=ExperimentalWarning",
  "--max-semi-space-size=1",
  "--max-old-space-size=64",
];

export interface LauncherOptions {
  readonly logger: Logger;
  readonly cgroups: Cgroups;
  /** Poll interval for processes this agent did not start (adopted after a restart). */
  readonly pollMs: number;
  /** Module processes kept started ahead of need (0: start each when needed). */
  readonly warmPool: number;
}

export interface RunFiles {
  readonly paths: WorkloadPaths;
  readonly modulePath: string;
  readonly preopens: RunnerSpec["preopens"];
}

/**
 * WASI has no signals, and a SIGTERM would only cut a module's sleep short (EINTR): a module
 * asked to stop is left to finish its work within its grace period, then killed.
 */
const noSignal = (): void => undefined;

function cgroupId(uid: string, run: number): string {
  return `${uid}-${run}`;
}

/** How a run ended, from the runner's own record or, failing that, from what the kernel says. */
function readExit(
  paths: WorkloadPaths,
  run: number,
  cg: Cgroups,
  uid: string,
  startedAt: string,
  signal: NodeJS.Signals | null,
  code: number | null,
): ExitInfo {
  const file = paths.runExit(run);
  if (existsSync(file)) {
    try {
      const r = JSON.parse(readFileSync(file, "utf8")) as RunnerExit;
      return {
        exitCode: r.exitCode,
        reason: r.reason,
        message: r.message,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
      };
    } catch {
      // a torn record cannot happen (atomic rename); fall through to the kernel's view
    }
  }
  const finishedAt = new Date().toISOString();
  if (wasOomKilled(cg, cgroupId(uid, run))) {
    return {
      exitCode: 137,
      reason: "OOMKilled",
      message: "the module's process exceeded its memory limit and was killed by the kernel",
      startedAt,
      finishedAt,
    };
  }
  if (signal !== null || code === null) {
    return {
      exitCode: 137,
      reason: "Killed",
      message: `killed by ${signal ?? "a signal"}`,
      startedAt,
      finishedAt,
    };
  }
  return {
    exitCode: code,
    reason: code === 0 ? "Completed" : "Error",
    message: "the module's process ended without recording its exit",
    startedAt,
    finishedAt,
  };
}

/** Starts module processes that outlive the agent, and re-attaches to them after a restart. */
export class WasmLauncher {
  readonly #opts: LauncherOptions;
  readonly #pool: WarmPool | undefined;

  constructor(opts: LauncherOptions) {
    this.#opts = opts;
    if (opts.warmPool > 0) {
      this.#pool = new WarmPool(
        opts.warmPool,
        [process.execPath, ...NODE_FLAGS, RUNNER_SCRIPT, "--warm", TITLE_ROOM],
        opts.logger,
      );
      this.#pool.fill();
    }
  }

  /** Stops idle warm processes; running modules are not touched. */
  close(): void {
    this.#pool?.close();
  }

  launch(w: WasmWorkload, run: number, files: RunFiles): Promise<LaunchedProcess> {
    const { paths } = files;
    mkdirSync(paths.logDir, { recursive: true, mode: 0o750 });
    const uid = w.metadata.uid;
    const cgroupProcs = createGroup(this.#opts.cgroups, cgroupId(uid, run), w.spec.limits);
    const spec: RunnerSpec = {
      version: 1,
      workload: w.metadata.name,
      uid,
      run,
      modulePath: files.modulePath,
      args: w.spec.args,
      env: w.spec.env,
      preopens: files.preopens,
      ...(w.spec.limits.memoryBytes === undefined
        ? {}
        : { memoryLimitBytes: w.spec.limits.memoryBytes }),
      logPath: paths.runLog(run),
      exitPath: paths.runExit(run),
      maxLogBytes: MAX_LOG_BYTES,
      cgroupProcs,
    };
    writeFileAtomic(paths.runSpec(run), JSON.stringify(spec), 0o600, RUNTIME_WRITE);
    const child =
      this.#pool?.take(paths.runSpec(run)) ??
      spawn(process.execPath, [...NODE_FLAGS, RUNNER_SCRIPT, paths.runSpec(run)], {
        detached: true, // its own process group: Ctrl-C on the agent's terminal does not reach it
        stdio: "ignore",
        cwd: "/",
        env: {},
      });
    const pid = child.pid;
    if (pid === undefined) {
      return new Promise((_, reject) => {
        child.once("error", reject);
      });
    }
    child.unref();
    const startTime = processStartTime(pid) ?? "";
    const startedAt = new Date().toISOString();
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once("exit", (code, signal) => {
        resolve(readExit(paths, run, this.#opts.cgroups, uid, startedAt, signal, code));
        removeGroup(this.#opts.cgroups, cgroupId(uid, run));
      });
    });
    return Promise.resolve({
      pid,
      startTime,
      startedAt,
      exited,
      requestStop: noSignal,
      kill: () => {
        signalProcess(pid, "SIGKILL");
      },
    });
  }

  adopt(
    paths: WorkloadPaths,
    uid: string,
    proc: NonNullable<SupervisorRecord["process"]>,
  ): Adopted {
    const alive = processStartTime(proc.pid) === proc.startTime && proc.startTime !== "";
    if (!alive) {
      const exitFile = paths.runExit(proc.run);
      if (!existsSync(exitFile) && !wasOomKilled(this.#opts.cgroups, cgroupId(uid, proc.run))) {
        return {
          kind: "exited",
          exit: readExit(paths, proc.run, this.#opts.cgroups, uid, proc.startedAt, "SIGKILL", null),
        };
      }
      return {
        kind: "exited",
        exit: readExit(paths, proc.run, this.#opts.cgroups, uid, proc.startedAt, null, null),
      };
    }
    const exited = new Promise<ExitInfo>((resolve) => {
      const timer = setInterval(() => {
        if (processStartTime(proc.pid) === proc.startTime) return;
        clearInterval(timer);
        resolve(
          readExit(paths, proc.run, this.#opts.cgroups, uid, proc.startedAt, "SIGKILL", null),
        );
        removeGroup(this.#opts.cgroups, cgroupId(uid, proc.run));
      }, this.#opts.pollMs);
    });
    return {
      kind: "alive",
      process: {
        pid: proc.pid,
        startTime: proc.startTime,
        startedAt: proc.startedAt,
        exited,
        requestStop: noSignal,
        kill: () => {
          signalProcess(proc.pid, "SIGKILL");
        },
      },
    };
  }
}
