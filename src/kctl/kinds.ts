import { KcoreError } from "../domain/errors.js";
import { KIND_ALIASES } from "../domain/manifest.js";

export type Kind = "WasmWorkload" | "VM" | "SshKey" | "Node";

/** Resolves "wasm", "wasmworkloads", "node", "no"... to a kind, case-insensitively. */
export function resolveKind(arg: string | undefined): Kind {
  if (arg === undefined)
    throw new KcoreError("InvalidArgument", "a resource kind is required (wasm, vm, sshkey, node)");
  const k = KIND_ALIASES[arg.toLowerCase()];
  if (k === undefined)
    throw new KcoreError(
      "InvalidArgument",
      `unknown resource kind ${JSON.stringify(arg)}: expected wasm (WasmWorkload), vm, sshkey or node`,
    );
  return k;
}

/** "kind/name" or "name" (with a default kind). */
export function splitKindName(arg: string, defaultKind: Kind): { kind: Kind; name: string } {
  const slash = arg.indexOf("/");
  return slash < 0
    ? { kind: defaultKind, name: arg }
    : { kind: resolveKind(arg.slice(0, slash)), name: arg.slice(slash + 1) };
}

export const kindLower = (k: Kind): string => k.toLowerCase();
