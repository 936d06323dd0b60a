/** Shared helpers of the benchmarks: percentiles, timing, and small servers started for a run. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../test/helpers/cluster.js";

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

export interface LatencySummary {
  readonly n: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly opsPerSec: number;
}

/** Runs `op` `total` times with `concurrency` in flight; latencies per op, throughput overall. */
export async function measure(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<void>,
): Promise<LatencySummary> {
  const lat: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const t = performance.now();
        await op(i);
        lat.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  lat.sort((a, b) => a - b);
  return {
    n: total,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    opsPerSec: total / seconds,
  };
}

export const fmt = (n: number, digits = 2): string =>
  Number.isFinite(n) ? n.toFixed(digits) : "n/a";

/** A one-member etcd on loopback with its data in a temporary directory. */
export async function startEtcd(): Promise<{ address: string; proc: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "kcore-bench-etcd-"));
  const [client, peer] = [await freePort(), await freePort()];
  const proc = spawn(
    "etcd",
    [
      "--name",
      "bench",
      "--data-dir",
      join(dir, "data"),
      "--listen-client-urls",
      `http://127.0.0.1:${client}`,
      "--advertise-client-urls",
      `http://127.0.0.1:${client}`,
      "--listen-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-cluster",
      `bench=http://127.0.0.1:${peer}`,
      "--log-level",
      "error",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  proc.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const address = `127.0.0.1:${client}`;
  await waitFor(
    `etcd to serve (${err.slice(-500)})`,
    async () => {
      const r = await fetch(`http://${address}/health`).catch(() => undefined);
      return r?.ok === true;
    },
    30_000,
    100,
  );
  return { address, proc, dir };
}
