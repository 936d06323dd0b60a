import * as v from "valibot";
import { parseAllDocuments } from "yaml";
import { InvalidFieldError, KcoreError, showValue } from "./errors.js";
import { parseLabels, parseName, type SafeName } from "./names.js";
import { API_VERSION } from "./meta.js";
import type { RawVmSpec } from "./vm.js";
import type { RawWasmWorkloadSpec } from "./wasm-workload.js";

/** Largest manifest file kctl reads. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const stringMap = v.record(v.string(), v.string());

const RawSpecSchema = v.strictObject({
  module: v.strictObject({
    path: v.optional(v.string()),
    sha256: v.optional(v.string()),
    url: v.optional(v.string()),
    image: v.optional(v.string()),
    name: v.optional(v.string()),
  }),
  args: v.optional(v.array(v.string())),
  env: v.optional(stringMap),
  volumes: v.optional(
    v.array(
      v.strictObject({
        name: v.string(),
        mountPath: v.string(),
        hostPath: v.optional(v.string()),
        emptyDir: v.optional(v.strictObject({})),
        readOnly: v.optional(v.boolean()),
      }),
    ),
  ),
  restartPolicy: v.optional(v.string()),
  resources: v.optional(
    v.strictObject({
      limits: v.optional(
        v.strictObject({ memory: v.optional(v.string()), cpu: v.optional(v.string()) }),
      ),
    }),
  ),
  nodeSelector: v.optional(stringMap),
  terminationGracePeriodSeconds: v.optional(v.number()),
});

const RawVmSpecSchema = v.strictObject({
  cpus: v.optional(v.number()),
  memory: v.optional(v.string()),
  boot: v.optional(
    v.strictObject({
      kernel: v.optional(v.string()),
      initrd: v.optional(v.string()),
      cmdline: v.optional(v.string()),
      firmware: v.optional(v.string()),
    }),
  ),
  disks: v.optional(
    v.array(
      v.strictObject({
        name: v.string(),
        url: v.optional(v.string()),
        sha256: v.optional(v.string()),
        path: v.optional(v.string()),
        format: v.optional(v.string()),
        sizeBytes: v.optional(v.number()),
        readOnly: v.optional(v.boolean()),
        keep: v.optional(v.boolean()),
      }),
    ),
  ),
  network: v.optional(v.string()),
  sshKeys: v.optional(v.array(v.string())),
  cloudInit: v.optional(v.strictObject({ userData: v.optional(v.string()) })),
  desiredState: v.optional(v.string()),
  nodeSelector: v.optional(stringMap),
});

const RawSshKeySpecSchema = v.strictObject({ publicKey: v.string() });

const DocumentSchema = v.object({
  apiVersion: v.string(),
  kind: v.string(),
  metadata: v.looseObject({ name: v.string(), labels: v.optional(stringMap) }),
  spec: v.optional(v.unknown()),
  status: v.optional(v.unknown()),
});

/** One manifest document, checked for shape; the spec is validated by its kind's parser. */
export type ManifestDocument = {
  readonly name: SafeName;
  readonly labels: Readonly<Record<string, string>>;
  /** Where the document came from, for error messages ("app.yaml#2"). */
  readonly source: string;
} & (
  | { readonly kind: "WasmWorkload"; readonly spec: RawWasmWorkloadSpec }
  | { readonly kind: "VM"; readonly spec: RawVmSpec }
  | { readonly kind: "SshKey"; readonly spec: { readonly publicKey: string } }
);

function firstIssue(prefix: string, issues: readonly v.BaseIssue<unknown>[]): InvalidFieldError {
  const issue = issues[0];
  const path = issue === undefined ? null : v.getDotPath(issue);
  const field = path === null ? prefix : `${prefix}.${path}`;
  const message = issue?.message ?? "invalid";
  return new InvalidFieldError(field.replace(/\.(\d+)(?=\.|$)/g, "[$1]"), message);
}

/** Kinds a manifest may name, with kubectl-style plurals and short names. */
export const KIND_ALIASES: Readonly<Record<string, "WasmWorkload" | "VM" | "SshKey" | "Node">> = {
  vm: "VM",
  vms: "VM",
  virtualmachine: "VM",
  virtualmachines: "VM",
  sshkey: "SshKey",
  sshkeys: "SshKey",
  wasmworkload: "WasmWorkload",
  wasmworkloads: "WasmWorkload",
  wasm: "WasmWorkload",
  wasms: "WasmWorkload",
  ww: "WasmWorkload",
  node: "Node",
  nodes: "Node",
  no: "Node",
};

/** Parses one or more YAML documents into checked manifest documents. */
export function parseManifests(text: string, source: string): ManifestDocument[] {
  if (text.length > MAX_MANIFEST_BYTES) {
    throw new KcoreError(
      "InvalidArgument",
      `${source}: manifest larger than ${MAX_MANIFEST_BYTES} bytes`,
    );
  }
  const docs = parseAllDocuments(text);
  const out: ManifestDocument[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, index) => {
    const where = list.length > 1 ? `${source}#${index + 1}` : source;
    const firstError = doc.errors[0];
    if (firstError !== undefined)
      throw new KcoreError("InvalidArgument", `${where}: invalid YAML: ${firstError.message}`);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // an empty document between separators
    const parsed = v.safeParse(DocumentSchema, value);
    if (!parsed.success) throw prefixed(where, firstIssue("", parsed.issues));
    const { apiVersion, kind, metadata, spec } = parsed.output;
    if (apiVersion !== API_VERSION)
      throw prefixed(
        where,
        new InvalidFieldError(
          "apiVersion",
          `unsupported ${showValue(apiVersion)}: expected ${showValue(API_VERSION)}`,
        ),
      );
    const name = wrap(where, () => parseName("metadata.name", metadata.name));
    const labels = wrap(where, () => parseLabels("metadata.labels", metadata.labels ?? {}));
    switch (kind) {
      case "WasmWorkload": {
        const s = v.safeParse(RawSpecSchema, spec);
        if (!s.success) throw prefixed(where, firstIssue("spec", s.issues));
        out.push({ kind: "WasmWorkload", name, labels, spec: s.output, source: where });
        return;
      }
      case "VM": {
        const s = v.safeParse(RawVmSpecSchema, spec ?? {});
        if (!s.success) throw prefixed(where, firstIssue("spec", s.issues));
        out.push({ kind: "VM", name, labels, spec: s.output, source: where });
        return;
      }
      case "SshKey": {
        const s = v.safeParse(RawSshKeySpecSchema, spec);
        if (!s.success) throw prefixed(where, firstIssue("spec", s.issues));
        out.push({ kind: "SshKey", name, labels, spec: s.output, source: where });
        return;
      }
      case "Node":
        throw prefixed(
          where,
          new InvalidFieldError("kind", "Node is read-only: nodes register themselves"),
        );
      default:
        throw prefixed(
          where,
          new InvalidFieldError(
            "kind",
            `unsupported kind ${showValue(kind)}: expected WasmWorkload, VM or SshKey`,
          ),
        );
    }
  });
  return out;
}

function prefixed(where: string, e: KcoreError): KcoreError {
  return new KcoreError(e.code, `${where}: ${e.message}`, { cause: e });
}

function wrap<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof KcoreError) throw prefixed(where, e);
    throw e;
  }
}
