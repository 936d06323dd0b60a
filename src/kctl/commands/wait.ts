import { KcoreError } from "../../domain/errors.js";
import { WasmWorkloadService } from "../../gen/kcore/v1/wasm_workload_pb.js";
import { WatchEventType } from "../../gen/kcore/v1/meta_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import { workloadDocument } from "../format.js";
import type { Kind } from "../kinds.js";
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
  if (kind !== "WasmWorkload")
    throw new KcoreError("InvalidArgument", "wait supports wasm workloads");
  const c = connect(WasmWorkloadService, flags);
  const signal = AbortSignal.timeout(timeoutMs);
  let lastSeen = "";
  try {
    for await (const e of c.watchWasmWorkloads({ name }, { signal })) {
      if (!e.workload) continue;
      if (condition.kind === "delete") {
        if (e.type === WatchEventType.DELETED) {
          out.line(`wasmworkload/${name} condition met`);
          return;
        }
        continue;
      }
      const status = workloadDocument(e.workload).status as Record<string, unknown>;
      const value = status[condition.field];
      lastSeen =
        typeof value === "string" || typeof value === "number" || typeof value === "boolean"
          ? String(value)
          : "";
      if (lastSeen === condition.value) {
        out.line(`wasmworkload/${name} condition met`);
        return;
      }
    }
  } finally {
    c.close();
  }
  if (signal.aborted) {
    const what =
      condition.kind === "delete"
        ? "deletion"
        : `${condition.field}=${condition.value} (last seen ${condition.field}=${lastSeen === "" ? "<none>" : lastSeen})`;
    throw new KcoreError("Unavailable", `timed out waiting for wasmworkload/${name}: ${what}`);
  }
  throw new KcoreError(
    "Unavailable",
    `watch of wasmworkload/${name} ended before the condition was met`,
  );
}
