import { InvalidFieldError, KcoreError, NotFoundError, showValue } from "../../domain/errors.js";
import { randomInt } from "node:crypto";
import {
  describeIdentity,
  NODE_CN_PREFIX,
  userCommonName,
  USER_CN_PREFIX,
  type UserRole,
} from "../../domain/identity.js";
import { formatJoinToken, JOIN_TOKEN_TTL } from "../../domain/join-token.js";
import { isDnsLabel, parseName } from "../../domain/names.js";
import type { ServiceImpl } from "../../api/gate.js";
import type { AccessService } from "../../gen/kcore/v1/access_pb.js";
import type { ControllerContext } from "../context.js";

/** Largest CSR accepted: a P-256 request is well under 1 KiB. */
export const MAX_CSR_BYTES = 16 * 1024;
/** Most audit entries one call returns. */
export const MAX_AUDIT_ENTRIES = 10_000;

const TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** `n` characters of [a-z0-9] from the system's random source. */
function randomToken(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)] ?? "";
  return s;
}

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
      const { readCsr } = await import("../../pki/pki.js");
      const { commonName, publicKey } = await readCsr(req.csrPem);
      const prefix = USER_CN_PREFIX[role];
      const user = commonName.startsWith(prefix) ? commonName.slice(prefix.length) : "";
      if (!isDnsLabel(user))
        throw new KcoreError(
          "InvalidArgument",
          `csrPem: subject CN ${showValue(commonName)} must be ${userCommonName(role, "<name>")} for role ${role}`,
        );
      const cert = await c.pki.sign(publicKey, { commonName, usage: "client" });
      c.logger.info(
        { user, role, serial: cert.serial, by: ctx.identity },
        "signed user certificate",
      );
      return { certificatePem: cert.certPem, caCertificatePem: c.pki.rootPem() };
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
    listCertificates() {
      return Promise.resolve({ items: c.pki.list() });
    },
    async revoke(req) {
      const t = req.target;
      switch (t.case) {
        case "serial": {
          if (!/^[0-9a-fA-F]{1,64}$/.test(t.value))
            throw new InvalidFieldError("serial", `not a hex serial number: ${showValue(t.value)}`);
          const { normalSerial } = await import("../../pki/serial.js");
          return { serials: await c.pki.revoke({ serial: normalSerial(t.value) }) };
        }
        case "nodeName": {
          const name = parseName("nodeName", t.value);
          if (!c.nodes.get(name)) throw new NotFoundError("Node", name);
          return { serials: await c.pki.revoke({ commonName: `${NODE_CN_PREFIX}${name}` }) };
        }
        case undefined:
          throw new InvalidFieldError("target", "give a serial or a node name");
      }
    },
    async rotate(req) {
      if (req.target !== "intermediate" && req.target !== "controller")
        throw new InvalidFieldError(
          "target",
          `cannot rotate ${showValue(req.target)}: expected intermediate or controller`,
        );
      const cert = await c.pki.rotate(req.target);
      c.logger.warn({ target: req.target, serial: cert.serial }, "rotated");
      return { serial: cert.serial, notAfter: cert.notAfter.toISOString() };
    },
    async createJoinToken(req, ctx) {
      const ttlMs =
        req.ttlSeconds === 0n ? JOIN_TOKEN_TTL.defaultMs : Number(req.ttlSeconds) * 1000;
      if (req.ttlSeconds < 0n || ttlMs > JOIN_TOKEN_TTL.maxMs)
        throw new InvalidFieldError(
          "ttlSeconds",
          `must be between 1 and ${JOIN_TOKEN_TTL.maxMs / 1000} seconds, got ${req.ttlSeconds}`,
        );
      const token = {
        id: randomToken(6),
        secret: randomToken(32),
        caSha256: (await import("../../pki/pki.js")).certSha256(c.pki.rootPem()),
      };
      const now = c.now();
      const expiresAt = new Date(now.getTime() + ttlMs);
      await c.joinTokens.create(
        { ...token, expiresAt, createdBy: describeIdentity(ctx.identity) },
        now,
      );
      return { token: formatJoinToken(token), expiresAt: expiresAt.toISOString() };
    },
  };
}
