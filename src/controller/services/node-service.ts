import { NotFoundError, KcoreError, showValue } from "../../domain/errors.js";
import { NODE_CN_PREFIX } from "../../domain/identity.js";
import { isDnsLabel, parseName } from "../../domain/names.js";
import { isReady } from "../../domain/node.js";
import { nodeToPb } from "../../api/convert-node.js";
import type { ServiceImpl } from "../../api/gate.js";
import type { NodeService } from "../../gen/kcore/v1/node_pb.js";
import type { ControllerContext } from "../context.js";
import { readyNodeOf } from "./common.js";

export function nodeService(c: ControllerContext): ServiceImpl<typeof NodeService> {
  return {
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
      const r = await c.agentClient(node.status.address).renderNix({}, { timeoutMs: 10_000 });
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
      const { readCsr, signLeaf } = await import("../../pki/pki.js");
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
      const ca = c.ca();
      const certificatePem = await signLeaf(ca, publicKey, {
        commonName,
        dnsNames: [nodeName, "localhost"],
        ipAddresses: ["127.0.0.1", "::1"],
        usage: "server-and-client",
      });
      c.logger.info({ node: nodeName }, "signed node certificate");
      return { certificatePem, caCertificatePem: ca.certPem };
    },
  };
}
