import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { NotFoundError } from "../domain/errors.js";
import type { SafeName } from "../domain/names.js";
import {
  canonicalJson,
  PENDING_STATUS,
  sameSpec,
  type WasmWorkload,
  type WasmWorkloadSpec,
  type WasmWorkloadStatus,
} from "../domain/wasm-workload.js";
import type { Db } from "./database.js";
import type { GroupCommitter } from "./group-commit.js";

/** Chooses a node for a new workload, inside the apply transaction. */
export type Placer = (
  spec: WasmWorkloadSpec,
) => Pick<WasmWorkloadStatus, "node" | "reason" | "message">;

export type ApplyOutcome = "created" | "configured" | "unchanged";

export type WorkloadEvent = {
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly workload: WasmWorkload;
};

interface Row {
  name: string;
  uid: string;
  generation: number;
  resource_version: number;
  created_at: string;
  labels: string;
  spec: string;
  status: string;
}

function fromRow(r: Row): WasmWorkload {
  return {
    metadata: {
      name: r.name as SafeName,
      labels: JSON.parse(r.labels) as Record<string, string>,
      uid: r.uid,
      generation: r.generation,
      resourceVersion: r.resource_version,
      creationTimestamp: r.created_at,
    },
    spec: JSON.parse(r.spec) as WasmWorkloadSpec,
    status: JSON.parse(r.status) as WasmWorkloadStatus,
  };
}

/** WasmWorkloads in SQLite. Reads are direct; writes go through the group committer. */
export class WasmWorkloadStore {
  readonly #db: Db;
  readonly #commit: GroupCommitter;
  /** Emits "change" with a WorkloadEvent after each durable commit. */
  readonly events = new EventEmitter();
  readonly #get;
  readonly #list;
  readonly #bump;
  readonly #byNode;
  readonly #placed;

