import { KcoreError } from "../../domain/errors.js";
import { parseManifests } from "../../domain/manifest.js";
import { WasmWorkloadService } from "../../gen/kcore/v1/wasm_workload_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import { VmService } from "../../gen/kcore/v1/vm_pb.js";
import { assertNever } from "../../domain/assert-never.js";
import type { Kind } from "../kinds.js";
import { out } from "../output.js";
import { readSources } from "./apply.js";

export async function deleteResources(
  kind: Kind | undefined,
  names: readonly string[],
  files: readonly string[],
  flags: GlobalFlags,
): Promise<void> {
  const targets: { kind: Kind; name: string }[] = [];
  if (files.length > 0) {
    for (const f of files)
      for (const src of readSources(f))
        for (const d of parseManifests(src.text, src.name))
          targets.push({ kind: d.kind, name: d.name });
  } else {
    if (kind === undefined) throw new KcoreError("InvalidArgument", "give KIND NAME or -f FILE");
    for (const name of names) targets.push({ kind, name });
  }
  if (targets.length === 0) throw new KcoreError("InvalidArgument", "give KIND NAME or -f FILE");
  const wasm = connect(WasmWorkloadService, flags);
  const vms = connect(VmService, flags);
  try {
    for (const { kind: k, name } of targets) {
      switch (k) {
        case "WasmWorkload":
          await wasm.deleteWasmWorkload({ name });
          break;
        case "VM":
          await vms.deleteVm({ name });
          break;
        case "SshKey":
          await vms.deleteSshKey({ name });
          break;
        case "Node":
          throw new KcoreError("InvalidArgument", "nodes cannot be deleted with kctl delete");
        default:
          assertNever(k, "kind");
      }
      out.line(`${k.toLowerCase()} "${name}" deleted`);
    }
  } finally {
    wasm.close();
    vms.close();
  }
}
