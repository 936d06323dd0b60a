import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { SafeName } from "../domain/names.js";
import type {
  Node,
  NodeApproval,
  NodeStatus,
  RebuildOutcome,
  ResourceList,
} from "../domain/node.js";
import type { Db } from "./database.js";
import type { GroupCommitter } from "./group-commit.js";

interface Row {
  name: string;
  uid: string;
  resource_version: number;
  created_at: string;
  labels: string;
  status: string;
}

function fromRow(r: Row): Node {
  return {
    metadata: {
      name: r.name as SafeName,
      labels: JSON.parse(r.labels) as Record<string, string>,
      uid: r.uid,
      generation: 1,
      resourceVersion: r.resource_version,
      creationTimestamp: r.created_at,
    },
    status: JSON.parse(r.status) as NodeStatus,
  };
}

/** What a node says about itself when it registers. */
export interface Registration {
  readonly name: SafeName;
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: ResourceList;
  readonly hypervisor: string;
  readonly realizer: "nixos" | "direct";
  readonly version: string;
  readonly address: string;
}

/** Nodes in SQLite. */
export class NodeStore {
  readonly #db: Db;
  readonly #commit: GroupCommitter;
  /** Emits "change" with the Node after each durable commit. */
  readonly events = new EventEmitter();

  constructor(db: Db, commit: GroupCommitter) {
    this.#db = db;
    this.#commit = commit;
    this.events.setMaxListeners(0);
  }

  get(name: string): Node | undefined {
    const row = this.#db.prepare<[string], Row>("SELECT * FROM nodes WHERE name = ?").get(name);
    return row ? fromRow(row) : undefined;
  }

  list(): Node[] {
    return this.#db.prepare<[], Row>("SELECT * FROM nodes ORDER BY name").all().map(fromRow);
  }

  #save(node: Node): Node {
    const rv =
      this.#db
        .prepare<[], { value: number }>(
          "UPDATE counters SET value = value + 1 WHERE name = 'resource_version' RETURNING value",
        )
        .get()?.value ?? 0;
    const saved: Node = { ...node, metadata: { ...node.metadata, resourceVersion: rv } };
    this.#db
      .prepare(
        `INSERT INTO nodes (name, uid, resource_version, created_at, labels, status) VALUES (@name, @uid, @rv, @created, @labels, @status)
         ON CONFLICT (name) DO UPDATE SET resource_version = @rv, labels = @labels, status = @status`,
      )
      .run({
        name: saved.metadata.name,
        uid: saved.metadata.uid,
        rv,
        created: saved.metadata.creationTimestamp,
        labels: JSON.stringify(saved.metadata.labels),
        status: JSON.stringify(saved.status),
      });
    this.#commit.afterCommit(() => this.events.emit("change", saved));
    return saved;
  }

  /**
   * Registers or re-registers a node. A new node starts `Approved`, or `Pending` when the
   * controller requires approval; approval and cordoning set by an operator are kept across
   * re-registrations.
   */
  register(reg: Registration, now: Date, newApproval: NodeApproval = "Approved"): Promise<Node> {
    return this.#commit.run(() => {
      const existing = this.get(reg.name);
      const status: NodeStatus = {
        ready: true,
        approval: existing?.status.approval ?? newApproval,
        schedulable: existing?.status.schedulable ?? true,
        capacity: reg.capacity,
        allocatable: reg.capacity,
        usage: existing?.status.usage ?? { cpuMillis: 0, memoryBytes: 0, workloads: 0 },
        lastHeartbeat: now.toISOString(),
        hypervisor: reg.hypervisor,
        realizer: reg.realizer,
        version: reg.version,
        taints: existing?.status.taints ?? [],
        address: reg.address,
        ...(reg.realizer === "nixos" && existing?.status.lastRebuild
          ? { lastRebuild: existing.status.lastRebuild }
          : {}),
      };
      return this.#save({
        metadata: {
          name: reg.name,
          labels: reg.labels,
          uid: existing?.metadata.uid ?? randomUUID(),
          generation: 1,
          resourceVersion: 0,
          creationTimestamp: existing?.metadata.creationTimestamp ?? now.toISOString(),
        },
        status,
      });
    });
  }

  /** Sets an operator's decision on a node. Returns undefined for an unknown node. */
  setStatusFields(
    name: string,
    fields: Partial<Pick<NodeStatus, "approval" | "schedulable">>,
  ): Promise<Node | undefined> {
    return this.#commit.run(() => {
      const existing = this.get(name);
      if (!existing) return undefined;
      return this.#save({ ...existing, status: { ...existing.status, ...fields } });
    });
  }

  /** Records what the node's last NixOS rebuild did. Returns undefined for an unknown node. */
  recordRebuild(name: string, outcome: RebuildOutcome): Promise<Node | undefined> {
    return this.#commit.run(() => {
      const existing = this.get(name);
      if (!existing) return undefined;
      return this.#save({ ...existing, status: { ...existing.status, lastRebuild: outcome } });
    });
  }

  /** Records a heartbeat with the node's current usage. Returns undefined for an unknown node. */
  heartbeat(name: string, usage: ResourceList, now: Date): Promise<Node | undefined> {
    return this.#commit.run(() => {
      const existing = this.get(name);
      if (!existing) return undefined;
      return this.#save({
        ...existing,
        status: { ...existing.status, ready: true, usage, lastHeartbeat: now.toISOString() },
      });
    });
  }
}
