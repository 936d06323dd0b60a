import { assertNever } from "../../domain/assert-never.js";
import { KcoreError } from "../../domain/errors.js";
import { AccessService } from "../../gen/kcore/v1/access_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import { parseDuration } from "../duration.js";
import { renderDocuments, table, type OutputFormat } from "../format.js";
import { out } from "../output.js";

/** `--since 1h` (a duration back from now) or an RFC 3339 time. */
export function parseSince(value: string, nowMs = Date.now()): string {
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const t = Date.parse(value);
    if (!Number.isFinite(t))
      throw new KcoreError("InvalidArgument", `--since: not a time: ${JSON.stringify(value)}`);
    return new Date(t).toISOString();
  }
  return new Date(nowMs - parseDuration("--since", value)).toISOString();
}

/** `kctl audit [--since 1h|TIME] [--limit N] [-o table|wide|json|yaml]`: the audit log, oldest first. */
export async function audit(
  opts: { since?: string; limit?: number; format: OutputFormat },
  flags: GlobalFlags,
): Promise<void> {
  const c = connect(AccessService, flags);
  try {
    const res = await c.listAudit({
      since: opts.since === undefined ? "" : parseSince(opts.since),
      limit: opts.limit ?? 0,
    });
    const docs = res.entries.map((e) => ({
      time: e.time,
      identity: e.identity,
      role: e.role,
      method: e.method,
      resource: e.resource,
      code: e.code,
      message: e.message,
    }));
    switch (opts.format) {
      case "json":
      case "yaml":
        out.line(renderDocuments(docs, opts.format, true));
        return;
      case "table":
      case "wide": {
        const wide = opts.format === "wide";
        out.line(
          table([
            ["TIME", "IDENTITY", "METHOD", "RESOURCE", "RESULT", ...(wide ? ["MESSAGE"] : [])],
            ...docs.map((d) => [
              d.time,
              d.identity,
              d.method.replace(/^\/kcore\.v1\./, ""),
              d.resource,
              d.code,
              ...(wide ? [d.message] : []),
            ]),
          ]),
        );
        return;
      }
      default:
        assertNever(opts.format, "format");
    }
  } finally {
    c.close();
  }
}
