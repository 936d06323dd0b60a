import { KcoreError, showValue } from "../../domain/errors.js";
import { NODE_CN_PREFIX } from "../../domain/identity.js";
import { parseTokenCredential } from "../../domain/join-token.js";
import { isDnsLabel } from "../../domain/names.js";
import type { ServiceImpl } from "../../api/gate.js";
import type { JoinService } from "../../gen/kcore/v1/access_pb.js";
import type { ControllerContext } from "../context.js";
import { nodeCertOptions } from "../node-certs.js";
import { MAX_CSR_BYTES } from "./access-service.js";

/**
 * The join port's service, for callers without a certificate. A node proves itself with a
 * bootstrap token and sends a CSR for a key it made; the token is used up in the transaction
 * that records the certificate it gets.
 */
export function joinService(c: ControllerContext): ServiceImpl<typeof JoinService> {
  return {
    clusterInfo() {
      return Promise.resolve({ caCertificatePem: c.pki.rootPem() });
    },
    async join(req) {
      const { id, secret } = parseTokenCredential("token", req.token);
      if (req.csrPem.length > MAX_CSR_BYTES)
        throw new KcoreError("InvalidArgument", `csrPem: larger than ${MAX_CSR_BYTES / 1024} KiB`);
      const { readCsr } = await import("../../pki/pki.js");
      const { commonName, publicKey } = await readCsr(req.csrPem);
      const nodeName = commonName.startsWith(NODE_CN_PREFIX)
        ? commonName.slice(NODE_CN_PREFIX.length)
        : "";
      if (!isDnsLabel(nodeName))
        throw new KcoreError(
          "InvalidArgument",
          `csrPem: subject CN ${showValue(commonName)} must be ${NODE_CN_PREFIX}<node name>`,
        );
      if (c.nodes.get(nodeName)?.status.approval === "Rejected")
        throw new KcoreError(
          "PermissionDenied",
          `node '${nodeName}' was rejected by an operator (kctl node approve ${nodeName} first)`,
        );
      const now = c.now();
      const cert = await c.pki.sign(
        publicKey,
        nodeCertOptions(nodeName, c.nodeCertTtlMs, now),
        () => {
          c.joinTokens.consumeInTransaction(id, secret, nodeName, now);
        },
      );
      c.logger.info({ node: nodeName, token: id, serial: cert.serial }, "node joined");
      return {
        certificatePem: cert.certPem,
        caCertificatePem: c.pki.rootPem(),
        apiPort: c.apiPort(),
      };
    },
  };
}
