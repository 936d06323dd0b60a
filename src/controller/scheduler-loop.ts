import type { Logger } from "pino";
import { schedule, type Demand, type Placed } from "../domain/scheduler.js";
import { vmDemand, type VmSpec, type VmStatus } from "../domain/vm.js";
import {
  wasmDemand,
  type WasmWorkloadSpec,
  type WasmWorkloadStatus,
} from "../domain/wasm-workload.js";
import type { NodeStore } from "../store/node-store.js";
import type { Resource, ResourceEvent, ResourceStore } from "../store/resource-store.js";
import type { VmStore } from "../store/vm-store.js";
import type { WasmWorkloadStore } from "../store/wasm-workload-store.js";

/** How the scheduler treats one kind of placed resource. */
interface Schedulable<Spec, Status> {
  readonly store: ResourceStore<Spec, Status>;
  readonly demand: (spec: Spec) => Demand;
  readonly nodeOf: (status: Status) => string;
  /** The status once placed on `node`. */
  readonly placed: (status: Status, node: string, now: Date) => Status;
  /** The status when no node fits; undefined when it already says so. */
  readonly unschedulable: (status: Status, message: string, now: Date) => Status | undefined;
}

const WASM: Omit<Schedulable<WasmWorkloadSpec, WasmWorkloadStatus>, "store"> = {
  demand: wasmDemand,
  nodeOf: (s) => s.node,
  placed: (s, node) => ({
    ...s,
    node,
    phase: "Pending",
    reason: "Scheduled",
    message: `assigned to node ${node}`,
  }),
  unschedulable: (s, message) =>
    s.reason === "Unschedulable" && s.message === message
      ? undefined
      : { ...s, phase: "Pending", reason: "Unschedulable", message },
};

const VM: Omit<Schedulable<VmSpec, VmStatus>, "store"> = {
  demand: vmDemand,
  nodeOf: (s) => s.node,
  placed: (s, node, now) => ({
    ...s,
    node,
    state: "Pending",
    message: `assigned to node ${node}`,
    lastTransitionTime: s.lastTransitionTime === "" ? now.toISOString() : s.lastTransitionTime,
  }),
  unschedulable: (s, message, now) =>
    s.message === `Unschedulable: ${message}`
      ? undefined
      : {
          ...s,
          state: "Pending",
          message: `Unschedulable: ${message}`,
          lastTransitionTime:
            s.lastTransitionTime === "" ? now.toISOString() : s.lastTransitionTime,
        },
};

/** One kind's unplaced resources still to look at. */
class Queue<Spec, Status> {
  readonly k: Schedulable<Spec, Status>;
  readonly dirty = new Set<string>();
  constructor(k: Schedulable<Spec, Status>) {
    this.k = k;
  }
}

/**
 * Places unplaced WasmWorkloads and VMs on nodes, with the cpu and memory of everything already
 * placed accounted for. A resource change schedules just that resource; a node change and a
 * timer (so that a node becoming ready is noticed) look at every unplaced one. Passes are
 * coalesced to one per event-loop turn and never overlap.
 */
