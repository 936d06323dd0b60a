/**
 * Module start: API apply → the module's first output line on the node, and → phase Succeeded
 * seen on the watch stream, against plain `node` running the same module with node:wasi (spawn →
 * first stdout byte, and → exit), in the same run.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "../src/api/grpc-client.js";
import { clientCredentials } from "../src/api/tls.js";
import { ModuleService } from "../src/gen/kcore/v1/module_pb.js";
import {
  RestartPolicy,
  WasmWorkloadService,
  WorkloadPhase,
} from "../src/gen/kcore/v1/wasm_workload_pb.js";
import { exampleModule } from "../test/helpers/fixtures.js";
import { TestCluster, waitFor } from "../test/helpers/cluster.js";
import { fmt, percentile } from "./lib.js";

const PLAIN = join(dirname(fileURLToPath(import.meta.url)), "plain-wasi.js");

function plainRun(module: string): Promise<{ firstMs: number; exitMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = 0;
    const child = spawn(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", PLAIN, module],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    child.stdout.once("data", () => {
      first = performance.now() - t0;
    });
    child.stdout.resume();
    child.once("error", reject);
    child.once("exit", () => {
      resolve({ firstMs: first, exitMs: performance.now() - t0 });
    });
  });
}

export async function moduleStart(runs: number): Promise<string> {
  const module = exampleModule("hello");
  const c = await TestCluster.start([{ name: "n1" }]);
  try {
    const tls = c.adminTls();
    const target = `127.0.0.1:${c.controllerPort}`;
    const up = createClient(ModuleService, target, clientCredentials(tls, "controller"));
    const { sha256 } = await up.uploadModule({ content: readFileSync(module) });
    up.close();
    const api = createClient(WasmWorkloadService, target, clientCredentials(tls, "controller"));
    await waitFor("node ready", async () => (await c.ok("get", "nodes")).includes(" Ready "));
    const done = new Map<string, () => void>();
    const ac = new AbortController();
    const watching = (async () => {
      for await (const e of api.watchWasmWorkloads({}, { signal: ac.signal })) {
        if (e.workload?.status?.phase === WorkloadPhase.SUCCEEDED)
          done.get(e.workload.metadata?.name ?? "")?.();
      }
    })().catch(() => undefined);
    const kFirst: number[] = [];
    const kExit: number[] = [];
    const pFirst: number[] = [];
    const pExit: number[] = [];
    for (let i = -2; i < runs; i++) {
      const name = `start-${i + 2}`;
      const exited = new Promise<void>((r) => done.set(name, r));
      const t0 = performance.now();
      const res = await api.applyWasmWorkload({
        workload: {
          metadata: { name },
          spec: {
            module: { source: { case: "uploadedSha256", value: sha256 } },
            restartPolicy: RestartPolicy.NEVER,
          },
        },
      });
      const log = join(
        c.agentDir("n1"),
        "logs",
        `${name}_${res.workload?.metadata?.uid ?? ""}`,
        "0.log",
      );
      await waitFor(
        "first line",
        () => existsSync(log) && readFileSync(log).includes(0x0a),
        30_000,
        1,
      );
      const first = performance.now() - t0;
      await exited;
      const exit = performance.now() - t0;
      const plain = await plainRun(module);
      if (i >= 0) {
        kFirst.push(first);
        kExit.push(exit);
        pFirst.push(plain.firstMs);
        pExit.push(plain.exitMs);
      }
    }
    ac.abort();
    await watching;
    api.close();
    const med = (xs: number[]): number =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    return [
      `Module start: hello.wasm, median of ${runs} runs each, kcore (controller and agent as separate processes) against a cold \`node\` running the module with node:wasi`,
      "",
      "| measure | kcore ms | plain node ms | ratio (kcore/plain) |",
      "|---|---|---|---|",
      `| apply → first output line | ${fmt(med(kFirst))} | ${fmt(med(pFirst))} | ${fmt(med(kFirst) / med(pFirst))} |`,
      `| apply → exit (phase Succeeded on the watch) | ${fmt(med(kExit))} | ${fmt(med(pExit))} | ${fmt(med(kExit) / med(pExit))} |`,
    ].join("\n");
  } finally {
    await c.stop();
  }
}
