import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { NotFoundError } from "../domain/errors.js";
import { canonicalJson, type ObjectMeta } from "../domain/meta.js";
import type { SafeName } from "../domain/names.js";
import type { Db } from "./database.js";
import type { GroupCommitter } from "./group-commit.js";

export type ApplyOutcome = "created" | "configured" | "unchanged";

/** A stored resource: metadata, the user's spec, the system's status. */
export interface Resource<Spec, Status> {
  readonly metadata: ObjectMeta;
  readonly spec: Spec;
  readonly status: Status;
}

export interface ResourceEvent<R> {
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly resource: R;
}

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

export interface ResourceTable<Status> {
  /** SQL table with the columns of migration 1's `wasm_workloads`. */
  readonly table: string;
  /** Kind name for errors ("VM"). */
  readonly kind: string;
  /** Status of a resource that has just been created. */
  readonly initialStatus: Status;
  /** The node a status places the resource on; `""` when none. */
  readonly nodeOf: (status: Status) => string;
}

/**
 * One kind of resource in SQLite. Reads are direct; writes go through the group committer, and
 * watchers hear of a change only after it is durable. The generation moves only when the spec
 * changes; every write takes the next cluster-wide resource version.
 */
export class ResourceStore<Spec, Status> {
  readonly #db: Db;
  readonly #commit: GroupCommitter;
  readonly #t: ResourceTable<Status>;
  /** Emits "change" with a ResourceEvent after each durable commit. */
  readonly events = new EventEmitter();
  readonly #get;
  readonly #list;
  readonly #byNode;
  readonly #bump;
  readonly #upsert;
  readonly #delete;

