import { InvalidFieldError, KcoreError, showValue } from "../../domain/errors.js";
import { userCommonName, USER_CN_PREFIX, type UserRole } from "../../domain/identity.js";
import { isDnsLabel } from "../../domain/names.js";
import type { ServiceImpl } from "../../api/gate.js";
import type { AccessService } from "../../gen/kcore/v1/access_pb.js";
import type { ControllerContext } from "../context.js";

/** Largest CSR accepted: a P-256 request is well under 1 KiB. */
export const MAX_CSR_BYTES = 16 * 1024;
/** Most audit entries one call returns. */
export const MAX_AUDIT_ENTRIES = 10_000;

function parseUserRole(role: string): UserRole {
  if (role === "admin" || role === "viewer") return role;
  throw new InvalidFieldError("role", `unknown role ${showValue(role)}: expected admin or viewer`);
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
          `csrPem: subject CN ${showValue(commonName)} must be ${userCommonName(role, "<name>")} for role ${role}`,
        );
      const ca = c.ca();
      const certificatePem = await signLeaf(ca, publicKey, { commonName, usage: "client" });
      c.logger.info({ user, role, by: ctx.identity }, "signed user certificate");
      return { certificatePem, caCertificatePem: ca.certPem };
    },
    listAudit(req) {
      const since = req.since;
      if (since !== "" && !Number.isFinite(Date.parse(since)))
        throw new InvalidFieldError("since", `not an RFC 3339 time: ${showValue(since)}`);
      if (req.limit < 0 || req.limit > MAX_AUDIT_ENTRIES)
        throw new InvalidFieldError(
          "limit",
          `must be between 0 and ${MAX_AUDIT_ENTRIES}, got ${req.limit}`,
        );
      const entries = c.audit.list({
        ...(since === "" ? {} : { sinceTime: new Date(since).toISOString() }),
        limit: req.limit === 0 ? 500 : req.limit,
      });
      return Promise.resolve({ entries: entries.map((e) => ({ ...e, seq: BigInt(e.seq) })) });
    },
  };
}
