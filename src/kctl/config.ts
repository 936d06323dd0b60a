import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { parse, stringify } from "yaml";
import type { TlsMaterial } from "../api/tls.js";
import { KcoreError } from "../domain/errors.js";
import { writeFileAtomic } from "../util/atomic-file.js";

const ContextSchema = v.object({
  controller: v.optional(v.string()),
  controllers: v.optional(v.array(v.string())),
  "ca-data": v.string(),
  "cert-data": v.string(),
  "key-data": v.string(),
});

const ConfigSchema = v.object({
  "current-context": v.optional(v.string()),
  contexts: v.optional(v.record(v.string(), ContextSchema)),
});

export type KctlContext = v.InferOutput<typeof ContextSchema>;
export type KctlConfig = v.InferOutput<typeof ConfigSchema>;

/** `$KCTL_CONFIG`, else `~/.kcore/config`. */
export function configPath(): string {
  return process.env.KCTL_CONFIG ?? join(homedir(), ".kcore", "config");
}

export function loadConfig(path = configPath()): KctlConfig {
  if (!existsSync(path)) return {};
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new KcoreError(
      "InvalidArgument",
      `${path}: invalid YAML: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const r = v.safeParse(ConfigSchema, raw ?? {});
  if (!r.success) {
    const issue = r.issues[0];
    throw new KcoreError(
      "InvalidArgument",
      `${path}: ${v.getDotPath(issue) ?? "config"}: ${issue.message}`,
    );
  }
  return r.output;
}

/** Writes the config atomically with mode 0600 (it holds a private key). */
export function saveConfig(config: KctlConfig, path = configPath()): void {
  writeFileAtomic(path, stringify(config), 0o600);
}

/** Adds or replaces a context and makes it current. */
export function upsertContext(name: string, ctx: KctlContext, path = configPath()): void {
  const config = loadConfig(path);
  saveConfig(
    { ...config, "current-context": name, contexts: { ...(config.contexts ?? {}), [name]: ctx } },
    path,
  );
}

export interface ResolvedContext {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly tls: TlsMaterial;
}

const b64 = (s: string): string => Buffer.from(s, "base64").toString("utf8");

export function resolveContext(name?: string, path = configPath()): ResolvedContext {
  const config = loadConfig(path);
  const ctxName = name ?? config["current-context"];
  if (ctxName === undefined)
    throw new KcoreError(
      "FailedPrecondition",
      `no current context in ${path}: run 'kcore up' or 'kctl create cluster'`,
    );
  const ctx = config.contexts?.[ctxName];
  if (!ctx) throw new KcoreError("FailedPrecondition", `context '${ctxName}' not found in ${path}`);
  const addresses = [
    ...(ctx.controller === undefined ? [] : [ctx.controller]),
    ...(ctx.controllers ?? []),
  ];
  if (addresses.length === 0)
    throw new KcoreError(
      "InvalidArgument",
      `${path}: context '${ctxName}' has no controller address`,
    );
  return {
    name: ctxName,
    addresses,
    tls: {
      caPem: b64(ctx["ca-data"]),
      certPem: b64(ctx["cert-data"]),
      keyPem: b64(ctx["key-data"]),
    },
  };
}

export function contextFromPems(
  controller: string,
  caPem: string,
  certPem: string,
  keyPem: string,
): KctlContext {
  const e = (s: string): string => Buffer.from(s).toString("base64");
  return { controller, "ca-data": e(caPem), "cert-data": e(certPem), "key-data": e(keyPem) };
}
