/** The write load of the API benchmarks: new WasmWorkloads applied over mutual TLS, never placed. */
import { readFileSync } from "node:fs";
import { createClient } from "../src/api/grpc-client.js";
import { clientCredentials, type TlsMaterial } from "../src/api/tls.js";
import { ModuleService } from "../src/gen/kcore/v1/module_pb.js";
import { RestartPolicy, WasmWorkloadService } from "../src/gen/kcore/v1/wasm_workload_pb.js";
import { exampleModule } from "../test/helpers/fixtures.js";

/** Uploads examples/hello.wasm; its sha256 names it in the applied workloads. */
export async function uploadHello(target: string, tls: TlsMaterial): Promise<string> {
  const up = createClient(ModuleService, target, clientCredentials(tls, "controller"));
  try {
    return (await up.uploadModule({ content: readFileSync(exampleModule("hello")) })).sha256;
  } finally {
    up.close();
  }
}

/**
 * `clients` connections; `apply(i)` creates workload `w-<clients>-<i>` on connection i mod
 * clients. A node selector no node has keeps them from being placed: only the write is measured.
 */
export function applyClients(
  target: string,
  tls: TlsMaterial,
  clients: number,
  sha256: string,
): { apply: (i: number) => Promise<void>; close: () => void } {
  const pool = Array.from({ length: clients }, () =>
    createClient(WasmWorkloadService, target, clientCredentials(tls, "controller")),
  );
  return {
    apply: async (i) => {
      const client = pool[i % pool.length];
      if (!client) throw new Error("no client");
      await client.applyWasmWorkload({
        workload: {
          metadata: { name: `w-${clients}-${i}` },
          spec: {
            module: { source: { case: "uploadedSha256", value: sha256 } },
            args: [String(i)],
            restartPolicy: RestartPolicy.NEVER,
            nodeSelector: { bench: "none" },
          },
        },
      });
    },
    close: () => {
      for (const c of pool) c.close();
    },
  };
}
