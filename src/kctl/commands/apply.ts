import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { specToPb } from "../../api/convert-wasm-workload.js";
import { vmSpecToPb } from "../../api/convert-vm.js";
import { assertNever } from "../../domain/assert-never.js";
import { parseSshKeySpec } from "../../domain/ssh-key.js";
import { parseVmSpec } from "../../domain/vm.js";
import { SshKeySchema, VmSchema, VmService } from "../../gen/kcore/v1/vm_pb.js";
import { KcoreError } from "../../domain/errors.js";
import {
  MAX_MANIFEST_BYTES,
  parseManifests,
  type ManifestDocument,
} from "../../domain/manifest.js";
import { parseWasmWorkloadSpec, type RawWasmWorkloadSpec } from "../../domain/wasm-workload.js";
import { ApplyOutcome } from "../../gen/kcore/v1/meta_pb.js";
import { ModuleService } from "../../gen/kcore/v1/module_pb.js";
import { WasmWorkloadSchema, WasmWorkloadService } from "../../gen/kcore/v1/wasm_workload_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import { out } from "../output.js";

/** Largest module kctl uploads (the controller's limit). */
const MAX_MODULE_BYTES = 15 * 1024 * 1024;

export interface Source {
  readonly text: string;
  readonly name: string;
  /** Directory that relative module paths are resolved against. */
  readonly baseDir: string;
}

/** Reads `-f` sources: a file, a directory's *.yaml|*.yml|*.json files, or "-" for stdin. */
export function readSources(arg: string): Source[] {
  if (arg === "-") {
    const text = readFileSync(0, "utf8");
    return [{ text, name: "<stdin>", baseDir: process.cwd() }];
  }
  let st;
  try {
    st = statSync(arg);
  } catch {
    throw new KcoreError("NotFound", `-f: ${arg}: no such file or directory`);
  }
  const files = st.isDirectory()
    ? readdirSync(arg)
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .sort()
        .map((f) => join(arg, f))
    : [arg];
  return files.map((f) => {
    if (statSync(f).size > MAX_MANIFEST_BYTES)
      throw new KcoreError("InvalidArgument", `${f}: larger than ${MAX_MANIFEST_BYTES} bytes`);
    return { text: readFileSync(f, "utf8"), name: f, baseDir: dirname(resolve(f)) };
  });
}

