import type { Logger } from "pino";
import { schedule, type Placed } from "../domain/scheduler.js";
import type { WasmWorkload } from "../domain/wasm-workload.js";
import type { NodeStore } from "../store/node-store.js";
import type { Placer, WasmWorkloadStore, WorkloadEvent } from "../store/wasm-workload-store.js";

/**
 * Places unplaced workloads on nodes. A workload change schedules just that workload; a node
 * change and a timer (so that a node becoming ready is noticed) look at every unplaced workload.
 * Passes are coalesced to one per event-loop turn and never overlap.
 */
export class SchedulerLoop {
  readonly #workloads: WasmWorkloadStore;
  readonly #nodes: NodeStore;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #dirty = new Set<string>();
  #full = true;
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
    this.#workloads.events.on("change", this.#onWorkload);
    this.#nodes.events.on("change", this.#onNode);
    this.#timer = setInterval(this.#onNode, intervalMs);
    this.#kick();
  }

  stop(): void {
    this.#workloads.events.off("change", this.#onWorkload);
    this.#nodes.events.off("change", this.#onNode);
    clearInterval(this.#timer);
  }

  readonly #onWorkload = (e: WorkloadEvent): void => {
    // New workloads were placed when applied; only an unplaced one changing needs another look.
    if (e.type !== "MODIFIED" || e.workload.status.node !== "") return;
    this.#dirty.add(e.workload.metadata.name);
    this.#kick();
  };

  readonly #onNode = (): void => {
    this.#full = true;
    this.#kick();
  };

  #kick(): void {
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
  }

  /** Placement of a new workload, run inside its apply transaction. */
  readonly place: Placer = (spec) => {
    const p = schedule(
      spec,
      this.#nodes.list(),
      this.#workloads.placedResources(),
      this.#now().getTime(),
    );
    return p.kind === "placed"
      ? { node: p.node, reason: "Scheduled", message: `assigned to node ${p.node}` }
      : { node: "", reason: "Unschedulable", message: p.message };
  };

  /** One scheduling pass over the workloads that need it. */
  async pass(): Promise<void> {
    let candidates: WasmWorkload[];
    if (this.#full) {
      candidates = this.#workloads.listByNode("");
    } else {
      candidates = [...this.#dirty]
        .map((n) => this.#workloads.get(n))
        .filter((w): w is WasmWorkload => w?.status.node === "");
    }
    this.#full = false;
    this.#dirty.clear();
    if (candidates.length === 0) return;
    const nodes = this.#nodes.list();
    const placed: Placed[] = this.#workloads.placedResources();
    const nowMs = this.#now().getTime();
    for (const w of candidates) {
      const p = schedule(w.spec, nodes, placed, nowMs);
      if (p.kind === "placed") {
        placed.push({
          node: p.node,
          memoryBytes: w.spec.limits.memoryBytes ?? 0,
          cpuMillis: w.spec.limits.cpuMillis ?? 0,
        });
        this.#logger.debug({ workload: w.metadata.name, node: p.node }, "scheduled");
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
