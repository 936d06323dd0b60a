import { KcoreError } from "../../domain/errors.js";
import { NodeService } from "../../gen/kcore/v1/node_pb.js";
import { WasmWorkloadService } from "../../gen/kcore/v1/wasm_workload_pb.js";
import { WatchEventType } from "../../gen/kcore/v1/meta_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import { VmService } from "../../gen/kcore/v1/vm_pb.js";
import {
  sshKeyDocument,
  sshKeyRow,
  SSH_KEY_HEADER,
  vmDocument,
  vmRow,
  VM_HEADER,
  VM_WIDE_HEADER,
} from "../format-vm.js";
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
    if (kind === "VM") await watchVms(name, format, flags);
    else if (kind === "WasmWorkload") await watchWorkloads(name, format, flags);
    else throw new KcoreError("InvalidArgument", "--watch is supported for wasm workloads and VMs");
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
    case "VM": {
      const c = connect(VmService, flags);
      try {
        const items = name === undefined ? (await c.listVms({})).items : [await c.getVm({ name })];
        if (format === "json" || format === "yaml")
          out.line(renderDocuments(items.map(vmDocument), format, name === undefined));
        else if (items.length === 0) process.stderr.write("No resources found.\n");
        else
          out.line(table([wide ? VM_WIDE_HEADER : VM_HEADER, ...items.map((v) => vmRow(v, wide))]));
      } finally {
        c.close();
      }
      return;
    }
    case "SshKey": {
      const c = connect(VmService, flags);
      try {
        const items =
          name === undefined ? (await c.listSshKeys({})).items : [await c.getSshKey({ name })];
        if (format === "json" || format === "yaml")
          out.line(renderDocuments(items.map(sshKeyDocument), format, name === undefined));
        else if (items.length === 0) process.stderr.write("No resources found.\n");
        else out.line(table([SSH_KEY_HEADER, ...items.map(sshKeyRow)]));
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

async function watchVms(
  name: string | undefined,
  format: OutputFormat,
  flags: GlobalFlags,
): Promise<void> {
  const c = connect(VmService, flags);
  const wide = format === "wide";
  let printedHeader = false;
  try {
    for await (const e of c.watchVms({ name: name ?? "" })) {
      if (!e.vm) continue;
      if (format === "json")
        out.line(JSON.stringify({ type: WatchEventType[e.type], object: vmDocument(e.vm) }));
      else if (format === "yaml")
        out.line(`---\n${renderDocuments([vmDocument(e.vm)], "yaml", false)}`);
      else {
        const row = vmRow(e.vm, wide);
        if (e.type === WatchEventType.DELETED) row[1] = "Deleted";
        const text = table([wide ? VM_WIDE_HEADER : VM_HEADER, row]).split("\n");
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
    case "VM":
    case "SshKey": {
      const c = connect(VmService, flags);
      try {
        out.line(
          describeDocument(
            kind === "VM"
              ? vmDocument(await c.getVm({ name }))
              : sshKeyDocument(await c.getSshKey({ name })),
          ),
        );
      } finally {
        c.close();
      }
      return;
    }
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
