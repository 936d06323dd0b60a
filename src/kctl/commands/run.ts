import { resolve } from "node:path";
import { KcoreError } from "../../domain/errors.js";
import { parseName } from "../../domain/names.js";
import type { GlobalFlags } from "../connect.js";
import { applyDocuments } from "./apply.js";

export interface RunFlags {
  readonly wasm: string;
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly restart?: string;
  readonly memory?: string;
  readonly cpu?: string;
  readonly labels: readonly string[];
}

function pairs(field: string, items: readonly string[]): Record<string, string> {
  const outMap: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0)
      throw new KcoreError(
        "InvalidArgument",
        `${field}: expected KEY=VALUE, got ${JSON.stringify(item)}`,
      );
    outMap[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return outMap;
}

/** `kctl run NAME --wasm FILE -- ARGS`: a WasmWorkload from flags. */
export async function run(name: string, f: RunFlags, flags: GlobalFlags): Promise<void> {
  const safe = parseName("NAME", name);
  await applyDocuments(
    [
      {
        doc: {
          kind: "WasmWorkload",
          name: safe,
          labels: { run: safe, ...pairs("--labels", f.labels) },
          source: "kctl run",
          spec: {
            module: { path: resolve(f.wasm) },
            args: f.args,
            env: pairs("--env", f.env),
            ...(f.restart === undefined ? {} : { restartPolicy: f.restart }),
            resources: {
              limits: {
                ...(f.memory === undefined ? {} : { memory: f.memory }),
                ...(f.cpu === undefined ? {} : { cpu: f.cpu }),
              },
            },
          },
        },
        baseDir: process.cwd(),
      },
    ],
    flags,
  );
}
