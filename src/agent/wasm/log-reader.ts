import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { KcoreError } from "../../domain/errors.js";

export interface ReadLogsOptions {
  readonly follow: boolean;
  readonly tailLines?: number;
  readonly previous: boolean;
  readonly timestamps: boolean;
  readonly signal: AbortSignal;
  readonly pollMs?: number;
  /** True once the run being followed has ended (its exit record exists). */
  readonly runEnded: (run: number) => boolean;
}

/** Runs that have a log file, oldest first. */
export function logRuns(logDir: string): number[] {
  if (!existsSync(logDir)) return [];
  return readdirSync(logDir)
    .map((f) => /^(\d+)\.log$/.exec(f)?.[1])
    .filter((r): r is string => r !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Turns CRI records into output text: partial records are joined, timestamps kept on request. */
export function renderRecords(text: string, timestamps: boolean): string {
  let out = "";
  let continuing = false;
  for (const line of text.split("\n")) {
    const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/s.exec(line);
    if (!m) continue;
    const [, ts, , tag, body] = m;
    if (timestamps && !continuing) out += `${ts ?? ""} `;
    out += body ?? "";
    continuing = tag === "P";
    if (!continuing) out += "\n";
  }
  return out;
}

function lastLines(text: string, n: number): string {
  if (n <= 0) return "";
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.slice(-n).join("\n") + (lines.length > 0 ? "\n" : "");
}

/** Streams a workload's log, as `kctl logs` shows it. */
export async function* readLogs(logDir: string, opts: ReadLogsOptions): AsyncGenerator<Buffer> {
  const runs = logRuns(logDir);
  if (runs.length === 0) throw new KcoreError("NotFound", "no logs yet for this workload");
  const run = opts.previous ? runs.at(-2) : runs.at(-1);
  if (run === undefined)
    throw new KcoreError("NotFound", "no previous run: the module has not been restarted");
  const file = join(logDir, `${run}.log`);
  const rotated = `${file}.1`;
  let content =
    (existsSync(rotated) ? readFileSync(rotated, "utf8") : "") + readFileSync(file, "utf8");
  let offset = statSync(file).size;
  let rendered = renderRecords(content, opts.timestamps);
  if (opts.tailLines !== undefined) rendered = lastLines(rendered, opts.tailLines);
  if (rendered !== "") yield Buffer.from(rendered);
  if (!opts.follow || opts.previous) return;
  const pollMs = opts.pollMs ?? 200;
  let carry = "";
  while (!opts.signal.aborted) {
    const ended = opts.runEnded(run);
    let size = 0;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size < offset) offset = 0; // rotated: start over in the new file
    if (size > offset) {
      const fd = readFileSync(file);
      content = carry + fd.subarray(offset, size).toString("utf8");
      offset = size;
      const cut = content.lastIndexOf("\n") + 1;
      carry = content.slice(cut);
      const text = renderRecords(content.slice(0, cut), opts.timestamps);
      if (text !== "") yield Buffer.from(text);
      continue;
    }
    if (ended) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, pollMs);
      opts.signal.addEventListener(
        "abort",
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
}
