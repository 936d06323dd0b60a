import { KcoreError, NotFoundError } from "../../domain/errors.js";
import { parseName } from "../../domain/names.js";
import type { WasmWorkload } from "../../domain/wasm-workload.js";
import { workloadFromPb, workloadToPb } from "../../api/convert-wasm-workload.js";
import type { ServiceImpl } from "../../api/gate.js";
import type { WasmWorkloadService } from "../../gen/kcore/v1/wasm_workload_pb.js";
import type { ControllerContext } from "../context.js";
import { OUTCOME, readyNodeOf, watchStore } from "./common.js";

export function wasmWorkloadService(c: ControllerContext): ServiceImpl<typeof WasmWorkloadService> {
  const get = (name: string): WasmWorkload => {
    const w = c.workloads.get(parseName("name", name));
    if (!w) throw new NotFoundError("WasmWorkload", name);
    return w;
  };
  return {
    async applyWasmWorkload(req) {
      const { name, labels, spec } = workloadFromPb(req.workload);
      if (spec.module.kind === "uploaded" && !c.blobs.has(spec.module.sha256)) {
        throw new KcoreError(
          "FailedPrecondition",
          `spec.module.sha256: module ${spec.module.sha256} has not been uploaded`,
        );
      }
      if (spec.module.kind === "image") {
        throw new KcoreError(
          "InvalidArgument",
          "spec.module.image: OCI image modules are not supported by this version; use path or url",
        );
      }
      const { outcome, resource: workload } = await c.workloads.apply(
        name,
        labels,
        spec,
        c.now(),
        c.placeWasm,
      );
      c.logger.debug({ workload: name, outcome }, "applied workload");
      return { workload: workloadToPb(workload), outcome: OUTCOME[outcome] };
    },
    getWasmWorkload(req) {
      return Promise.resolve(workloadToPb(get(req.name)));
    },
    listWasmWorkloads(req) {
      const sel = Object.entries(req.labelSelector);
      const items = c.workloads
        .list()
        .filter((w) => sel.every(([k, v]) => w.metadata.labels[k] === v));
      return Promise.resolve({ items: items.map(workloadToPb) });
    },
    async deleteWasmWorkload(req) {
      const w = await c.workloads.delete(parseName("name", req.name));
      c.logger.debug({ workload: req.name }, "deleted workload");
      return { workload: workloadToPb(w) };
    },
    async watchWasmWorkloads(req, ctx, send) {
      const only = req.name === "" ? undefined : parseName("name", req.name);
      await watchStore(c.workloads, only, ctx.signal, (type, w) => {
        send({ type, workload: workloadToPb(w) });
      });
    },
    async workloadLogs(req, ctx, send) {
      const w = get(req.name);
      const node = readyNodeOf(c, "WasmWorkload", w.metadata.name, w.status.node);
      const client = c.agentClient(node);
      const stream = client.readLogs(
        {
          workloadName: w.metadata.name,
          workloadUid: w.metadata.uid,
          follow: req.follow,
          previous: req.previous,
          timestamps: req.timestamps,
          ...(req.tailLines === undefined ? {} : { tailLines: req.tailLines }),
        },
        { signal: ctx.signal },
      );
      for await (const chunk of stream) send({ data: chunk.data });
    },
  };
}
