import { InvalidFieldError, KcoreError } from "../../domain/errors.js";
import { userCommonName, USER_CN_PREFIX, type UserRole } from "../../domain/identity.js";
import { isDnsLabel } from "../../domain/names.js";
import type { ServiceImpl } from "../../api/gate.js";
import type { AccessService } from "../../gen/kcore/v1/access_pb.js";
import type { ControllerContext } from "../context.js";

/** Largest CSR accepted: a P-256 request is well under 1 KiB. */
export const MAX_CSR_BYTES = 16 * 1024;

function parseUserRole(role: string): UserRole {
  if (role === "admin" || role === "viewer") return role;
  throw new InvalidFieldError(
    "role",
    `unknown role ${JSON.stringify(role)}: expected admin or viewer`,
  );
}

export function accessService(c: ControllerContext): ServiceImpl<typeof AccessService> {
  return {
    async signUserCertificate(req, ctx) {
      const role = parseUserRole(req.role);
      if (req.csrPem.length > MAX_CSR_BYTES)
        throw new InvalidFieldError("csrPem", `larger than ${MAX_CSR_BYTES / 1024} KiB`);
      const { readCsr, signLeaf } = await import("../../pki/pki.js");
      const { commonName, publicKey } = await readCsr(req.csrPem);
      const prefix = USER_CN_PREFIX[role];
      const user = commonName.startsWith(prefix) ? commonName.slice(prefix.length) : "";
      if (!isDnsLabel(user))
        throw new KcoreError(
          "InvalidArgument",
          `csrPem: subject CN ${JSON.stringify(commonName)} must be ${userCommonName(role, "<name>")} for role ${role}`,
        );
      const ca = c.ca();
      const certificatePem = await signLeaf(ca, publicKey, { commonName, usage: "client" });
      c.logger.info({ user, role, by: ctx.identity }, "signed user certificate");
      return { certificatePem, caCertificatePem: ca.certPem };
    },
  };
}
