import { KcoreError, NotFoundError, InvalidFieldError, showValue } from "../../domain/errors.js";
import { parseName } from "../../domain/names.js";
import type { Node } from "../../domain/node.js";
import { VM_LIMITS, type Vm } from "../../domain/vm.js";
import { sshKeyFromPb, sshKeyToPb, vmFromPb, vmToPb } from "../../api/convert-vm.js";
import type { ServiceImpl } from "../../api/gate.js";
import type { VmService } from "../../gen/kcore/v1/vm_pb.js";
import type { ControllerContext } from "../context.js";
import { OUTCOME, readyNodeOf, watchStore } from "./common.js";

export function vmService(c: ControllerContext): ServiceImpl<typeof VmService> {
  const get = (name: string): Vm => {
    const v = c.vms.get(parseName("name", name));
    if (!v) throw new NotFoundError("VM", name);
    return v;
  };
  const nodeOf = (v: Vm): Node => readyNodeOf(c, "VM", v.metadata.name, v.status.node);
  return {
    async applyVm(req) {
      const { name, labels, spec } = vmFromPb(req.vm);
      if (spec.network !== undefined)
        throw new KcoreError(
          "FailedPrecondition",
          `spec.network: Network resources are not supported by this version (got ${showValue(spec.network)}); leave it out`,
        );
      spec.sshKeys.forEach((k, i) => {
        if (!c.sshKeys.get(k))
          throw new KcoreError(
            "FailedPrecondition",
            `spec.sshKeys[${i}]: SshKey ${showValue(k)} does not exist; apply it first`,
          );
      });
      const { outcome, resource } = await c.vms.apply(name, labels, spec, c.now(), c.placeVm);
      c.logger.debug({ vm: name, outcome }, "applied VM");
      return { vm: vmToPb(resource), outcome: OUTCOME[outcome] };
    },
    getVm(req) {
      return Promise.resolve(vmToPb(get(req.name)));
    },
    listVms(req) {
      const sel = Object.entries(req.labelSelector);
      const items = c.vms.list().filter((v) => sel.every(([k, x]) => v.metadata.labels[k] === x));
      return Promise.resolve({ items: items.map(vmToPb) });
    },
    async deleteVm(req) {
      const v = await c.vms.delete(parseName("name", req.name));
      c.logger.debug({ vm: req.name }, "deleted VM");
      return { vm: vmToPb(v) };
    },
    async watchVms(req, ctx, send) {
      const only = req.name === "" ? undefined : parseName("name", req.name);
      await watchStore(c.vms, only, ctx.signal, (type, v) => {
        send({ type, vm: vmToPb(v) });
      });
    },
    async setVmState(req) {
      const desired = req.desiredState;
      if (desired !== "Running" && desired !== "Stopped")
        throw new InvalidFieldError(
          "desiredState",
          `invalid value ${showValue(desired)}: expected Running or Stopped`,
        );
      const v = await c.vms.updateSpec(parseName("name", req.name), (cur) => ({
        ...cur.spec,
        desiredState: desired,
      }));
      return vmToPb(v);
    },
    async vmConsoleLog(req, ctx, send) {
      const v = get(req.name);
      const node = nodeOf(v);
      const stream = c.agentClient(node).readVmConsole(
        {
          vmName: v.metadata.name,
          vmUid: v.metadata.uid,
          follow: req.follow,
          ...(req.tailLines === undefined ? {} : { tailLines: req.tailLines }),
        },
        { signal: ctx.signal },
      );
      for await (const chunk of stream) send({ data: chunk.data });
    },
    async attachConsole(requests, ctx, send) {
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done === true) return;
      const v = get(first.value.name);
      const node = nodeOf(v);
      // Ends the call to the node when this call ends, or when the input is refused.
      const toNode = new AbortController();
      ctx.signal.addEventListener(
        "abort",
        () => {
          toNode.abort();
        },
        { once: true },
      );
      const call = c.agentClient(node).attachVmConsole({ signal: toNode.signal });
      call.write({ vmName: v.metadata.name, vmUid: v.metadata.uid, data: first.value.data });
      let refused: Error | undefined;
      const pump = (async () => {
        for (;;) {
          const next = await it.next();
          if (next.done === true) break;
          if (next.value.data.length > VM_LIMITS.maxConsoleInput)
            throw new InvalidFieldError(
              "data",
              `at most ${VM_LIMITS.maxConsoleInput} bytes per message`,
            );
          call.write({ data: next.value.data });
        }
        call.end();
      })().catch((e: unknown) => {
        refused = e instanceof Error ? e : new Error(String(e));
        toNode.abort();
      });
      for await (const out of call) send({ data: out.data });
      await pump;
      if (refused !== undefined) throw refused;
    },
    async applySshKey(req) {
      const { name, labels, spec } = sshKeyFromPb(req.sshKey);
      const { outcome, resource } = await c.sshKeys.apply(name, labels, spec, c.now());
      return { sshKey: sshKeyToPb(resource), outcome: OUTCOME[outcome] };
    },
    getSshKey(req) {
      const k = c.sshKeys.get(parseName("name", req.name));
      if (!k) throw new NotFoundError("SshKey", req.name);
      return Promise.resolve(sshKeyToPb(k));
    },
    listSshKeys() {
      return Promise.resolve({ items: c.sshKeys.list().map(sshKeyToPb) });
    },
    async deleteSshKey(req) {
      const name = parseName("name", req.name);
      const users = c.vms.list().filter((v) => v.spec.sshKeys.includes(name));
      if (users.length > 0)
        throw new KcoreError(
          "FailedPrecondition",
          `SshKey '${name}' is used by VM ${users.map((v) => `'${v.metadata.name}'`).join(", ")}`,
        );
      return { sshKey: sshKeyToPb(await c.sshKeys.delete(name)) };
    },
  };
}
