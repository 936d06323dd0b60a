import type { Logger } from "pino";
import { schedule, type Placed } from "../domain/scheduler.js";
import type { NodeStore } from "../store/node-store.js";
import type { WasmWorkloadStore } from "../store/wasm-workload-store.js";

/**
 * Places unplaced workloads on nodes: after every workload or node change (coalesced to one pass
 * per event-loop turn) and every few seconds, so that a node becoming ready is noticed.
 */
export class SchedulerLoop {
  readonly #workloads: WasmWorkloadStore;
  readonly #nodes: NodeStore;
  readonly #logger: Logger;
  readonly #now: () => Date;
  #pending = false;
  #running = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(workloads: WasmWorkloadStore, nodes: NodeStore, logger: Logger, now: () => Date) {
    this.#workloads = workloads;
    this.#nodes = nodes;
    this.#logger = logger;
    this.#now = now;
  }

  start(intervalMs = 5000): void {
    this.#workloads.events.on("change", this.#kick);
    this.#nodes.events.on("change", this.#kick);
    this.#timer = setInterval(this.#kick, intervalMs);
    this.#kick();
  }

  stop(): void {
    this.#workloads.events.off("change", this.#kick);
    this.#nodes.events.off("change", this.#kick);
    clearInterval(this.#timer);
  }

  readonly #kick = (): void => {
    if (this.#pending) return;
    this.#pending = true;
    setImmediate(() => {
      this.#pending = false;
      if (this.#running) {
        this.#kick();
        return;
      }
      this.#running = true;
      this.pass()
        .catch((e: unknown) => {
          this.#logger.error({ err: e }, "scheduling pass failed");
        })
        .finally(() => {
          this.#running = false;
        });
    });
  };

  /** One scheduling pass over every unplaced workload. */
  async pass(): Promise<void> {
    const nodes = this.#nodes.list();
    const all = this.#workloads.list();
    const placed: Placed[] = all
      .filter(
        (w) =>
          w.status.node !== "" && !(w.status.phase === "Succeeded" || w.status.phase === "Failed"),
      )
      .map((w) => ({
        node: w.status.node,
        memoryBytes: w.spec.limits.memoryBytes ?? 0,
        cpuMillis: w.spec.limits.cpuMillis ?? 0,
      }));
    const nowMs = this.#now().getTime();
    for (const w of all) {
      if (w.status.node !== "") continue;
      const p = schedule(w.spec, nodes, placed, nowMs);
      if (p.kind === "placed") {
        placed.push({
          node: p.node,
          memoryBytes: w.spec.limits.memoryBytes ?? 0,
          cpuMillis: w.spec.limits.cpuMillis ?? 0,
        });
        this.#logger.info({ workload: w.metadata.name, node: p.node }, "scheduled");
        await this.#workloads.updateStatus(w.metadata.name, w.metadata.uid, (cur) =>
          cur.status.node === ""
            ? {
                ...cur.status,
                node: p.node,
                phase: "Pending",
                reason: "Scheduled",
                message: `assigned to node ${p.node}`,
              }
            : undefined,
        );
      } else if (w.status.reason !== "Unschedulable" || w.status.message !== p.message) {
        await this.#workloads.updateStatus(w.metadata.name, w.metadata.uid, (cur) =>
          cur.status.node === ""
            ? { ...cur.status, phase: "Pending", reason: "Unschedulable", message: p.message }
            : undefined,
        );
      }
    }
  }
}
