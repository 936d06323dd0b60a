import { NotFoundError, KcoreError, showValue } from "../../domain/errors.js";
import { NODE_CN_PREFIX } from "../../domain/identity.js";
import { isDnsLabel, parseName } from "../../domain/names.js";
import { isReady, type Node, type NodeStatus } from "../../domain/node.js";
import { nodeToPb } from "../../api/convert-node.js";
import type { ServiceImpl } from "../../api/gate.js";
import type { NodeService } from "../../gen/kcore/v1/node_pb.js";
import type { ControllerContext } from "../context.js";
import { nodeCertOptions } from "../node-certs.js";
import { readyNodeOf } from "./common.js";

export function nodeService(c: ControllerContext): ServiceImpl<typeof NodeService> {
  const decide = async (
    field: string,
    reqName: string,
    fields: Partial<Pick<NodeStatus, "approval" | "schedulable">>,
  ): Promise<Node> => {
    const name = parseName(field, reqName);
    const n = await c.nodes.setStatusFields(name, fields);
    if (!n) throw new NotFoundError("Node", name);
    return n;
  };
  const toPb = (n: Node): ReturnType<typeof nodeToPb> => nodeToPb(n, isReady(n, c.now().getTime()));
  return {
    async approveNode(req) {
      return toPb(await decide("name", req.name, { approval: "Approved" }));
    },
    async rejectNode(req) {
      const n = await decide("name", req.name, { approval: "Rejected" });
      // A rejected node keeps no way in: its certificates are revoked, its connections closed.
      await c.pki.revoke({ commonName: `${NODE_CN_PREFIX}${n.metadata.name}` });
      return toPb(n);
    },
    async cordonNode(req) {
      return toPb(await decide("name", req.name, { schedulable: false }));
    },
    async uncordonNode(req) {
      return toPb(await decide("name", req.name, { schedulable: true }));
    },
    async drainNode(req) {
      const n = await decide("name", req.name, { schedulable: false });
      const name = n.metadata.name;
      const message = `evicted: node ${name} was drained`;
      const active = c.workloads
        .listByNode(name)
        .filter((w) => w.status.phase === "Pending" || w.status.phase === "Running");
      // Unplaced, the scheduler finds each another node (never this one: it is cordoned), and
      // this node's agent stops it with its grace period when its assignment no longer has it.
      const moved = await Promise.all(
        active.map((w) =>
          c.workloads.updateStatus(w.metadata.name, w.metadata.uid, (cur) =>
            cur.status.node === name
              ? { ...cur.status, node: "", phase: "Pending", reason: "Evicted", message }
              : undefined,
          ),
        ),
      );
      c.logger.info({ node: name, evicted: active.length }, "node drained");
      return {
        node: toPb(n),
        evicted: moved.flatMap((w) =>
          w && w.status.node === "" ? [`wasm/${w.metadata.name}`] : [],
        ),
        remaining: c.vms.listByNode(name).map((v) => `vm/${v.metadata.name}`),
      };
    },
    getNode(req) {
      const n = c.nodes.get(parseName("name", req.name));
      if (!n) throw new NotFoundError("Node", req.name);
      return Promise.resolve(nodeToPb(n, isReady(n, c.now().getTime())));
    },
    async renderNix(req) {
      const name = parseName("name", req.name);
      if (!c.nodes.get(name)) throw new NotFoundError("Node", name);
      const node = readyNodeOf(c, "Node", name, name);
      if (node.status.realizer !== "nixos")
        throw new KcoreError(
          "FailedPrecondition",
          `node '${name}' uses the ${node.status.realizer} realizer: only nixos nodes render a Nix module`,
        );
      const r = await c.agentClient(node).renderNix({}, { timeoutMs: 10_000 });
      return { text: r.text, path: r.path };
    },
    listNodes() {
      const now = c.now().getTime();
      return Promise.resolve({ items: c.nodes.list().map((n) => nodeToPb(n, isReady(n, now))) });
    },
    async signNodeCertificate(req) {
      if (req.csrPem.length > 16 * 1024)
        throw new KcoreError("InvalidArgument", "csrPem: larger than 16 KiB");
      // The X.509 library is loaded on first use: it is large, and signing is rare.
      const { readCsr } = await import("../../pki/pki.js");
      const { commonName, publicKey } = await readCsr(req.csrPem);
      const nodeName = commonName.startsWith(NODE_CN_PREFIX)
        ? commonName.slice(NODE_CN_PREFIX.length)
        : "";
      if (!isDnsLabel(nodeName)) {
        throw new KcoreError(
          "InvalidArgument",
          `csrPem: subject CN ${showValue(commonName)} must be ${NODE_CN_PREFIX}<node name>`,
        );
      }
      const cert = await c.pki.sign(publicKey, nodeCertOptions(nodeName, c.nodeCertTtlMs, c.now()));
      c.logger.info({ node: nodeName, serial: cert.serial }, "signed node certificate");
      return { certificatePem: cert.certPem, caCertificatePem: c.pki.rootPem() };
    },
  };
}