export class SchedulerLoop {
  readonly #workloads: WasmWorkloadStore;
  readonly #vms: VmStore;
  readonly #nodes: NodeStore;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #wasm: Queue<WasmWorkloadSpec, WasmWorkloadStatus>;
  readonly #vm: Queue<VmSpec, VmStatus>;
  readonly #listeners: (() => void)[] = [];
  #full = true;
  #pending = false;
  #running = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    workloads: WasmWorkloadStore,
    vms: VmStore,
    nodes: NodeStore,
    logger: Logger,
    now: () => Date,
  ) {
    this.#workloads = workloads;
    this.#vms = vms;
    this.#nodes = nodes;
    this.#logger = logger;
    this.#now = now;
    this.#wasm = new Queue({ ...WASM, store: workloads });
    this.#vm = new Queue({ ...VM, store: vms });
  }

  start(intervalMs = 5000): void {
    this.#watch(this.#wasm);
    this.#watch(this.#vm);
    this.#nodes.events.on("change", this.#onNode);
    this.#listeners.push(() => this.#nodes.events.off("change", this.#onNode));
    this.#timer = setInterval(this.#onNode, intervalMs);
    this.#kick();
  }

  /** Stops scheduling and waits for a pass under way, so that the store can be closed after. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const off of this.#listeners) off();
    clearInterval(this.#timer);
    await this.#current;
  }

  #watch<Spec, Status>(q: Queue<Spec, Status>): void {
    const on = (e: ResourceEvent<Resource<Spec, Status>>): void => {
      // New resources were placed when applied; only an unplaced one changing needs another look.
      if (e.type !== "MODIFIED" || q.k.nodeOf(e.resource.status) !== "") return;
      q.dirty.add(e.resource.metadata.name);
      this.#kick();
    };
    q.k.store.events.on("change", on);
    this.#listeners.push(() => q.k.store.events.off("change", on));
  }

  #stopped = false;
  #current: Promise<void> = Promise.resolve();

  readonly #onNode = (): void => {
    this.#full = true;
    this.#kick();
  };

  #kick(): void {
    if (this.#pending || this.#stopped) return;
    this.#pending = true;
    setImmediate(() => {
      this.#pending = false;
      if (this.#stopped) return;
      if (this.#running) {
        this.#kick();
        return;
      }
      this.#running = true;
      this.#current = this.pass()
        .catch((e: unknown) => {
          this.#logger.error({ err: e }, "scheduling pass failed");
        })
        .finally(() => {
          this.#running = false;
        });
    });
  }

  #placedResources(): Placed[] {
    return [...this.#workloads.placedResources(), ...this.#vms.placedResources()];
  }

  #placer<Spec, Status>(k: Omit<Schedulable<Spec, Status>, "store">, initial: Status) {
    return (spec: Spec): Partial<Status> => {
      const now = this.#now();
      const p = schedule(
        k.demand(spec),
        this.#nodes.list(),
        this.#placedResources(),
        now.getTime(),
      );
      return p.kind === "placed"
        ? k.placed(initial, p.node, now)
        : (k.unschedulable(initial, p.message, now) ?? {});
    };
  }

  /** Placement of a new WasmWorkload, run inside its apply transaction. */
  placeWasm(initial: WasmWorkloadStatus): (spec: WasmWorkloadSpec) => Partial<WasmWorkloadStatus> {
    return this.#placer(WASM, initial);
  }

  /** Placement of a new VM, run inside its apply transaction. */
  placeVm(initial: VmStatus): (spec: VmSpec) => Partial<VmStatus> {
    return this.#placer(VM, initial);
  }

  /** One scheduling pass over the resources that need it. */
  async pass(): Promise<void> {
    const full = this.#full;
    this.#full = false;
    const placed = this.#placedResources();
    const nodes = this.#nodes.list();
    await this.#passOne(this.#vm, full, nodes, placed);
    await this.#passOne(this.#wasm, full, nodes, placed);
  }

  async #passOne<Spec, Status>(
    q: Queue<Spec, Status>,
    full: boolean,
    nodes: ReturnType<NodeStore["list"]>,
    placed: Placed[],
  ): Promise<void> {
    const { k } = q;
    const candidates = full
      ? k.store.listByNode("")
      : [...q.dirty]
          .map((n) => k.store.get(n))
          .filter((r): r is Resource<Spec, Status> => r !== undefined && k.nodeOf(r.status) === "");
    q.dirty.clear();
    const now = this.#now();
    for (const r of candidates) {
      const demand = k.demand(r.spec);
      const p = schedule(demand, nodes, placed, now.getTime());
      const update = (cur: Resource<Spec, Status>): Status | undefined => {
        if (k.nodeOf(cur.status) !== "") return undefined;
        return p.kind === "placed"
          ? k.placed(cur.status, p.node, now)
          : k.unschedulable(cur.status, p.message, now);
      };
      if (p.kind === "placed") {
        placed.push({ node: p.node, memoryBytes: demand.memoryBytes, cpuMillis: demand.cpuMillis });
        this.#logger.debug({ name: r.metadata.name, node: p.node }, "scheduled");
      }
      await k.store.updateStatus(r.metadata.name, r.metadata.uid, update);
    }
  }
}
