/** Shared helpers of the benchmarks: percentiles, timing, and small servers started for a run. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCa, issue } from "../src/pki/pki.js";
import { freePort, waitFor } from "../test/helpers/cluster.js";

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      resolve(false);
    });
  });
}

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

/** PEM files for etcd's server and a client, from a throwaway CA, so both sides pay for mTLS. */
export interface EtcdTls {
  readonly caPem: string;
  readonly server: { certPem: string; keyPem: string };
  readonly client: { certPem: string; keyPem: string };
}

export async function etcdTls(): Promise<EtcdTls> {
  const ca = { ...(await createCa("bench-etcd-ca")), chainPem: "" };
  return {
    caPem: ca.certPem,
    server: await issue(ca, {
      commonName: "etcd",
      ipAddresses: ["127.0.0.1"],
      dnsNames: ["localhost"],
      usage: "server-and-client",
    }),
    client: await issue(ca, { commonName: "bench", usage: "client" }),
  };
}

/** A one-member etcd on loopback with its data in a temporary directory, requiring client certificates. */
export async function startEtcd(
  tls: EtcdTls,
): Promise<{ address: string; proc: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "kcore-bench-etcd-"));
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const tlsArgs = [
    "--cert-file",
    file("server.crt", tls.server.certPem),
    "--key-file",
    file("server.key", tls.server.keyPem),
    "--trusted-ca-file",
    file("ca.crt", tls.caPem),
    "--client-cert-auth",
  ];
  const [client, peer] = [await freePort(), await freePort()];
  const proc = spawn(
    "etcd",
    [
      "--name",
      "bench",
      "--data-dir",
      join(dir, "data"),
      "--listen-client-urls",
      `https://127.0.0.1:${client}`,
      "--advertise-client-urls",
      `https://127.0.0.1:${client}`,
      ...tlsArgs,
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
  await waitFor(`etcd to serve (${err.slice(-500)})`, () => connects(client), 30_000, 100);
  return { address, proc, dir };
}

/** Resident memory of a process in bytes (NaN when it is gone). */
export function rssOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return Number(m?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}
