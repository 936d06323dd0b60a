import { closeSync, fstatSync, openSync, renameSync, writeSync } from "node:fs";

/** Longest log line kept whole; longer lines are split into partial ("P") records. */
export const MAX_LOG_LINE_BYTES = 16 * 1024;

export type LogStream = "stdout" | "stderr";

/**
 * Writes a module's output in the CRI log format ("<RFC3339Nano> <stream> <P|F> <text>"), one
 * record per line, synchronously, so that a line is on disk when the module's write returns and
 * nothing depends on the agent being alive.
 */
export class LogWriter {
  readonly #path: string;
  readonly #maxBytes: number;
  #fd: number;
  #size: number;
  readonly #partial: Record<LogStream, Buffer[]> = { stdout: [], stderr: [] };
  readonly #partialLen: Record<LogStream, number> = { stdout: 0, stderr: 0 };

  constructor(path: string, maxBytes: number) {
    this.#path = path;
    this.#maxBytes = maxBytes;
    this.#fd = openSync(path, "a", 0o640);
    this.#size = fstatSync(this.#fd).size;
  }

  write(stream: LogStream, data: Uint8Array): void {
    let start = 0;
    for (let i = 0; i < data.length; i++) {
      if (data[i] === 0x0a) {
        this.#push(stream, data.subarray(start, i));
        this.#record(stream, "F", this.#take(stream));
        start = i + 1;
      }
    }
    if (start < data.length) this.#push(stream, data.subarray(start));
  }

  #push(stream: LogStream, chunk: Uint8Array): void {
    let rest = chunk;
    while (this.#partialLen[stream] + rest.length > MAX_LOG_LINE_BYTES) {
      const room = MAX_LOG_LINE_BYTES - this.#partialLen[stream];
      this.#partial[stream].push(Buffer.from(rest.subarray(0, room)));
      this.#partialLen[stream] += room;
      this.#record(stream, "P", this.#take(stream));
      rest = rest.subarray(room);
    }
    if (rest.length > 0) {
      this.#partial[stream].push(Buffer.from(rest));
      this.#partialLen[stream] += rest.length;
    }
  }

  #take(stream: LogStream): Buffer {
    const b = Buffer.concat(this.#partial[stream]);
    this.#partial[stream] = [];
    this.#partialLen[stream] = 0;
    return b;
  }

  #record(stream: LogStream, tag: "P" | "F", text: Buffer): void {
    const line = Buffer.concat([
      Buffer.from(`${timestamp()} ${stream} ${tag} `),
      text,
      Buffer.from("\n"),
    ]);
    if (this.#size + line.length > this.#maxBytes && this.#size > 0) this.#rotate();
    writeSync(this.#fd, line);
    this.#size += line.length;
  }

  #rotate(): void {
    closeSync(this.#fd);
    renameSync(this.#path, `${this.#path}.1`);
    this.#fd = openSync(this.#path, "a", 0o640);
    this.#size = 0;
  }

  /** Writes out unterminated lines and closes the file. */
  close(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.#partialLen[stream] > 0) this.#record(stream, "F", this.#take(stream));
    }
    closeSync(this.#fd);
  }
}

/** RFC 3339 with nanosecond digits, as CRI logs use; the clock has microsecond resolution. */
export function timestamp(): string {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const ms = Math.floor(micros / 1000);
  const sub = String(micros % 1000).padStart(3, "0");
  return new Date(ms).toISOString().replace(/Z$/, `${sub}000Z`);
}