  constructor(db: Db, commit: GroupCommitter) {
    this.#db = db;
    this.#commit = commit;
    this.events.setMaxListeners(0);
    this.#get = db.prepare<[string], Row>("SELECT * FROM wasm_workloads WHERE name = ?");
    this.#list = db.prepare<[], Row>("SELECT * FROM wasm_workloads ORDER BY name");
    this.#byNode = db.prepare<[string], Row>(
      "SELECT * FROM wasm_workloads WHERE node = ? ORDER BY name",
    );
    this.#placed = db.prepare<[], { node: string; memory: number | null; cpu: number | null }>(
      `SELECT node, json_extract(spec, '$.limits.memoryBytes') AS memory, json_extract(spec, '$.limits.cpuMillis') AS cpu
       FROM wasm_workloads WHERE node > '' AND json_extract(status, '$.phase') NOT IN ('Succeeded', 'Failed')`,
    );
    this.#bump = db.prepare<[], { value: number }>(
      "UPDATE counters SET value = value + 1 WHERE name = 'resource_version' RETURNING value",
    );
  }

  get(name: string): WasmWorkload | undefined {
    const row = this.#get.get(name);
    return row ? fromRow(row) : undefined;
  }

  list(): WasmWorkload[] {
    return this.#list.all().map(fromRow);
  }

  /** Workloads placed on `node` (`""`: not placed yet). */
  listByNode(node: string): WasmWorkload[] {
    return this.#byNode.all(node).map(fromRow);
  }

  /** What running and pending workloads hold on each node, for the scheduler's accounting. */
  placedResources(): { node: string; memoryBytes: number; cpuMillis: number }[] {
    return this.#placed
      .all()
      .map((r) => ({ node: r.node, memoryBytes: r.memory ?? 0, cpuMillis: r.cpu ?? 0 }));
  }

  #nextVersion(): number {
    const row = this.#bump.get();
    if (!row) throw new Error("resource_version counter missing");
    return row.value;
  }

  #emit(type: WorkloadEvent["type"], workload: WasmWorkload): void {
    this.#commit.afterCommit(() =>
      this.events.emit("change", { type, workload } satisfies WorkloadEvent),
    );
  }

  #write(w: WasmWorkload, node: string): void {
    this.#db
      .prepare(
        `INSERT INTO wasm_workloads (name, uid, generation, resource_version, created_at, labels, spec, status, node)
         VALUES (@name, @uid, @generation, @rv, @created, @labels, @spec, @status, @node)
         ON CONFLICT (name) DO UPDATE SET uid = @uid, generation = @generation, resource_version = @rv,
           labels = @labels, spec = @spec, status = @status, node = @node`,
      )
      .run({
        name: w.metadata.name,
        uid: w.metadata.uid,
        generation: w.metadata.generation,
        rv: w.metadata.resourceVersion,
        created: w.metadata.creationTimestamp,
        labels: canonicalJson(w.metadata.labels),
        spec: canonicalJson(w.spec),
        status: JSON.stringify(w.status),
        node,
      });
  }

  /** Creates or updates a workload; the generation moves only when the spec changes. */
  apply(
    name: SafeName,
    labels: Readonly<Record<string, string>>,
    spec: WasmWorkloadSpec,
    now: Date,
    place?: Placer,
  ): Promise<{ outcome: ApplyOutcome; workload: WasmWorkload }> {
    return this.#commit.run(() => {
      const existing = this.get(name);
      if (!existing) {
        const workload: WasmWorkload = {
          metadata: {
            name,
            labels,
            uid: randomUUID(),
            generation: 1,
            resourceVersion: this.#nextVersion(),
            creationTimestamp: now.toISOString(),
          },
          spec,
          // Placed in the same transaction: one commit, and watchers see the node at once.
          status: { ...PENDING_STATUS, ...place?.(spec) },
        };
        this.#write(workload, workload.status.node);
        this.#emit("ADDED", workload);
        return { outcome: "created" as const, workload };
      }
      const specChanged = !sameSpec(existing.spec, spec);
      if (!specChanged && canonicalJson(existing.metadata.labels) === canonicalJson(labels)) {
        return { outcome: "unchanged" as const, workload: existing };
      }
      const workload: WasmWorkload = {
        metadata: {
          ...existing.metadata,
          labels,
          generation: existing.metadata.generation + (specChanged ? 1 : 0),
          resourceVersion: this.#nextVersion(),
        },
        spec,
        status: existing.status,
      };
      this.#write(workload, existing.status.node);
      this.#emit("MODIFIED", workload);
      return { outcome: "configured" as const, workload };
    });
  }

  /** Deletes a workload; its node stops it on the next assignment it receives. */
  delete(name: string): Promise<WasmWorkload> {
    return this.#commit.run(() => {
      const existing = this.get(name);
      if (!existing) throw new NotFoundError("WasmWorkload", name);
      this.#db.prepare("DELETE FROM wasm_workloads WHERE name = ?").run(name);
      const workload = {
        ...existing,
        metadata: { ...existing.metadata, resourceVersion: this.#nextVersion() },
      };
      this.#emit("DELETED", workload);
      return workload;
    });
  }

  /**
   * Replaces the status of the incarnation `uid` of `name`, if it still exists. `check` may refuse
   * (return false) based on the current record, e.g. a report from a node it is not placed on.
   */
  updateStatus(
    name: string,
    uid: string,
    update: (current: WasmWorkload) => WasmWorkloadStatus | undefined,
  ): Promise<WasmWorkload | undefined> {
    return this.#commit.run(() => {
      const existing = this.get(name);
      if (existing?.metadata.uid !== uid) return undefined;
      const status = update(existing);
      if (status === undefined || JSON.stringify(status) === JSON.stringify(existing.status))
        return existing;
      const workload: WasmWorkload = {
        ...existing,
        metadata: { ...existing.metadata, resourceVersion: this.#nextVersion() },
        status,
      };
      this.#write(workload, status.node);
      this.#emit("MODIFIED", workload);
      return workload;
    });
  }
}