/** Uploads a local module file and returns the spec that refers to it by digest. */
export async function uploadModule(
  path: string,
  flags: GlobalFlags,
  field: string,
): Promise<{ sha256: string; name: string }> {
  let bytes: Buffer;
  try {
    const size = statSync(path).size;
    if (size > MAX_MODULE_BYTES)
      throw new KcoreError(
        "InvalidArgument",
        `${field}: ${path} is ${size} bytes, above the ${MAX_MODULE_BYTES}-byte limit`,
      );
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof KcoreError) throw e;
    throw new KcoreError(
      "InvalidArgument",
      `${field}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  out.progress(`uploading ${basename(path)} (${Math.ceil(bytes.length / 1024)} KiB)`);
  const client = connect(ModuleService, flags);
  try {
    await client.uploadModule({ content: bytes, sha256 });
  } finally {
    client.close();
  }
  return { sha256, name: basename(path) };
}

/** Resolves a manifest's local module path by uploading it; validates the spec locally. */
export async function resolveSpec(
  doc: Extract<ManifestDocument, { kind: "WasmWorkload" }>,
  baseDir: string,
  flags: GlobalFlags,
): Promise<RawWasmWorkloadSpec> {
  let spec = doc.spec;
  const modPath = spec.module.path;
  if (modPath !== undefined) {
    const rest = { sha256: spec.module.sha256, name: spec.module.name };
    const uploaded = await uploadModule(
      resolve(baseDir, modPath),
      flags,
      `${doc.source}: spec.module.path`,
    );
    if (rest.sha256 !== undefined && rest.sha256 !== uploaded.sha256) {
      throw new KcoreError(
        "InvalidArgument",
        `${doc.source}: spec.module.sha256: ${modPath} has sha256 ${uploaded.sha256}, not ${rest.sha256}`,
      );
    }
    spec = { ...spec, module: { sha256: uploaded.sha256, name: rest.name ?? uploaded.name } };
  }
  return spec;
}

const OUTCOME_TEXT = {
  [ApplyOutcome.CREATED]: "created",
  [ApplyOutcome.CONFIGURED]: "configured",
  [ApplyOutcome.UNCHANGED]: "unchanged",
  [ApplyOutcome.UNSPECIFIED]: "applied",
} as const;

/** Validates a document's spec locally, so that one bad document applies nothing. */
function checkLocally(doc: ManifestDocument): void {
  try {
    switch (doc.kind) {
      case "WasmWorkload": {
        const m = doc.spec.module;
        const probe =
          m.path === undefined
            ? doc.spec
            : { ...doc.spec, module: { sha256: m.sha256 ?? "0".repeat(64), name: m.name } };
        parseWasmWorkloadSpec("spec", probe);
        return;
      }
      case "VM":
        parseVmSpec("spec", doc.spec);
        return;
      case "SshKey":
        parseSshKeySpec("spec", doc.spec);
        return;
      default:
        assertNever(doc, "document");
    }
  } catch (e) {
    if (e instanceof KcoreError) throw new KcoreError(e.code, `${doc.source}: ${e.message}`);
    throw e;
  }
}

export async function applyDocuments(
  docs: readonly { doc: ManifestDocument; baseDir: string }[],
  flags: GlobalFlags,
): Promise<void> {
  const wasm = connect(WasmWorkloadService, flags);
  const vms = connect(VmService, flags);
  try {
    // SshKeys first: VMs name them.
    const ordered = [...docs].sort(
      (a, b) => Number(b.doc.kind === "SshKey") - Number(a.doc.kind === "SshKey"),
    );
    for (const { doc, baseDir } of ordered) {
      const meta = { name: doc.name, labels: { ...doc.labels } };
      let outcome: ApplyOutcome;
      try {
        switch (doc.kind) {
          case "WasmWorkload": {
            const spec = parseWasmWorkloadSpec("spec", await resolveSpec(doc, baseDir, flags));
            const workload = create(WasmWorkloadSchema, { metadata: meta, spec: specToPb(spec) });
            outcome = (await wasm.applyWasmWorkload({ workload })).outcome;
            break;
          }
          case "VM": {
            const vm = create(VmSchema, {
              metadata: meta,
              spec: vmSpecToPb(parseVmSpec("spec", doc.spec)),
            });
            outcome = (await vms.applyVm({ vm })).outcome;
            break;
          }
          case "SshKey": {
            const sshKey = create(SshKeySchema, {
              metadata: meta,
              spec: parseSshKeySpec("spec", doc.spec),
            });
            outcome = (await vms.applySshKey({ sshKey })).outcome;
            break;
          }
          default:
            return assertNever(doc, "document");
        }
      } catch (e) {
        if (e instanceof KcoreError) throw new KcoreError(e.code, `${doc.source}: ${e.message}`);
        throw e;
      }
      out.line(`${doc.kind.toLowerCase()}/${doc.name} ${OUTCOME_TEXT[outcome]}`);
    }
  } finally {
    wasm.close();
    vms.close();
  }
}

export async function apply(files: readonly string[], flags: GlobalFlags): Promise<void> {
  if (files.length === 0)
    throw new KcoreError("InvalidArgument", "-f is required (a file, a directory or - for stdin)");
  const docs: { doc: ManifestDocument; baseDir: string }[] = [];
  // Parse everything first: one bad document applies nothing.
  for (const f of files) {
    for (const src of readSources(f)) {
      for (const doc of parseManifests(src.text, src.name))
        docs.push({ doc, baseDir: src.baseDir });
    }
  }
  if (docs.length === 0)
    throw new KcoreError("InvalidArgument", "no resources found in the given manifests");
  for (const { doc } of docs) checkLocally(doc);
  await applyDocuments(docs, flags);
}
