import { readFileSync } from "node:fs";

/**
 * The kernel's start time of a live process (clock ticks since boot, field 22 of
 * /proc/<pid>/stat), or undefined when it is gone or a zombie. Comparing start times tells a
 * process from a later one that reused its pid.
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = rest[0];
  if (state === "Z" || state === "X") return undefined;
  return rest[19];
}

/** True when `pid` is still the process that started at `startTime`. */
export function isSameProcess(pid: number, startTime: string): boolean {
  return processStartTime(pid) === startTime;
}

/** Sends a signal, ignoring a process that is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

/** Resident and proportional set size of a process in bytes, from /proc/<pid>/smaps_rollup. */
export function memoryOf(pid: number): { rss: number; pss: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const field = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? "0") * 1024;
    return { rss: field("Rss"), pss: field("Pss") };
  } catch {
    return undefined;
  }
}
