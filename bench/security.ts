/**
 * The cost of security. Handshakes: new mutually authenticated TLS connections per second to
 * the controller's API (CRL checks, HTTP/2 session) against a plain TLS echo server in its own
 * process with the same CA, key types and client certificate, in the same run. Admission and
 * audit: the share of a mutating call's time inside the server spent in the gate (identity,
 * revocation, authorisation table, limits) and in writing its audit record.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, createSecureContext, type SecureContext } from "node:tls";
import { pino } from "pino";
import type { Histogram } from "prom-client";
import type { TlsMaterial } from "../src/api/tls.js";
import { Controller } from "../src/controller/controller.js";
import { CERT_FILES, certsDir, readPem } from "../src/pki/cert-files.js";
import { ensureCa, ensureControllerCert, issueAdmin } from "../src/pki/pki-files.js";
import { applyClients, uploadHello } from "./apply-load.js";
import { fmt, measure } from "./lib.js";
import { TestCluster } from "../test/helpers/cluster.js";

/** A TLS server that requires a client certificate of `caPem` and echoes, in its own process. */
const ECHO_SERVER = `
const tls = require("node:tls");
const s = tls.createServer({ ca: process.env.CA, cert: process.env.CERT, key: process.env.KEY,
  requestCert: true, rejectUnauthorized: true }, (c) => { c.on("error", () => {}); c.pipe(c); });
s.listen(0, "127.0.0.1", () => process.stdout.write(String(s.address().port) + "\\n"));
`;

/** Opens a connection and waits for the server's first bytes: proof it accepted the certificate. */
function handshake(port: number, ctx: SecureContext, alpn: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: "127.0.0.1",
      port,
      // One client context for every connection: the client's cost of loading its PEM files
      // would otherwise dominate and hide the servers' difference.
      secureContext: ctx,
      ...(alpn === undefined ? {} : { ALPNProtocols: [alpn] }),
      checkServerIdentity: () => undefined,
    });
    s.once("secureConnect", () => {
      // HTTP/2 servers speak first (SETTINGS); the echo server answers a byte.
      if (alpn === undefined) s.write("x");
    });
    s.once("data", () => {
      s.destroy();
      resolve();
    });
    s.once("error", reject);
  });
}

async function withController<T>(
  fn: (c: Controller, admin: TlsMaterial, dir: string) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "kcore-bench-sec-"));
  const { root, issuer } = await ensureCa(dir);
  await ensureControllerCert(dir, issuer);
  const adminPair = await issueAdmin(issuer);
  const admin = { caPem: root.certPem, ...adminPair };
  const c = new Controller({
    dataDir: dir,
    listen: "127.0.0.1:0",
    logger: pino({ level: "warn" }),
  });
  await c.start();
  try {
    return await fn(c, admin, dir);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function handshakes(total: number): Promise<string> {
  // The controller in its own process, as the echo server: neither shares the client's CPU time.
  const c = await TestCluster.start([]);
  const admin = c.adminTls();
  const certs = certsDir(c.controllerDir);
  const echo = spawn(process.execPath, ["-e", ECHO_SERVER], {
    env: {
      ...process.env,
      CA: admin.caPem,
      CERT: readPem(certs, CERT_FILES.controllerCert),
      KEY: readPem(certs, CERT_FILES.controllerKey),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const echoPort = await new Promise<number>((resolve) => {
      echo.stdout.once("data", (d: Buffer) => {
        resolve(Number(d.toString().trim()));
      });
    });
    const ctx = createSecureContext({ ca: admin.caPem, cert: admin.certPem, key: admin.keyPem });
    const rows: string[] = [];
    for (const concurrency of [1, 8]) {
      const ours = await measure(total, concurrency, () => handshake(c.controllerPort, ctx, "h2"));
      const plain = await measure(total, concurrency, () => handshake(echoPort, ctx, undefined));
      rows.push(
        `| ${concurrency} | ${fmt(ours.opsPerSec, 0)} | ${fmt(ours.p50Ms)} | ${fmt(plain.opsPerSec, 0)} | ${fmt(plain.p50Ms)} | ${fmt(ours.opsPerSec / plain.opsPerSec)} |`,
      );
    }
    return [
      `New mutual-TLS connections: ${total} per row, each until the server's first bytes (kcore: its HTTP/2 SETTINGS; echo: the echoed byte), ECDSA P-256 client certificate with the intermediate in its chain; each server in its own process`,
      "",
      "| parallel | kcore API conn/s | kcore p50 ms | plain TLS echo conn/s | echo p50 ms | ratio (kcore/echo) |",
      "|---|---|---|---|---|---|",
      ...rows,
    ].join("\n");
  } finally {
    echo.kill("SIGKILL");
    await c.stop();
  }
}

async function histogramSum(c: Controller, name: string, method?: string): Promise<number> {
  const h = c.metrics.getSingleMetric(name) as Histogram | undefined;
  if (!h) throw new Error(`no metric ${name}`);
  const { values } = await h.get();
  return values
    .filter(
      (v) => v.metricName === `${name}_sum` && (method === undefined || v.labels.method === method),
    )
    .reduce((a, v) => a + v.value, 0);
}

export async function admissionShare(total: number): Promise<string> {
  return withController(async (c, admin) => {
    const target = `127.0.0.1:${c.port}`;
    const sha256 = await uploadHello(target, admin);
    const method = "/kcore.v1.WasmWorkloadService/ApplyWasmWorkload";
    const rows: string[] = [];
    for (const concurrency of [1, 32]) {
      const before = {
        call: await histogramSum(c, "kcore_api_request_duration_seconds", method),
        gate: await histogramSum(c, "kcore_api_admission_seconds", method),
        audit: await histogramSum(c, "kcore_audit_write_seconds"),
      };
      const load = applyClients(target, admin, concurrency, sha256);
      await measure(total, concurrency, load.apply);
      load.close();
      const call =
        (await histogramSum(c, "kcore_api_request_duration_seconds", method)) - before.call;
      const gate = (await histogramSum(c, "kcore_api_admission_seconds", method)) - before.gate;
      const audit = (await histogramSum(c, "kcore_audit_write_seconds")) - before.audit;
      rows.push(
        `| ${concurrency} | ${fmt((call / total) * 1000, 3)} | ${fmt((gate / total) * 1e6, 1)} | ${fmt((audit / total) * 1e6, 1)} | ${fmt(((gate + audit) / call) * 100, 2)} % |`,
      );
    }
    return [
      `Admission and audit: ${total} applies per row (each a new WasmWorkload), times measured inside the controller`,
      "",
      "| clients | call ms (in server) | gate µs/call | audit record µs/call | share of the call |",
      "|---|---|---|---|---|",
      ...rows,
    ].join("\n");
  });
}
