import { assertNever } from "../domain/assert-never.js";
import type { WatchEventType } from "../gen/kcore/v1/meta_pb.js";
import { NodeService } from "../gen/kcore/v1/node_pb.js";
import { VmService } from "../gen/kcore/v1/vm_pb.js";
import { WasmWorkloadService } from "../gen/kcore/v1/wasm_workload_pb.js";
import { connect, type GlobalFlags } from "./connect.js";
import {
  nodeDocument,
  nodeRow,
  NODE_HEADER,
  NODE_WIDE_HEADER,
  workloadDocument,
  workloadRow,
  WORKLOAD_HEADER,
  WORKLOAD_WIDE_HEADER,
} from "./format.js";
import {
  sshKeyDocument,
  sshKeyRow,
  SSH_KEY_HEADER,
  vmDocument,
  vmRow,
  VM_HEADER,
  VM_WIDE_HEADER,
} from "./format-vm.js";
import type { Kind } from "./kinds.js";

/** How kctl reads and shows one kind: one place per kind for get, describe and watch. */
export interface KindView<T> {
  /** One resource, or all of them. */
  fetch(name: string | undefined): Promise<T[]>;
  /** Changes, when the kind can be watched. */
  watch?: (
    name: string | undefined,
    signal?: AbortSignal,
  ) => AsyncIterable<{ type: WatchEventType; item?: T }>;
  document(item: T): Record<string, unknown>;
  header(wide: boolean): readonly string[];
  row(item: T, wide: boolean): string[];
  close(): void;
}

/** Runs `use` with the view of `kind`, closing its client afterwards. */
export function withView<R>(
  kind: Kind,
  flags: GlobalFlags,
  use: <T>(v: KindView<T>) => Promise<R>,
): Promise<R> {
  const run = async <T>(v: KindView<T>): Promise<R> => {
    try {
      return await use(v);
    } finally {
      v.close();
    }
  };
  switch (kind) {
    case "WasmWorkload": {
      const c = connect(WasmWorkloadService, flags);
      return run({
        fetch: async (name) =>
          name === undefined
            ? (await c.listWasmWorkloads({})).items
            : [await c.getWasmWorkload({ name })],
        watch: (name, signal) =>
          mapEvents(
            c.watchWasmWorkloads({ name: name ?? "" }, signal ? { signal } : {}),
            (e) => e.workload,
          ),
        document: workloadDocument,
        header: (wide) => (wide ? WORKLOAD_WIDE_HEADER : WORKLOAD_HEADER),
        row: workloadRow,
        close: () => {
          c.close();
        },
      });
    }
    case "VM": {
      const c = connect(VmService, flags);
      return run({
        fetch: async (name) =>
          name === undefined ? (await c.listVms({})).items : [await c.getVm({ name })],
        watch: (name, signal) =>
          mapEvents(c.watchVms({ name: name ?? "" }, signal ? { signal } : {}), (e) => e.vm),
        document: vmDocument,
        header: (wide) => (wide ? VM_WIDE_HEADER : VM_HEADER),
        row: vmRow,
        close: () => {
          c.close();
        },
      });
    }
    case "SshKey": {
      const c = connect(VmService, flags);
      return run({
        fetch: async (name) =>
          name === undefined ? (await c.listSshKeys({})).items : [await c.getSshKey({ name })],
        document: sshKeyDocument,
        header: () => SSH_KEY_HEADER,
        row: sshKeyRow,
        close: () => {
          c.close();
        },
      });
    }
    case "Node": {
      const c = connect(NodeService, flags);
      return run({
        fetch: async (name) =>
          name === undefined ? (await c.listNodes({})).items : [await c.getNode({ name })],
        document: nodeDocument,
        header: (wide) => (wide ? NODE_WIDE_HEADER : NODE_HEADER),
        row: nodeRow,
        close: () => {
          c.close();
        },
      });
    }
    default:
      return assertNever(kind, "kind");
  }
}

async function* mapEvents<E extends { type: WatchEventType }, T>(
  events: AsyncIterable<E>,
  item: (e: E) => T | undefined,
): AsyncGenerator<{ type: WatchEventType; item?: T }> {
  for await (const e of events) {
    const it = item(e);
    yield it === undefined ? { type: e.type } : { type: e.type, item: it };
  }
}
