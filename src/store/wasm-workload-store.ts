import {
  PENDING_STATUS,
  type WasmWorkloadSpec,
  type WasmWorkloadStatus,
} from "../domain/wasm-workload.js";
import type { Placed } from "../domain/scheduler.js";
import type { Db } from "./database.js";
import type { GroupCommitter } from "./group-commit.js";
import { ResourceStore, type ResourceEvent } from "./resource-store.js";
import type { WasmWorkload } from "../domain/wasm-workload.js";

export type WorkloadEvent = ResourceEvent<WasmWorkload>;

/** WasmWorkloads in SQLite. */
export class WasmWorkloadStore extends ResourceStore<WasmWorkloadSpec, WasmWorkloadStatus> {
  readonly #placed;

  constructor(db: Db, commit: GroupCommitter) {
    super(db, commit, {
      table: "wasm_workloads",
      kind: "WasmWorkload",
      initialStatus: PENDING_STATUS,
      nodeOf: (s) => s.node,
    });
    this.#placed = db.prepare<[], { node: string; memory: number | null; cpu: number | null }>(
      `SELECT node, json_extract(spec, '$.limits.memoryBytes') AS memory, json_extract(spec, '$.limits.cpuMillis') AS cpu
       FROM wasm_workloads WHERE node > '' AND json_extract(status, '$.phase') NOT IN ('Succeeded', 'Failed')`,
    );
  }

  /** What running and pending workloads hold on each node, for the scheduler's accounting. */
  placedResources(): Placed[] {
    return this.#placed
      .all()
      .map((r) => ({ node: r.node, memoryBytes: r.memory ?? 0, cpuMillis: r.cpu ?? 0 }));
  }
}
