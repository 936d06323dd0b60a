import { stringify } from "yaml";

/** A WasmWorkload manifest. */
export function workload(
  name: string,
  spec: Record<string, unknown>,
  labels: Record<string, string> = {},
): string {
  return stringify({
    apiVersion: "kcore.dev/v1",
    kind: "WasmWorkload",
    metadata: { name, labels },
    spec,
  });
}
