import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "../src/api/grpc-client.js";
import { clientCredentials } from "../src/api/tls.js";
import { AgentService } from "../src/gen/kcore/v1/agent_pb.js";
import { Health } from "../src/gen/grpc/health/v1/health_pb.js";
import { CERT_FILES, loadTls } from "../src/pki/cert-files.js";
import { readIntermediate, writePair } from "../src/pki/pki-files.js";
import { certInfo, issue } from "../src/pki/pki.js";
import { run, TestCluster, waitFor } from "./helpers/cluster.js";
import { forever } from "./helpers/manifests.js";
import {
  certRegistry,
  fileMode,
  openWatch,
  recoveredAdmin,
  servedSerial,
  viewer,
} from "./helpers/pki.js";

describe("cluster PKI: revocation, renewal, rotation, recovery", () => {
  let c: TestCluster;

  before(async () => {
    // Node certificates live 40 s here and the agent renews with 30 s left, so renewal
    // happens every ten seconds or so while the suite runs.
    c = await TestCluster.start([{ name: "n1", args: ["--renew-before", "30s"] }], {
      controllerArgs: ["--node-cert-ttl", "40s"],
    });
    await c.kctlInput(forever("steady"), "apply", "-f", "-");
    await waitFor("steady running", async () => {
      const s = (await c.json("get", "wasm", "steady")).status;
      return s.phase === "Running";
    });
  });
  after(async () => {
    await c.stop();
  });

  const nodeStatus = async (name: string): Promise<Record<string, unknown>> =>
    (await c.json("get", "node", name)).status;
  const heartbeating = (): Promise<boolean> =>
    waitFor("n1 heartbeating", async () => {
      const s = await nodeStatus("n1");
      return Date.now() - Date.parse(String(s.lastHeartbeat)) < 3000;
    });
  const renewedBy = (intermediate: string): Promise<boolean> =>
    waitFor(
      "n1 renewed by the new intermediate",
      async () =>
        (await certRegistry(c)).some(
          (x) => x.commonName === "kcore-node-n1" && x.issuerSerial === intermediate,
        ),
      60_000,
      500,
    );
  const intermediateSerial = (): string =>
    certInfo(readIntermediate(c.controllerDir).certPem).serial;

  test("revocation cuts an open watch stream and refuses new handshakes, across restarts", async () => {
    const watcher = await viewer(c, "watcher");
    const watch = await openWatch(c, watcher, "watcher", "steady");
    const serial = (await certRegistry(c)).find(
      (x) => x.commonName === "kcore-viewer-watcher",
    )?.serial;
    assert.ok(serial !== undefined);
    assert.match(await c.ok("certificate", "revoke", serial), /revoked/);
    const code = await watch.ended(20_000);
    assert.notEqual(code, "open", "the watch stream stayed open after its certificate was revoked");
    assert.notEqual(code, 0, watch.stderr());
    assert.notEqual((await watcher.kctl("get", "nodes")).code, 0);
    await c.kill("controller", "SIGTERM");
    await c.startController();
    const afterRestart = await watcher.kctl("get", "nodes");
    assert.notEqual(afterRestart.code, 0, "revocation must survive a controller restart");
    assert.match(await c.ok("get", "nodes"), /n1/);
  });

  test("renewal: the node's certificate is replaced before it expires; the workload keeps running", async () => {
    const file = join(c.agentDir("n1"), "certs", CERT_FILES.nodeCert);
    const first = certInfo(readFileSync(file, "utf8"));
    const before = (await c.json("get", "wasm", "steady")).status;
    const second = await waitFor(
      "a renewed certificate",
      () => {
        const now = certInfo(readFileSync(file, "utf8"));
        return now.serial !== first.serial ? now : undefined;
      },
      60_000,
    );
    assert.ok(second.notAfter > first.notAfter);
    // The new key was made on the node: the key file changed with the certificate, and matches it.
    const tls = loadTls(c.agentDir("n1"), CERT_FILES.nodeCert, CERT_FILES.nodeKey);
    const check = await run("openssl", ["x509", "-noout", "-pubkey"], { input: tls.certPem });
    const fromKey = await run("openssl", ["pkey", "-pubout"], { input: tls.keyPem });
    assert.equal(check.stdout, fromKey.stdout);
    // The agent serves and calls with the new certificate: it stays Ready past the old one's expiry.
    await waitFor(
      "the first certificate to expire",
      () => Date.now() > first.notAfter.getTime() + 2000,
      60_000,
      500,
    );
    await heartbeating();
    const afterRenewal = (await c.json("get", "wasm", "steady")).status;
    assert.equal(afterRenewal.phase, "Running");
    assert.equal(afterRenewal.restartCount ?? 0, before.restartCount ?? 0);
    assert.equal(afterRenewal.startedAt, before.startedAt);
  });

  test("rotation: a new controller certificate and intermediate are served without a restart", async () => {
    const admin = c.adminTls();
    const pid = c.daemonPid("controller");
    const before = await servedSerial(c.controllerPort, admin);
    const out = await c.ok("rotate", "controller");
    const next = /new certificate ([0-9a-f]+)/.exec(out)?.[1];
    assert.ok(next !== undefined && next !== before, out);
    assert.equal(await servedSerial(c.controllerPort, admin), next);
    assert.equal(c.daemonPid("controller"), pid);

    const oldIntermediate = intermediateSerial();
    await c.ok("rotate", "intermediate");
    const newIntermediate = intermediateSerial();
    assert.notEqual(newIntermediate, oldIntermediate);
    // New identities come from the new intermediate; certificates of the old one still work.
    const later = await viewer(c, "later");
    const row = (await certRegistry(c)).find((x) => x.commonName === "kcore-viewer-later");
    assert.equal(row?.issuerSerial, newIntermediate);
    const r = await later.kctl("get", "nodes");
    assert.equal(r.code, 0, r.stderr);
    assert.match(await c.ok("get", "nodes"), /n1/);
    // The node renews from the new intermediate and stays connected.
    await renewedBy(newIntermediate);
    await heartbeating();

    // SIGHUP: a certificate replaced by hand is served after the signal.
    const certs = join(c.controllerDir, "certs");
    const pair = await issue(readIntermediate(c.controllerDir), {
      commonName: certInfo(readFileSync(join(certs, CERT_FILES.controllerCert), "utf8")).commonName,
      ipAddresses: ["127.0.0.1"],
      usage: "server-and-client",
    });
    writePair(certs, CERT_FILES.controllerCert, CERT_FILES.controllerKey, pair);
    assert.notEqual(await servedSerial(c.controllerPort, admin), pair.serial);
    process.kill(pid ?? 0, "SIGHUP");
    await waitFor(
      "the new certificate served",
      async () => (await servedSerial(c.controllerPort, admin)) === pair.serial,
    );
  });

  test("agents refuse a revoked controller certificate too, and keep serving the current one", async () => {
    const old = loadTls(c.controllerDir, CERT_FILES.controllerCert, CERT_FILES.controllerKey);
    const address = String((await nodeStatus("n1")).address);
    const health = (): Promise<unknown> => {
      const h = createClient(Health, address, clientCredentials(old, { node: "n1" }));
      return h.check({}, { timeoutMs: 5000 }).finally(() => {
        h.close();
      });
    };
    await health(); // the agent serves the controller's current certificate
    await c.ok("rotate", "controller");
    await c.ok("certificate", "revoke", certInfo(old.certPem).serial);
    // The agent learns of it with its next heartbeat and refuses the old certificate.
    await waitFor(
      "the agent to refuse the revoked certificate",
      async () => {
        try {
          await health();
          return false;
        } catch (e) {
          return (e as { code?: string }).code === "Unavailable";
        }
      },
      30_000,
      500,
    );
    const logs = await c.kctl("logs", "steady", "--tail", "1");
    assert.equal(logs.code, 0, logs.stderr);
  });

  test("a client that expects one node refuses an agent presenting another's certificate", async () => {
    // The controller reaches n1 (logs) because n1 presents kcore-node-n1; the same check,
    // expecting n2 at n1's address, refuses the connection.
    const logs = await c.kctl("logs", "steady", "--tail", "1");
    assert.equal(logs.code, 0, logs.stderr);
    const n1tls = loadTls(c.agentDir("n1"), CERT_FILES.nodeCert, CERT_FILES.nodeKey);
    const wrong = createClient(
      AgentService,
      String((await nodeStatus("n1")).address),
      clientCredentials(n1tls, { node: "n2" }),
    );
    await assert.rejects(
      wrong.heartbeat({ nodeName: "n1" }, { timeoutMs: 5000 }),
      (e: Error & { code?: string }) =>
        e.code === "Unavailable" && /is not node 'n2'/.test(e.message),
    );
    wrong.close();
  });

  test("recovery: a new admin identity from the CA on the controller's machine, revocable like any", async () => {
    const rescue = await recoveredAdmin(c, "rescue");
    assert.equal(fileMode(rescue.file), 0o600);
    const made = await rescue.kctl(
      "create",
      "user",
      "helper",
      "--role",
      "viewer",
      "--out",
      join(c.dir, "helper-config"),
    );
    assert.equal(made.code, 0, made.stderr);
    await c.ok("certificate", "revoke", rescue.serial);
    assert.notEqual((await rescue.kctl("get", "nodes")).code, 0);
  });

  test("revoking an old intermediate cuts what it signed, once the cluster has moved to a new one", async () => {
    // A viewer from the current intermediate, watching.
    const early = await viewer(c, "early");
    const watch = await openWatch(c, early, "early", "steady");
    const old = intermediateSerial();
    // Move everything that matters to a new intermediate: the controller's certificate, an
    // admin identity, and the node (by renewal).
    await c.ok("rotate", "intermediate");
    const fresh = intermediateSerial();
    await c.ok("rotate", "controller");
    const admin = await recoveredAdmin(c, "fresh");
    await renewedBy(fresh);
    const revoked = await admin.kctl("certificate", "revoke", old);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.notEqual(
      await watch.ended(20_000),
      "open",
      "a connection from a certificate of the revoked intermediate stayed open",
    );
    assert.notEqual((await early.kctl("get", "nodes")).code, 0);
    // What moved keeps working: the fresh admin, the controller reaching n1, n1 heartbeating.
    const logs = await admin.kctl("logs", "steady", "--tail", "1");
    assert.equal(logs.code, 0, logs.stderr);
    await waitFor("n1 heartbeating", async () => {
      const r = await admin.kctl("get", "node", "n1", "-o", "json");
      const s = (JSON.parse(r.stdout) as { status: { lastHeartbeat: string } }).status;
      return Date.now() - Date.parse(s.lastHeartbeat) < 3000;
    });
  });
});
