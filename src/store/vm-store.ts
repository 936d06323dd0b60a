import type { Placed } from "../domain/scheduler.js";
import { PENDING_VM_STATUS, type Vm, type VmSpec, type VmStatus } from "../domain/vm.js";
import type { Db } from "./database.js";
import type { GroupCommitter } from "./group-commit.js";
import { ResourceStore, type ResourceEvent } from "./resource-store.js";

export type VmEvent = ResourceEvent<Vm>;

/** VMs in SQLite. */
export class VmStore extends ResourceStore<VmSpec, VmStatus> {
  readonly #placed;

  constructor(db: Db, commit: GroupCommitter) {
    super(db, commit, {
      table: "vms",
      kind: "VM",
      initialStatus: PENDING_VM_STATUS,
      nodeOf: (s) => s.node,
    });
    this.#placed = db.prepare<[], { node: string; memory: number; cpus: number }>(
      `SELECT node, json_extract(spec, '$.memoryBytes') AS memory, json_extract(spec, '$.cpus') AS cpus
       FROM vms WHERE node > ''`,
    );
  }

  /**
   * What placed VMs hold on each node. A stopped VM keeps its place (and its disks) on the node
   * so that it can start again there, so it is counted too.
   */
  placedResources(): Placed[] {
    return this.#placed
      .all()
      .map((r) => ({ node: r.node, memoryBytes: r.memory, cpuMillis: r.cpus * 1000 }));
  }
}
