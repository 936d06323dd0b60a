import type { Logger } from "pino";
import type { Clock } from "./clock.js";

/**
 * A level-triggered loop: runs `step` after a delay, then every `pollMs`, never two steps at
 * once; a failing step is logged and the loop goes on. `schedule(0)` runs the next step now.
 */
export class TickLoop {
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #step: () => Promise<void>;
  readonly #logger: Logger;
  #ticking: Promise<void> = Promise.resolve();
  #timer: (() => void) | undefined;
  #stopped = false;

  constructor(clock: Clock, pollMs: number, step: () => Promise<void>, logger: Logger) {
    this.#clock = clock;
    this.#pollMs = pollMs;
    this.#step = step;
    this.#logger = logger;
  }

  /** Resolves when the step running now (if any) has ended. */
  get settled(): Promise<void> {
    return this.#ticking;
  }

  schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer?.();
    this.#timer = this.#clock.setTimeout(() => {
      this.#ticking = this.#ticking
        .then(() => this.#step())
        .catch((e: unknown) => {
          this.#logger.error({ err: e }, "VM supervision step failed");
        });
      void this.#ticking.then(() => {
        this.schedule(this.#pollMs);
      });
    }, ms);
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.();
  }
}
