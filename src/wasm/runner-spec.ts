/** What the agent tells one module process to run. Written by the agent, read by the runner. */
export interface RunnerSpec {
  readonly version: 1;
  readonly workload: string;
  readonly uid: string;
  /** 0 for the first run, then one more per restart. */
  readonly run: number;
  readonly modulePath: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly preopens: readonly {
    readonly guest: string;
    readonly host: string;
    readonly readOnly: boolean;
  }[];
  readonly memoryLimitBytes?: number;
  readonly logPath: string;
  /** Where the runner records how the run ended. */
  readonly exitPath: string;
  /** A log file larger than this is rotated to `<logPath>.1`. */
  readonly maxLogBytes: number;
  /** cgroup.procs files the runner joins before loading the module. */
  readonly cgroupProcs: readonly string[];
}

/** How a run ended, as the runner records it in `exitPath`. */
export interface RunnerExit {
  readonly exitCode: number;
  readonly reason: "Completed" | "Error" | "OOMKilled";
  readonly message: string;
  readonly startedAt: string;
  readonly finishedAt: string;
}

/** Exit code of a module that trapped, as wasmtime reports it (128 + SIGABRT). */
export const TRAP_EXIT_CODE = 134;
