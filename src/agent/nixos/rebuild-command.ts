import { spawn } from "node:child_process";
import { processStartTime, signalProcess } from "../../util/processes.js";

/** Output kept from one run of the rebuild command (the tail is what gets reported). */
const KEEP_BYTES = 64 * 1024;
const TAIL_LINES = 40;
const TAIL_BYTES = 8 * 1024;

export interface RebuildRun {
  readonly ok: boolean;
  /** "exited with code 1", "killed by SIGTERM", "timed out after 3600 s", "cannot start ...". */
  readonly how: string;
  /** The last lines of stdout and stderr together, at most 8 KiB. */
  readonly tail: string;
}

/** The last `TAIL_LINES` lines of `text`, at most `TAIL_BYTES` bytes. */
export function outputTail(text: string): string {
  const lines = text.replace(/\s+$/, "").split("\n").slice(-TAIL_LINES).join("\n");
  const b = Buffer.from(lines);
  return b.length <= TAIL_BYTES ? lines : b.subarray(b.length - TAIL_BYTES).toString("utf8");
}

/**
 * Runs `argv` (the rebuild command and its subcommand) in its own process group, keeping the
 * last 64 KiB of its output. `onSpawn` gets the pid and start time, so that an agent restarted
 * mid-rebuild can wait for the rebuild it left behind instead of starting a second one.
 */
export function runRebuild(
  argv: readonly string[],
  timeoutMs: number,
  onSpawn: (pid: number, startTime: string) => void,
): Promise<RebuildRun> {
  return new Promise((resolve) => {
    const [bin = "nixos-rebuild", ...args] = argv;
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let kept = Buffer.alloc(0);
    const keep = (d: Buffer): void => {
      kept = Buffer.concat([kept, d]);
      if (kept.length > KEEP_BYTES) kept = kept.subarray(kept.length - KEEP_BYTES);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) signalProcess(-child.pid, "SIGKILL");
    }, timeoutMs);
    child.on("spawn", () => {
      if (child.pid !== undefined) onSpawn(child.pid, processStartTime(child.pid) ?? "");
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ ok: false, how: `cannot start ${bin}: ${e.message}`, tail: "" });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const how = timedOut
        ? `timed out after ${Math.round(timeoutMs / 1000)} s`
        : signal !== null
          ? `killed by ${signal}`
          : `exited with code ${code ?? "?"}`;
      resolve({ ok: code === 0 && !timedOut, how, tail: outputTail(kept.toString("utf8")) });
    });
  });
}
