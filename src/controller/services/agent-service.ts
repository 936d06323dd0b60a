import { InvalidFieldError, KcoreError, showValue } from "../../domain/errors.js";
import { parseLabels, parseName } from "../../domain/names.js";
import type { WasmWorkload } from "../../domain/wasm-workload.js";
import { nodeToPb, rebuildFromPb, resourcesFromPb } from "../../api/convert-node.js";
import { statusFromPb, workloadToPb } from "../../api/convert-wasm-workload.js";
import { untilAborted, type ServiceImpl } from "../../api/gate.js";
import type { AgentService } from "../../gen/kcore/v1/agent_pb.js";
import type { ResourceEvent, ResourceStore } from "../../store/resource-store.js";
import type { Vm } from "../../domain/vm.js";
import { vmStatusFromPb, vmToPb } from "../../api/convert-vm.js";
import type { ControllerContext } from "../context.js";
import { nodeCertOptions } from "../node-certs.js";
import { MAX_CSR_BYTES } from "./access-service.js";
import { describeIdentity, NODE_CN_PREFIX } from "../../domain/identity.js";

/** The identity of a node's desired set: which incarnations at which generation. */
function assignmentKey(
  ws: readonly WasmWorkload[],
  vms: readonly { vm: Vm; keys: readonly string[] }[],
): string {
  return [
    ...ws.map((w) => `${w.metadata.uid}@${w.metadata.generation}`),
    ...vms.map(({ vm, keys }) => `${vm.metadata.uid}@${vm.metadata.generation}:${keys.join("|")}`),
  ]
    .sort()
    .join(",");
}

/** Most status reports one call may carry. */
const MAX_REPORTS = 10_000;

/**
 * Writes a node's status reports. Every report is parsed before any is written, so a bad one
 * leaves nothing half-applied; a report about a resource placed on another node is ignored.
 */
async function writeReports<Spec, Status extends { readonly node: string }, Wire, Parsed>(
  store: ResourceStore<Spec, Status>,
  req: {
    nodeName: string;
    reports: readonly { name: string; uid: string; status?: Wire | undefined }[];
  },
  parse: (field: string, s: Wire | undefined) => Parsed,
  withNode: (s: Parsed, node: string) => Status,
): Promise<void> {
  const node = parseName("nodeName", req.nodeName);
  if (req.reports.length > MAX_REPORTS)
    throw new InvalidFieldError("reports", `at most ${MAX_REPORTS} reports per call`);
  const reports = req.reports.map((r, i) => ({
    name: r.name,
    uid: r.uid,
    status: parse(`reports[${i}].status`, r.status),
  }));
  await Promise.all(
    reports.map((r) =>
      store.updateStatus(r.name, r.uid, (cur) =>
        cur.status.node === node ? withNode(r.status, node) : undefined,
      ),
    ),
  );
}

export function agentService(c: ControllerContext): ServiceImpl<typeof AgentService> {
  const assignedVms = (node: string): { vm: Vm; keys: string[] }[] =>
    c.vms.listByNode(node).map((vm) => ({
      vm,
      keys: vm.spec.sshKeys.flatMap((k) => c.sshKeys.get(k)?.spec.publicKey ?? []),
    }));
  return {
    async renewCertificate(req, ctx) {
      if (ctx.identity.kind !== "node") throw new KcoreError("PermissionDenied", "nodes only");
      const name = ctx.identity.nodeName;
      if (c.nodes.get(name)?.status.approval === "Rejected")
        throw new KcoreError("PermissionDenied", `node '${name}' was rejected`);
      if (req.csrPem.length > MAX_CSR_BYTES)
        throw new InvalidFieldError("csrPem", `larger than ${MAX_CSR_BYTES / 1024} KiB`);
      const { readCsr } = await import("../../pki/pki.js");
      const { commonName, publicKey } = await readCsr(req.csrPem);
      if (commonName !== `${NODE_CN_PREFIX}${name}`)
        throw new KcoreError(
          "PermissionDenied",
          `csrPem: node '${name}' may renew only its own certificate, not ${showValue(commonName)}`,
        );
      const cert = await c.pki.sign(publicKey, nodeCertOptions(name, c.nodeCertTtlMs, c.now()));
      c.logger.info(
        { node: name, serial: cert.serial, replaces: ctx.peer.serial },
        "renewed node certificate",
      );
      return { certificatePem: cert.certPem, caCertificatePem: c.pki.rootPem() };
    },
    async registerNode(req, ctx) {
      const name = parseName("nodeName", req.nodeName);
      if (c.nodes.get(name)?.status.approval === "Rejected")
        throw new KcoreError(
          "PermissionDenied",
          `node '${name}' was rejected by an operator (kctl node approve ${name} to let it in)`,
        );
      const realizer =
        req.realizer === "nixos" || req.realizer === "direct" ? req.realizer : undefined;
      if (realizer === undefined)
        throw new InvalidFieldError(
          "realizer",
          `unknown realizer ${showValue(req.realizer)}: expected nixos or direct`,
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
        c.requireApproval ? "Pending" : "Approved",
      );
      await c.pki.remember({
        serial: ctx.peer.serial,
        commonName: describeIdentity(ctx.identity),
        notAfter: ctx.peer.notAfter,
      });
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
      return { revocationVersion: c.pki.revocations.version };
    },
    getRevocations() {
      const r = c.pki.revocations;
      return Promise.resolve({
        revocationVersion: r.version,
        crlPems: [...r.crlPems],
        revokedSerials: [...r.serials],
      });
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
        const ws = c.workloads.listByNode(node);
        const vms = assignedVms(node);
        const key = assignmentKey(ws, vms);
        if (key === lastKey) return;
        lastKey = key;
        send({
          workloads: ws.map(workloadToPb),
          vms: vms.map(({ vm, keys }) => ({ vm: vmToPb(vm), sshPublicKeys: keys })),
        });
      };
      const queue = (): void => {
        if (queued) return;
        queued = true;
        setImmediate(() => {
          queued = false;
          if (!ctx.signal.aborted) push();
        });
      };
      const onChange = (e: ResourceEvent<WasmWorkload | Vm>): void => {
        const r = e.resource;
        if (r.status.node !== node && lastKey?.includes(r.metadata.uid) !== true) return;
        queue();
      };
      c.workloads.events.on("change", onChange);
      c.vms.events.on("change", onChange);
      c.sshKeys.events.on("change", queue);
      try {
        push();
        await untilAborted(ctx.signal);
      } finally {
        c.workloads.events.off("change", onChange);
        c.vms.events.off("change", onChange);
        c.sshKeys.events.off("change", queue);
      }
    },
    async reportWorkloadStatus(req) {
      await writeReports(c.workloads, req, statusFromPb, (s, node) => ({ ...s, node }));
      return {};
    },
    async reportVmStatus(req) {
      await writeReports(c.vms, req, vmStatusFromPb, (s, node) => ({ ...s, node }));
      return {};
    },
    async reportRebuild(req) {
      const node = parseName("nodeName", req.nodeName);
      const outcome = rebuildFromPb("outcome", req.outcome);
      if (c.nodes.get(node)?.status.realizer !== "nixos")
        throw new KcoreError(
          "FailedPrecondition",
          `node '${node}' is not registered with the nixos realizer`,
        );
      await c.nodes.recordRebuild(node, outcome);
      return {};
    },
  };
}
