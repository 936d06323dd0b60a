import { join } from "node:path";

/** Where the agent keeps each workload's files, all under its data directory. */
export interface WorkloadPaths {
  /** `<data-dir>/workloads/<uid>`: record, run specs, exit records, emptyDir volumes. */
  readonly dir: string;
  readonly record: string;
  /** `<data-dir>/logs/<name>_<uid>`: one log file per run. */
  readonly logDir: string;
  runSpec(run: number): string;
  runExit(run: number): string;
  runLog(run: number): string;
  volume(name: string): string;
}

/** Names and uids are validated before they reach here (a DNS label; a UUID from the controller). */
export function workloadPaths(dataDir: string, name: string, uid: string): WorkloadPaths {
  const dir = join(dataDir, "workloads", uid);
  const logDir = join(dataDir, "logs", `${name}_${uid}`);
  return {
    dir,
    record: join(dir, "record.json"),
    logDir,
    runSpec: (run) => join(dir, `run-${run}.spec.json`),
    runExit: (run) => join(dir, `run-${run}.exit.json`),
    runLog: (run) => join(logDir, `${run}.log`),
    volume: (v) => join(dir, "volumes", v),
  };
}
