import { InvalidFieldError, KcoreError } from "../../domain/errors.js";
import { parseLabels, parseName } from "../../domain/names.js";
import type { WasmWorkload } from "../../domain/wasm-workload.js";
import { resourcesFromPb } from "../../api/convert-node.js";
import { nodeToPb } from "../../api/convert-node.js";
import { statusFromPb, workloadToPb } from "../../api/convert-wasm-workload.js";
import { untilAborted, type ServiceImpl } from "../../api/gate.js";
import type { AgentService } from "../../gen/kcore/v1/agent_pb.js";
import type { WorkloadEvent } from "../../store/wasm-workload-store.js";
import type { ControllerContext } from "../context.js";

/** The identity of a node's desired set: which incarnations at which generation. */
function assignmentKey(ws: readonly WasmWorkload[]): string {
  return ws
    .map((w) => `${w.metadata.uid}@${w.metadata.generation}`)
    .sort()
    .join(",");
}

export function agentService(c: ControllerContext): ServiceImpl<typeof AgentService> {
  const assigned = (node: string): WasmWorkload[] => c.workloads.listByNode(node);
  return {
    async registerNode(req) {
      const name = parseName("nodeName", req.nodeName);
      const realizer =
        req.realizer === "nixos" || req.realizer === "direct" ? req.realizer : undefined;
      if (realizer === undefined)
        throw new InvalidFieldError(
          "realizer",
          `unknown realizer ${JSON.stringify(req.realizer)}: expected nixos or direct`,
        );
      if (req.address.length > 300)
        throw new InvalidFieldError("address", "longer than 300 characters");
      const node = await c.nodes.register(
        {
          name,
          labels: parseLabels("labels", req.labels),
          capacity: resourcesFromPb(req.capacity),
          hypervisor: req.hypervisor.slice(0, 64),
          realizer,
          version: req.version.slice(0, 64),
          address: req.address,
        },
        c.now(),
      );
      c.logger.info({ node: name, address: req.address }, "node registered");
      return { node: nodeToPb(node, true) };
    },
    async heartbeat(req) {
      const n = await c.nodes.heartbeat(
        parseName("nodeName", req.nodeName),
        resourcesFromPb(req.usage),
        c.now(),
      );
      if (!n)
        throw new KcoreError(
          "FailedPrecondition",
          `node '${req.nodeName}' is not registered: register first`,
        );
      return {};
    },
    async watchAssignments(req, ctx, send) {
      const node = parseName("nodeName", req.nodeName);
      if (!c.nodes.get(node))
        throw new KcoreError(
          "FailedPrecondition",
          `node '${node}' is not registered: register first`,
        );
      let lastKey: string | undefined;
      let queued = false;
      const push = (): void => {
        const ws = assigned(node);
        const key = assignmentKey(ws);
        if (key === lastKey) return;
        lastKey = key;
        send({ workloads: ws.map(workloadToPb) });
      };
      const onChange = (e: WorkloadEvent): void => {
        if (queued) return;
        const w = e.workload;
        if (w.status.node !== node && lastKey?.includes(w.metadata.uid) !== true) return;
        queued = true;
        setImmediate(() => {
          queued = false;
          if (!ctx.signal.aborted) push();
        });
      };
      c.workloads.events.on("change", onChange);
      try {
        push();
        await untilAborted(ctx.signal);
      } finally {
        c.workloads.events.off("change", onChange);
      }
    },
    async reportWorkloadStatus(req) {
      const node = parseName("nodeName", req.nodeName);
      if (req.reports.length > 10_000)
        throw new InvalidFieldError("reports", "at most 10000 reports per call");
      await Promise.all(
        req.reports.map((r, i) => {
          const status = statusFromPb(`reports[${i}].status`, r.status);
          return c.workloads.updateStatus(r.name, r.uid, (cur) =>
            cur.status.node === node ? { ...status, node } : undefined,
          );
        }),
      );
      return {};
    },
  };
}
