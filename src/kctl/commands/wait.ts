import { KcoreError } from "../../domain/errors.js";
import { WatchEventType } from "../../gen/kcore/v1/meta_pb.js";
import type { GlobalFlags } from "../connect.js";
import type { Kind } from "../kinds.js";
import { out } from "../output.js";
import { withView } from "../views.js";

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
  const signal = AbortSignal.timeout(timeoutMs);
  let lastSeen = "";
  let lastMessage = "";
  const met = await withView(kind, flags, async (v) => {
    if (!v.watch) throw new KcoreError("InvalidArgument", "wait supports wasm workloads and VMs");
    for await (const e of v.watch(name, signal)) {
      if (e.item === undefined) continue;
      if (condition.kind === "delete") {
        if (e.type === WatchEventType.DELETED) return true;
      } else {
        const status = (v.document(e.item).status ?? {}) as Record<string, unknown>;
        // Long work (an image download) shows its progress on a terminal.
        const message = typeof status.message === "string" ? status.message : "";
        if (message !== lastMessage) out.progress(message);
        lastMessage = message;
        const value = status[condition.field];
        lastSeen =
          typeof value === "string" || typeof value === "number" || typeof value === "boolean"
            ? String(value)
            : "";
        if (lastSeen === condition.value) return true;
      }
    }
    return false;
  });
  if (met) {
    out.line(`${label} condition met`);
    return;
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
