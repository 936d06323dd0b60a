import {
  appendFileSync,
  copyFileSync,
  existsSync,
  openSync,
  readSync,
  closeSync,
  renameSync,
  statSync,
  truncateSync,
} from "node:fs";
import { connect, type Socket } from "node:net";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Each console log file is kept under this size; one older file is kept beside it. */
export const CONSOLE_LOG_BYTES = 1024 * 1024;

/**
 * Keeps a console log written by the hypervisor itself (QEMU's logfile, opened for append)
 * bounded: its content moves to `<log>.1` and the file is emptied in place, since the writer
 * keeps its descriptor.
 */
export function trimConsoleLog(path: string, limit = CONSOLE_LOG_BYTES): void {
  try {
    if (statSync(path).size <= limit) return;
    copyFileSync(path, `${path}.1`);
    truncateSync(path, 0);
  } catch {
    // not there yet
  }
}

/** Appends to a console log that the agent writes, rotating it at the limit. */
function appendBounded(path: string, data: Buffer, limit = CONSOLE_LOG_BYTES): void {
  try {
    if (statSync(path).size + data.length > limit) renameSync(path, `${path}.1`);
  } catch {
    // first write
  }
  appendFileSync(path, data, { mode: 0o600 });
}

/**
 * The agent's end of a VM's serial socket: keeps one connection (the hypervisor serves one
 * client), optionally writes what the guest prints into the console log, fans it out to
 * attached consoles, and forwards their keystrokes. Reconnects while the VM runs.
 */
export class SerialRelay {
  readonly #socketPath: string;
  readonly #log: string | undefined;
  readonly #listeners = new Set<(d: Buffer) => void>();
  #sock: Socket | undefined;
  #closed = false;

  /** `log`: the file to write output into, when the hypervisor does not log it itself. */
  constructor(socketPath: string, log?: string) {
    this.#socketPath = socketPath;
    this.#log = log;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    while (!this.#closed) {
      if (existsSync(this.#socketPath)) {
        await new Promise<void>((resolve) => {
          const s = connect(this.#socketPath);
          this.#sock = s;
          s.on("data", (d: Buffer) => {
            if (this.#log !== undefined) appendBounded(this.#log, d);
            for (const l of this.#listeners) l(d);
          });
          s.on("error", () => undefined);
          s.on("close", () => {
            this.#sock = undefined;
            resolve();
          });
        });
      }
      if (!this.#stopped()) await sleep(200);
    }
  }

  /** Read through a method so that the check after an await is not narrowed away. */
  #stopped(): boolean {
    return this.#closed;
  }

  /** Attaches a console: `onOutput` gets what the guest prints from now on. */
  attach(onOutput: (d: Buffer) => void): { input: (d: Uint8Array) => void; detach: () => void } {
    this.#listeners.add(onOutput);
    return {
      input: (d) => {
        this.#sock?.write(d);
      },
      detach: () => {
        this.#listeners.delete(onOutput);
      },
    };
  }

  close(): void {
    this.#closed = true;
    this.#sock?.destroy();
    this.#listeners.clear();
  }
}

function readRange(path: string, start: number, end: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(end - start);
    const n = readSync(fd, buf, 0, buf.length, start);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const sizeOf = (p: string): number => {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
};

/** The last `lines` lines of `text` (all of it when undefined). */
function tail(text: Buffer, lines: number | undefined): Buffer {
  if (lines === undefined) return text;
  if (lines <= 0) return Buffer.alloc(0);
  // The final newline ends the last line; it does not start another.
  let i = text[text.length - 1] === 0x0a ? text.length - 1 : text.length;
  for (let n = 0; n < lines; n++) {
    // Buffer.lastIndexOf counts a negative offset from the end: stop at the start instead.
    if (i <= 0) return text;
    const nl = text.lastIndexOf(0x0a, i - 1);
    if (nl < 0) return text;
    i = nl;
  }
  return text.subarray(i + 1);
}

/**
 * Reads a console log (with its rotated predecessor), optionally only the last lines, then
 * follows it until `signal` aborts, noticing rotation and truncation.
 */
export async function* readConsoleLog(
  path: string,
  opts: { follow: boolean; tailLines?: number; signal: AbortSignal; pollMs?: number },
): AsyncGenerator<Buffer> {
  const old = existsSync(`${path}.1`)
    ? readRange(`${path}.1`, 0, sizeOf(`${path}.1`))
    : Buffer.alloc(0);
  let pos = sizeOf(path);
  const current = pos > 0 ? readRange(path, 0, pos) : Buffer.alloc(0);
  const first = tail(Buffer.concat([old, current]), opts.tailLines);
  if (first.length > 0) yield first;
  while (opts.follow && !opts.signal.aborted) {
    await sleep(opts.pollMs ?? 200, undefined, { signal: opts.signal }).catch(() => undefined);
    // The VM was deleted (its log directory with it): nothing more will come.
    if (!existsSync(dirname(path))) return;
    const size = sizeOf(path);
    if (size < pos) pos = 0; // rotated or truncated: the new file starts over
    if (size > pos) {
      yield readRange(path, pos, Math.min(size, pos + 1024 * 1024));
      pos = Math.min(size, pos + 1024 * 1024);
    }
  }
}
