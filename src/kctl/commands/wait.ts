import { KcoreError } from "../../domain/errors.js";
import { WasmWorkloadService } from "../../gen/kcore/v1/wasm_workload_pb.js";
import { WatchEventType } from "../../gen/kcore/v1/meta_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import { workloadDocument } from "../format.js";
import type { Kind } from "../kinds.js";
import { VmService } from "../../gen/kcore/v1/vm_pb.js";
import { vmDocument } from "../format-vm.js";
import { out } from "../output.js";

/** A condition: `delete`, or `<status field>=<value>` such as `phase=Succeeded`. */
export type Condition =
  | { readonly kind: "delete" }
  | { readonly kind: "field"; readonly field: string; readonly value: string };

export function parseCondition(text: string): Condition {
  if (text === "delete") return { kind: "delete" };
  const m = /^(?:jsonpath=\{?\.?status\.)?([A-Za-z]+)=(.+?)\}?$/.exec(text);
  if (!m?.[1] || m[2] === undefined)
    throw new KcoreError(
      "InvalidArgument",
      `--for: invalid condition ${JSON.stringify(text)}: expected FIELD=VALUE (e.g. phase=Succeeded) or delete`,
    );
  return { kind: "field", field: m[1], value: m[2] };
}

export async function wait(
  kind: Kind,
  name: string,
  condition: Condition,
  timeoutMs: number,
  flags: GlobalFlags,
): Promise<void> {
  const label = `${kind.toLowerCase()}/${name}`;
  let events: AsyncIterable<{ deleted: boolean; status: Record<string, unknown> }>;
  const signal = AbortSignal.timeout(timeoutMs);
  const close: (() => void)[] = [];
  switch (kind) {
    case "WasmWorkload": {
      const c = connect(WasmWorkloadService, flags);
      close.push(() => {
        c.close();
      });
      events = map(c.watchWasmWorkloads({ name }, { signal }), (e) =>
        e.workload
          ? {
              deleted: e.type === WatchEventType.DELETED,
              status: workloadDocument(e.workload).status as Record<string, unknown>,
            }
          : undefined,
      );
      break;
    }
    case "VM": {
      const c = connect(VmService, flags);
      close.push(() => {
        c.close();
      });
      events = map(c.watchVms({ name }, { signal }), (e) =>
        e.vm
          ? {
              deleted: e.type === WatchEventType.DELETED,
              status: vmDocument(e.vm).status as Record<string, unknown>,
            }
          : undefined,
      );
      break;
    }
    case "SshKey":
    case "Node":
      throw new KcoreError("InvalidArgument", "wait supports wasm workloads and VMs");
  }
  let lastSeen = "";
  let lastMessage = "";
  try {
    for await (const e of events) {
      if (condition.kind === "delete") {
        if (e.deleted) {
          out.line(`${label} condition met`);
          return;
        }
        continue;
      }
      const status = e.status;
      // Long work (an image download) shows its progress on a terminal.
      const message = typeof status.message === "string" ? status.message : "";
      if (message !== lastMessage) out.progress(message);
      lastMessage = message;
      const value = status[condition.field];
      lastSeen =
        typeof value === "string" || typeof value === "number" || typeof value === "boolean"
          ? String(value)
          : "";
      if (lastSeen === condition.value) {
        out.line(`${label} condition met`);
        return;
      }
    }
  } finally {
    for (const f of close) f();
  }
  if (signal.aborted) {
    const what =
      condition.kind === "delete"
        ? "deletion"
        : `${condition.field}=${condition.value} (last seen ${condition.field}=${lastSeen === "" ? "<none>" : lastSeen})`;
    throw new KcoreError("Unavailable", `timed out waiting for ${label}: ${what}`);
  }
  throw new KcoreError("Unavailable", `watch of ${label} ended before the condition was met`);
}

async function* map<T, U>(src: AsyncIterable<T>, f: (t: T) => U | undefined): AsyncGenerator<U> {
  for await (const t of src) {
    const u = f(t);
    if (u !== undefined) yield u;
  }
}
