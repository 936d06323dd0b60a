import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "pino";

/**
 * Module processes started ahead of need: Node has booted and the runner is loaded, so starting
 * a module costs an IPC message instead of a process start (about 60 ms here). Idle runners exit
 * when the agent goes away (their IPC channel closes); a runner given work cuts its channel and
 * outlives the agent like any other.
 */
export class WarmPool {
  readonly #size: number;
  readonly #command: readonly string[];
  readonly #logger: Logger;
  readonly #ready: ChildProcess[] = [];
  #starting = 0;
  #closed = false;

  constructor(size: number, command: readonly string[], logger: Logger) {
    this.#size = size;
    this.#command = command;
    this.#logger = logger;
  }

  /** Fills the pool up to its size. */
  fill(): void {
    while (!this.#closed && this.#ready.length + this.#starting < this.#size) this.#startOne();
  }

  #startOne(): void {
    const [cmd, ...args] = this.#command;
    if (cmd === undefined) return;
    this.#starting += 1;
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ["ignore", "ignore", "ignore", "ipc"],
      cwd: "/",
      env: {},
    });
    let ready = false;
    child.once("message", () => {
      ready = true;
      this.#starting -= 1;
      if (this.#closed) {
        child.kill("SIGKILL");
        return;
      }
      this.#ready.push(child);
    });
    child.once("exit", () => {
      if (!ready) this.#starting -= 1;
      const i = this.#ready.indexOf(child);
      if (i >= 0) this.#ready.splice(i, 1);
    });
    child.once("error", (e) => {
      this.#logger.warn({ err: e }, "cannot start a warm module process");
    });
    child.unref();
    child.channel?.unref();
  }

  /** A ready runner for `specPath`, or undefined when none is ready (start one the slow way). */
  take(specPath: string): ChildProcess | undefined {
    const child = this.#ready.shift();
    this.fill();
    if (!child?.connected) return undefined;
    child.send({ spec: specPath }, () => {
      if (child.connected) child.disconnect();
    });
    return child;
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#ready.splice(0)) c.kill("SIGKILL");
  }
}
