import { KcoreError } from "../../domain/errors.js";
import { NodeService } from "../../gen/kcore/v1/node_pb.js";
import { WasmWorkloadService } from "../../gen/kcore/v1/wasm_workload_pb.js";
import { WatchEventType } from "../../gen/kcore/v1/meta_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import {
  describeDocument,
  nodeDocument,
  nodeRow,
  NODE_HEADER,
  NODE_WIDE_HEADER,
  renderDocuments,
  table,
  workloadDocument,
  workloadRow,
  WORKLOAD_HEADER,
  WORKLOAD_WIDE_HEADER,
  type OutputFormat,
} from "../format.js";
import type { Kind } from "../kinds.js";
import { out } from "../output.js";

export async function get(
  kind: Kind,
  name: string | undefined,
  format: OutputFormat,
  watch: boolean,
  flags: GlobalFlags,
): Promise<void> {
  if (watch) {
    if (kind !== "WasmWorkload")
      throw new KcoreError("InvalidArgument", "--watch is supported for wasm workloads");
    await watchWorkloads(name, format, flags);
    return;
  }
  const wide = format === "wide";
  switch (kind) {
    case "WasmWorkload": {
      const c = connect(WasmWorkloadService, flags);
      try {
        const items =
          name === undefined
            ? (await c.listWasmWorkloads({})).items
            : [await c.getWasmWorkload({ name })];
        if (format === "json" || format === "yaml")
          out.line(renderDocuments(items.map(workloadDocument), format, name === undefined));
        else if (items.length === 0) process.stderr.write("No resources found.\n");
        else
          out.line(
            table([
              wide ? WORKLOAD_WIDE_HEADER : WORKLOAD_HEADER,
              ...items.map((w) => workloadRow(w, wide)),
            ]),
          );
      } finally {
        c.close();
      }
      return;
    }
    case "Node": {
      const c = connect(NodeService, flags);
      try {
        const items =
          name === undefined ? (await c.listNodes({})).items : [await c.getNode({ name })];
        if (format === "json" || format === "yaml")
          out.line(renderDocuments(items.map(nodeDocument), format, name === undefined));
        else if (items.length === 0) process.stderr.write("No resources found.\n");
        else
          out.line(
            table([wide ? NODE_WIDE_HEADER : NODE_HEADER, ...items.map((n) => nodeRow(n, wide))]),
          );
      } finally {
        c.close();
      }
      return;
    }
  }
}

async function watchWorkloads(
  name: string | undefined,
  format: OutputFormat,
  flags: GlobalFlags,
): Promise<void> {
  const c = connect(WasmWorkloadService, flags);
  const wide = format === "wide";
  const header = wide ? WORKLOAD_WIDE_HEADER : WORKLOAD_HEADER;
  let printedHeader = false;
  try {
    for await (const e of c.watchWasmWorkloads({ name: name ?? "" })) {
      if (!e.workload) continue;
      if (format === "json")
        out.line(
          JSON.stringify({ type: WatchEventType[e.type], object: workloadDocument(e.workload) }),
        );
      else if (format === "yaml")
        out.line(`---\n${renderDocuments([workloadDocument(e.workload)], "yaml", false)}`);
      else {
        const row = workloadRow(e.workload, wide);
        if (e.type === WatchEventType.DELETED) row[1] = "Deleted";
        const text = table([header, row]).split("\n");
        if (!printedHeader) out.line(text[0]);
        printedHeader = true;
        out.line(text[1]);
      }
    }
  } finally {
    c.close();
  }
}

export async function describe(kind: Kind, name: string, flags: GlobalFlags): Promise<void> {
  switch (kind) {
    case "WasmWorkload": {
      const c = connect(WasmWorkloadService, flags);
      try {
        out.line(describeDocument(workloadDocument(await c.getWasmWorkload({ name }))));
      } finally {
        c.close();
      }
      return;
    }
    case "Node": {
      const c = connect(NodeService, flags);
      try {
        out.line(describeDocument(nodeDocument(await c.getNode({ name }))));
      } finally {
        c.close();
      }
      return;
    }
  }
}
