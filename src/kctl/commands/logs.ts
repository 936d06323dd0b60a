import { KcoreError } from "../../domain/errors.js";
import { WasmWorkloadService } from "../../gen/kcore/v1/wasm_workload_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import { VmService } from "../../gen/kcore/v1/vm_pb.js";
import { splitKindName } from "../kinds.js";
import { out } from "../output.js";

export interface LogsFlags {
  readonly follow: boolean;
  readonly tail?: number;
  readonly previous: boolean;
  readonly timestamps: boolean;
}

export async function logs(target: string, opts: LogsFlags, flags: GlobalFlags): Promise<void> {
  const { kind, name } = splitKindName(target, "WasmWorkload");
  if (kind === "VM") {
    await vmLogs(name, opts, flags);
    return;
  }
  if (kind !== "WasmWorkload")
    throw new KcoreError(
      "InvalidArgument",
      `logs are available for wasm workloads and VMs, not ${kind}`,
    );
  const c = connect(WasmWorkloadService, flags);
  const ac = new AbortController();
  const onSignal = (): void => {
    ac.abort();
  };
  process.once("SIGINT", onSignal);
  try {
    const stream = c.workloadLogs(
      {
        name,
        follow: opts.follow,
        previous: opts.previous,
        timestamps: opts.timestamps,
        ...(opts.tail === undefined ? {} : { tailLines: opts.tail }),
      },
      { signal: ac.signal },
    );
    for await (const chunk of stream) await out.write(chunk.data);
  } finally {
    process.off("SIGINT", onSignal);
    c.close();
  }
}

/** A VM's serial console output, as its node keeps it. */
async function vmLogs(name: string, opts: LogsFlags, flags: GlobalFlags): Promise<void> {
  if (opts.previous || opts.timestamps)
    throw new KcoreError("InvalidArgument", "--previous and --timestamps apply to wasm workloads");
  const c = connect(VmService, flags);
  const ac = new AbortController();
  const onSignal = (): void => {
    ac.abort();
  };
  process.once("SIGINT", onSignal);
  try {
    const stream = c.vmConsoleLog(
      { name, follow: opts.follow, ...(opts.tail === undefined ? {} : { tailLines: opts.tail }) },
      { signal: ac.signal },
    );
    for await (const chunk of stream) await out.write(chunk.data);
  } finally {
    process.off("SIGINT", onSignal);
    c.close();
  }
}
