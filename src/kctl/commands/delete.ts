import { KcoreError } from "../../domain/errors.js";
import { parseManifests } from "../../domain/manifest.js";
import { WasmWorkloadService } from "../../gen/kcore/v1/wasm_workload_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import type { Kind } from "../kinds.js";
import { out } from "../output.js";
import { readSources } from "./apply.js";

export async function deleteResources(
  kind: Kind | undefined,
  names: readonly string[],
  files: readonly string[],
  flags: GlobalFlags,
): Promise<void> {
  const targets: string[] = [...names];
  if (files.length > 0) {
    for (const f of files)
      for (const src of readSources(f))
        for (const d of parseManifests(src.text, src.name)) targets.push(d.name);
  } else if (kind === "Node") {
    throw new KcoreError("InvalidArgument", "nodes cannot be deleted with kctl delete");
  }
  if (targets.length === 0) throw new KcoreError("InvalidArgument", "give KIND NAME or -f FILE");
  const c = connect(WasmWorkloadService, flags);
  try {
    for (const name of targets) {
      await c.deleteWasmWorkload({ name });
      out.line(`wasmworkload "${name}" deleted`);
    }
  } finally {
    c.close();
  }
}
