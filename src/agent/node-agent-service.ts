import type { ServiceImpl } from "../api/gate.js";
import { KcoreError } from "../domain/errors.js";
import type { NodeAgentService } from "../gen/kcore/v1/agent_pb.js";
import type { NixosRealizer } from "./nixos/realizer.js";
import type { VmManager } from "./vms/vm-manager.js";
import type { WasmManager } from "./wasm/wasm-manager.js";

/**
 * What an agent serves the controller (and only the controller, by the authorisation table):
 * workload logs, VM consoles, and the node's rendered Nix module.
 */
export function nodeAgentService(d: {
  readonly nodeName: string;
  readonly wasm: WasmManager;
  readonly vms: VmManager;
  /** The nixos realizer and the file it writes; undefined on a direct node. */
  readonly nixos: { readonly realizer: NixosRealizer; readonly configFile: string } | undefined;
}): ServiceImpl<typeof NodeAgentService> {
  return {
    readLogs: async (req, ctx, send) => {
      const opts = {
        follow: req.follow,
        previous: req.previous,
        timestamps: req.timestamps,
        ...(req.tailLines === undefined ? {} : { tailLines: req.tailLines }),
      };
      for await (const chunk of d.wasm.readLogs(
        req.workloadName,
        req.workloadUid,
        opts,
        ctx.signal,
      ))
        send({ data: chunk });
    },
    readVmConsole: async (req, ctx, send) => {
      for await (const chunk of d.vms.readConsole(req.vmName, req.vmUid, {
        follow: req.follow,
        signal: ctx.signal,
        ...(req.tailLines === undefined ? {} : { tailLines: req.tailLines }),
      }))
        send({ data: chunk });
    },
    attachVmConsole: (requests, ctx, send) => d.vms.attachConsole(requests, ctx.signal, send),
    renderNix: () => {
      if (!d.nixos)
        throw new KcoreError(
          "FailedPrecondition",
          `node '${d.nodeName}' uses the direct realizer: it renders no Nix module`,
        );
      return Promise.resolve({ text: d.nixos.realizer.render().text, path: d.nixos.configFile });
    },
  };
}
