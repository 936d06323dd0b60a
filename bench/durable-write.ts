/**
 * Durable API write: kcore's ApplyWasmWorkload over mTLS gRPC (committed to SQLite with
 * synchronous=FULL before the answer) against an etcd 3.4 put on the same machine, in one run.
 * Both are driven by the same gRPC client library with the same concurrency.
 */
import { rmSync } from "node:fs";
import { credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { applyClients, uploadHello } from "./apply-load.js";
import { TestCluster } from "../test/helpers/cluster.js";
import { etcdTls, fmt, measure, startEtcd, type EtcdTls, type LatencySummary } from "./lib.js";

function etcdPut(address: string, clients: number, tls: EtcdTls): (i: number) => Promise<void> {
  const Ctor = makeGenericClientConstructor(
    {
      put: {
        path: "/etcdserverpb.KV/Put",
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    "KV",
  );
  const pool = Array.from(
    { length: clients },
    () =>
      new Ctor(
        address,
        credentials.createSsl(
          Buffer.from(tls.caPem),
          Buffer.from(tls.client.keyPem),
          Buffer.from(tls.client.certPem),
        ),
      ) as unknown as {
        put(req: Buffer, cb: (e: ServiceError | null) => void): void;
      },
  );
  const value = Buffer.alloc(300, 120); // about the size of a stored workload
  return (i) => {
    const key = Buffer.from(`/bench/w-${i}`);
    const req = Buffer.concat([
      Buffer.from([0x0a, key.length]),
      key,
      Buffer.from([0x12, 0xac, 0x02]),
      value,
    ]);
    const c = pool[i % pool.length];
    if (!c) throw new Error("no client");
    return new Promise((resolve, reject) => {
      c.put(req, (e) => {
        if (e) reject(e);
        else resolve();
      });
    });
  };
}

export async function durableWrite(total: number): Promise<string> {
  const c = await TestCluster.start([]);
  let etcd: Awaited<ReturnType<typeof startEtcd>> | undefined;
  try {
    const etls = await etcdTls();
    etcd = await startEtcd(etls);
    const tls = c.adminTls();
    const target = `127.0.0.1:${c.controllerPort}`;
    const sha256 = await uploadHello(target, tls);
    const rows: string[] = [];
    for (const concurrency of [1, 32]) {
      const load = applyClients(target, tls, concurrency, sha256);
      const kcore: LatencySummary = await measure(total, concurrency, load.apply);
      load.close();
      const e = await measure(total, concurrency, etcdPut(etcd.address, concurrency, etls));
      rows.push(
        `| ${concurrency} | ${fmt(kcore.p50Ms)} | ${fmt(kcore.p99Ms)} | ${fmt(kcore.opsPerSec, 0)} | ${fmt(e.p50Ms)} | ${fmt(e.p99Ms)} | ${fmt(e.opsPerSec, 0)} | ${fmt(kcore.p99Ms / e.p99Ms)} | ${fmt(kcore.opsPerSec / e.opsPerSec)} |`,
      );
    }
    return [
      `Durable write: ${total} applies of a WasmWorkload per row (each a new name), against etcd 3.4 puts of a 300-byte value, both over mutual TLS`,
      "",
      "| clients | kcore p50 ms | kcore p99 ms | kcore ops/s | etcd p50 ms | etcd p99 ms | etcd ops/s | p99 ratio (kcore/etcd) | throughput ratio (kcore/etcd) |",
      "|---|---|---|---|---|---|---|---|---|",
      ...rows,
    ].join("\n");
  } finally {
    await c.stop();
    if (etcd) {
      etcd.proc.kill("SIGKILL");
      rmSync(etcd.dir, { recursive: true, force: true });
    }
  }
}