  constructor(db: Db, commit: GroupCommitter, table: ResourceTable<Status>) {
    this.#db = db;
    this.#commit = commit;
    this.#t = table;
    this.events.setMaxListeners(0);
    const t = table.table;
    this.#get = db.prepare<[string], Row>(`SELECT * FROM ${t} WHERE name = ?`);
    this.#list = db.prepare<[], Row>(`SELECT * FROM ${t} ORDER BY name`);
    this.#byNode = db.prepare<[string], Row>(`SELECT * FROM ${t} WHERE node = ? ORDER BY name`);
    this.#bump = db.prepare<[], { value: number }>(
      "UPDATE counters SET value = value + 1 WHERE name = 'resource_version' RETURNING value",
    );
    this.#upsert = db.prepare(
      `INSERT INTO ${t} (name, uid, generation, resource_version, created_at, labels, spec, status, node)
       VALUES (@name, @uid, @generation, @rv, @created, @labels, @spec, @status, @node)
       ON CONFLICT (name) DO UPDATE SET uid = @uid, generation = @generation, resource_version = @rv,
         labels = @labels, spec = @spec, status = @status, node = @node`,
    );
    this.#delete = db.prepare<[string]>(`DELETE FROM ${t} WHERE name = ?`);
  }

  /** The database, for subclasses' own queries. */
  protected get db(): Db {
    return this.#db;
  }

  #fromRow(r: Row): Resource<Spec, Status> {
    return {
      metadata: {
        name: r.name as SafeName,
        labels: JSON.parse(r.labels) as Record<string, string>,
        uid: r.uid,
        generation: r.generation,
        resourceVersion: r.resource_version,
        creationTimestamp: r.created_at,
      },
      spec: JSON.parse(r.spec) as Spec,
      // Status fields added in later versions start from their initial value in older rows.
      status: { ...this.#t.initialStatus, ...(JSON.parse(r.status) as Status) },
    };
  }

  get(name: string): Resource<Spec, Status> | undefined {
    const row = this.#get.get(name);
    return row ? this.#fromRow(row) : undefined;
  }

  list(): Resource<Spec, Status>[] {
    return this.#list.all().map((r) => this.#fromRow(r));
  }

  /** Resources placed on `node` (`""`: not placed yet). */
  listByNode(node: string): Resource<Spec, Status>[] {
    return this.#byNode.all(node).map((r) => this.#fromRow(r));
  }

  #nextVersion(): number {
    const row = this.#bump.get();
    if (!row) throw new Error("resource_version counter missing");
    return row.value;
  }

  #emit(type: ResourceEvent<unknown>["type"], resource: Resource<Spec, Status>): void {
    this.#commit.afterCommit(() =>
      this.events.emit("change", { type, resource } satisfies ResourceEvent<typeof resource>),
    );
  }

  #write(r: Resource<Spec, Status>): void {
    this.#upsert.run({
      name: r.metadata.name,
      uid: r.metadata.uid,
      generation: r.metadata.generation,
      rv: r.metadata.resourceVersion,
      created: r.metadata.creationTimestamp,
      labels: canonicalJson(r.metadata.labels),
      spec: canonicalJson(r.spec),
      status: JSON.stringify(r.status),
      node: this.#t.nodeOf(r.status),
    });
  }

  /**
   * Creates or updates a resource. `initial` computes a new resource's status inside the same
   * transaction (placement), so watchers see it placed at once.
   */
  apply(
    name: SafeName,
    labels: Readonly<Record<string, string>>,
    spec: Spec,
    now: Date,
    initial?: (spec: Spec) => Partial<Status>,
  ): Promise<{ outcome: ApplyOutcome; resource: Resource<Spec, Status> }> {
    return this.#commit.run(() => {
      const existing = this.get(name);
      if (!existing) {
        const resource: Resource<Spec, Status> = {
          metadata: {
            name,
            labels,
            uid: randomUUID(),
            generation: 1,
            resourceVersion: this.#nextVersion(),
            creationTimestamp: now.toISOString(),
          },
          spec,
          status: { ...this.#t.initialStatus, ...initial?.(spec) },
        };
        this.#write(resource);
        this.#emit("ADDED", resource);
        return { outcome: "created" as const, resource };
      }
      const specChanged = canonicalJson(existing.spec) !== canonicalJson(spec);
      if (!specChanged && canonicalJson(existing.metadata.labels) === canonicalJson(labels)) {
        return { outcome: "unchanged" as const, resource: existing };
      }
      const resource: Resource<Spec, Status> = {
        metadata: {
          ...existing.metadata,
          labels,
          generation: existing.metadata.generation + (specChanged ? 1 : 0),
          resourceVersion: this.#nextVersion(),
        },
        spec,
        status: existing.status,
      };
      this.#write(resource);
      this.#emit("MODIFIED", resource);
      return { outcome: "configured" as const, resource };
    });
  }

  /** Changes the spec of an existing resource (e.g. `kctl set vm --state`); the generation moves if it changed. */
  updateSpec(
    name: string,
    update: (current: Resource<Spec, Status>) => Spec,
  ): Promise<Resource<Spec, Status>> {
    return this.#commit.run(() => {
      const existing = this.get(name);
      if (!existing) throw new NotFoundError(this.#t.kind, name);
      const spec = update(existing);
      if (canonicalJson(spec) === canonicalJson(existing.spec)) return existing;
      const resource: Resource<Spec, Status> = {
        ...existing,
        metadata: {
          ...existing.metadata,
          generation: existing.metadata.generation + 1,
          resourceVersion: this.#nextVersion(),
        },
        spec,
      };
      this.#write(resource);
      this.#emit("MODIFIED", resource);
      return resource;
    });
  }

  /** Deletes a resource; its node stops it on the next assignment it receives. */
  delete(name: string): Promise<Resource<Spec, Status>> {
    return this.#commit.run(() => {
      const existing = this.get(name);
      if (!existing) throw new NotFoundError(this.#t.kind, name);
      this.#delete.run(name);
      const resource = {
        ...existing,
        metadata: { ...existing.metadata, resourceVersion: this.#nextVersion() },
      };
      this.#emit("DELETED", resource);
      return resource;
    });
  }

  /**
   * Replaces the status of the incarnation `uid` of `name`, if it still exists. `update` may
   * refuse (return undefined) based on the current record, e.g. a report from another node.
   */
  updateStatus(
    name: string,
    uid: string,
    update: (current: Resource<Spec, Status>) => Status | undefined,
  ): Promise<Resource<Spec, Status> | undefined> {
    return this.#commit.run(() => {
      const existing = this.get(name);
      if (existing?.metadata.uid !== uid) return undefined;
      const status = update(existing);
      if (status === undefined || JSON.stringify(status) === JSON.stringify(existing.status))
        return existing;
      const resource: Resource<Spec, Status> = {
        ...existing,
        metadata: { ...existing.metadata, resourceVersion: this.#nextVersion() },
        status,
      };
      this.#write(resource);
      this.#emit("MODIFIED", resource);
      return resource;
    });
  }
}
