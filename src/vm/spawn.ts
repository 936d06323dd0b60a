import { connect } from "node:net";
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { KcoreError } from "../domain/errors.js";
import { processStartTime } from "../util/processes.js";

/**
 * Starts a hypervisor in its own session with its output in `logPath`, so that it outlives the
 * agent (fail-static). Resolves with its pid and kernel start time.
 */
export function spawnDetached(
  command: string,
  args: readonly string[],
  logPath: string,
): { pid: number; startTime: string; exited: Promise<number | null> } {
  const fd = openSync(logPath, "a", 0o600);
  try {
    const child = spawn(command, args, { detached: true, stdio: ["ignore", fd, fd] });
    // Listen before anything can throw: a spawn failure arrives as an "error" event later.
    const exited = new Promise<number | null>((resolve) => {
      child.on("exit", (code) => {
        resolve(code);
      });
      child.on("error", () => {
        resolve(null);
      });
    });
    const pid = child.pid;
    if (pid === undefined)
      throw new KcoreError(
        "FailedPrecondition",
        `cannot start ${command}: not found or not executable`,
      );
    child.unref();
    const startTime = processStartTime(pid) ?? "";
    return { pid, startTime, exited };
  } finally {
    closeSync(fd);
  }
}

/** Whether something listens on the Unix socket `path` (it may exist before it listens). */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      s.destroy();
      resolve(false);
    });
  });
}

/**
 * Waits for a socket to appear and accept connections (a server binds the file a moment before
 * it listens), failing early if the process has already ended.
 */
export async function waitForSocket(
  path: string,
  pid: number,
  startTime: string,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (!existsSync(path) || !(await accepts(path))) {
    if (processStartTime(pid) !== startTime)
      throw new KcoreError("FailedPrecondition", `${what} exited before creating ${path}`);
    if (Date.now() > deadline)
      throw new KcoreError(
        "DeadlineExceeded",
        `${what} did not create ${path} within ${timeoutMs} ms`,
      );
    // A hypervisor creates its socket within tens of milliseconds: poll finely, a stat is cheap.
    await sleep(delay);
    delay = Math.min(delay * 2, 5);
  }
}

/** The last non-empty line a hypervisor wrote to its log: usually why it failed. */
export function lastLogLine(path: string): string {
  try {
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    return (lines[lines.length - 1] ?? "").slice(0, 500);
  } catch {
    return "";
  }
}

/** An error for a hypervisor that failed to start, with what it said last. */
export function startFailure(what: string, e: unknown, logPath: string): Error {
  const line = lastLogLine(logPath);
  const msg = e instanceof Error ? e.message : String(e);
  return new KcoreError(
    "FailedPrecondition",
    line === "" ? `${what}: ${msg}` : `${what}: ${line}`,
    {
      cause: e,
    },
  );
}
