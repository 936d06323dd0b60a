import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "../src/api/grpc-client.js";
import { clientCredentials, type TlsMaterial } from "../src/api/tls.js";
import { AgentService } from "../src/gen/kcore/v1/agent_pb.js";
import { NodeService } from "../src/gen/kcore/v1/node_pb.js";
import { Health } from "../src/gen/grpc/health/v1/health_pb.js";
import { resolveContext } from "../src/kctl/config.js";
import { CERT_FILES, loadTls } from "../src/pki/cert-files.js";
import { readIntermediate, writePair } from "../src/pki/pki-files.js";
import { certInfo, issue, normalSerial } from "../src/pki/pki.js";
import { exampleModule, REPO } from "./helpers/fixtures.js";
import { run, TestCluster, waitFor } from "./helpers/cluster.js";
import { workload } from "./helpers/manifests.js";

/** The serial of the certificate a server presents now (a fresh handshake). */
function servedSerial(port: number, tls: TlsMaterial): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: "127.0.0.1",
      port,
      ca: tls.caPem,
      cert: tls.certPem,
      key: tls.keyPem,
      ALPNProtocols: ["h2"],
      checkServerIdentity: () => undefined,
    });
    s.once("secureConnect", () => {
      resolve(normalSerial(s.getPeerCertificate().serialNumber));
      s.destroy();
    });
    s.once("error", reject);
  });
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

describe("cluster PKI: join with a token, approval, revocation, renewal, rotation", () => {
  let c: TestCluster;

  before(async () => {
    // Node certificates live 40 s here and agents renew them with 30 s left, so renewal
    // happens every ten seconds or so while the suite runs.
    c = await TestCluster.start([], {
      controllerArgs: ["--require-approval", "--node-cert-ttl", "40s"],
    });
  });
  after(async () => {
    await c.stop();
  });

  const token = async (ttl = "10m"): Promise<string> =>
    (await c.ok("node", "token", "create", "--ttl", ttl)).trim();
  const nodeStatus = async (name: string): Promise<Record<string, unknown>> =>
    (await c.json("get", "node", name)).status;
  type CertRow = { serial: string; commonName: string; revokedAt: string; issuerSerial: string };
  const certs = async (): Promise<CertRow[]> =>
    (JSON.parse(await c.ok("certificate", "list", "-o", "json")) as { items: CertRow[] }).items;
  const joinFails = async (name: string, tok: string): Promise<string> => {
    const dir = join(c.dir, `refused-${name}`);
    const r = await run(
      join(REPO, "bin", "kcore"),
      ["agent", ...c.joinArgs(tok), "--node-name", name, "--data-dir", dir],
      { timeoutMs: 30_000 },
    );
    assert.notEqual(r.code, 0, "the join should have been refused");
    assert.equal(existsSync(join(dir, "certs", CERT_FILES.nodeCert)), false);
    return r.stderr;
  };

  test("root, intermediate (path length 0) and leaves; private keys 0600 in 0700 directories", async () => {
    const dir = join(c.controllerDir, "certs");
    const verify = await run("openssl", [
      "verify",
      "-CAfile",
      join(dir, "ca.crt"),
      "-untrusted",
      join(dir, "intermediate.crt"),
      join(dir, "controller.crt"),
    ]);
    assert.equal(verify.code, 0, verify.stderr);
    const text = await run("openssl", [
      "x509",
      "-in",
      join(dir, "intermediate.crt"),
      "-noout",
      "-text",
    ]);
    assert.match(text.stdout, /CA:TRUE, pathlen:0/);
    assert.equal(mode(dir), 0o700);
    for (const key of ["ca.key", "intermediate.key", "controller.key"])
      assert.equal(mode(join(dir, key)), 0o600, key);
  });

  test("a node joins with a one-time token, waits as Pending, and runs work once approved", async () => {
    const tok = await token();
    assert.match(tok, /^K10[0-9a-f]{64}::[a-z0-9]{6}\.[a-z0-9]{32}$/);
    await c.joinAgent({ name: "n1", args: ["--renew-before", "30s"] }, tok);
    const certsDir = join(c.agentDir("n1"), "certs");
    assert.equal(mode(certsDir), 0o700);
    assert.equal(mode(join(certsDir, CERT_FILES.nodeKey)), 0o600);
    // The key was made on the node: the controller's registry has the certificate, not the key.
    const mine = certInfo(readFileSync(join(certsDir, CERT_FILES.nodeCert), "utf8"));
    assert.equal(mine.commonName, "kcore-node-n1");
    assert.ok((await certs()).some((x) => x.serial === mine.serial));
    assert.equal((await nodeStatus("n1")).approval, "Pending");

    await c.kctlInput(
      workload("steady", { module: { path: exampleModule("ticker") }, args: ["0"] }),
      "apply",
      "-f",
      "-",
    );
    const pending = await waitFor("unschedulable", async () => {
      const s = (await c.json("get", "wasm", "steady")).status;
      return s.reason === "Unschedulable" ? s : undefined;
    });
    assert.equal(pending.node ?? "", "");
    assert.match(await c.ok("node", "approve", "n1"), /approved/);
    await waitFor("running on n1", async () => {
      const s = (await c.json("get", "wasm", "steady")).status;
      return s.phase === "Running" && s.node === "n1";
    });
    assert.equal((await nodeStatus("n1")).approval, "Approved");
    const audit = await c.ok("audit", "-o", "json");
    for (const m of ["CreateJoinToken", "JoinService/Join", "ApproveNode"])
      assert.match(audit, new RegExp(m));
  });

  test("a used, an expired, and a foreign token are refused and nothing is written", async () => {
    const used = await token();
    await c.joinAgent({ name: "n2" }, used);
    assert.match(await joinFails("n3", used), /already used \(by node 'n2'/);
    const short = await token("1s");
    await new Promise((r) => setTimeout(r, 1500));
    assert.match(await joinFails("n4", short), /expired at/);
    const foreign = (await token()).replace(/^K10[0-9a-f]{64}/, `K10${"0".repeat(64)}`);
    assert.match(await joinFails("n5", foreign), /wrong address, or someone in between/);
    assert.match(await joinFails("n6", "K10abc::x.y"), /--token/);
  });

  test("reject: the node's certificates are revoked and it cannot reach the controller", async () => {
    assert.equal((await nodeStatus("n2")).approval, "Pending");
    await c.ok("node", "reject", "n2");
    assert.equal((await nodeStatus("n2")).approval, "Rejected");
    const n2 = (await certs()).filter((x) => x.commonName === "kcore-node-n2");
    assert.ok(n2.length > 0 && n2.every((x) => x.revokedAt !== ""), JSON.stringify(n2));
    const tls = loadTls(c.agentDir("n2"), CERT_FILES.nodeCert, CERT_FILES.nodeKey);
    const agent = createClient(
      AgentService,
      `127.0.0.1:${c.controllerPort}`,
      clientCredentials(tls, "controller"),
    );
    // Refused at the handshake: the controller's CRL names the certificate.
    await assert.rejects(
      agent.heartbeat({ nodeName: "n2" }, { timeoutMs: 5000 }),
      (e: Error & { code?: string }) => e.code === "Unavailable",
    );
    agent.close();
  });

  test("revocation cuts an open watch stream and refuses new handshakes, across restarts", async () => {
    const file = join(c.dir, "watcher-config");
    await c.ok("create", "user", "watcher", "--role", "viewer", "--out", file);
    const env = { ...process.env, ...c.env, KCTL_CONFIG: file };
    const watch = spawn(
      join(REPO, "bin", "kctl"),
      ["--context", "watcher", "get", "wasm", "--watch"],
      {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    watch.stdout.on("data", (d: Buffer) => (out += d.toString()));
    watch.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number>((r) =>
      watch.once("exit", (code) => {
        r(code ?? -1);
      }),
    );
    await waitFor("the watch to list", () => out.includes("steady"));
    const serial = (await certs()).find((x) => x.commonName === "kcore-viewer-watcher")?.serial;
    assert.ok(serial !== undefined);
    assert.match(await c.ok("certificate", "revoke", serial), /revoked/);
    const code = await Promise.race([
      exited,
      new Promise<number>((r) =>
        setTimeout(() => {
          r(-99);
        }, 20_000),
      ),
    ]);
    if (code === -99) watch.kill("SIGKILL");
    assert.notEqual(code, -99, "the watch stream stayed open after its certificate was revoked");
    assert.notEqual(code, 0, err);
    const again = await run(join(REPO, "bin", "kctl"), ["--context", "watcher", "get", "nodes"], {
      env,
    });
    assert.notEqual(again.code, 0);
    await c.kill("controller", "SIGTERM");
    await c.startController();
    const afterRestart = await run(
      join(REPO, "bin", "kctl"),
      ["--context", "watcher", "get", "nodes"],
      { env },
    );
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
    const node = await nodeStatus("n1");
    assert.ok(Date.now() - Date.parse(String(node.lastHeartbeat)) < 10_000, JSON.stringify(node));
    const afterRenewal = (await c.json("get", "wasm", "steady")).status;
    assert.equal(afterRenewal.phase, "Running");
    assert.equal(afterRenewal.restartCount ?? 0, before.restartCount ?? 0);
    assert.equal(afterRenewal.startedAt, before.startedAt);
  });

  test("rotation: a new controller certificate and intermediate are served without a restart", async () => {
    const admin = resolveContext("test", c.config).tls;
    const pid = c.daemonPid("controller");
    const before = await servedSerial(c.controllerPort, admin);
    const out = await c.ok("rotate", "controller");
    const next = /new certificate ([0-9a-f]+)/.exec(out)?.[1];
    assert.ok(next !== undefined && next !== before, out);
    assert.equal(await servedSerial(c.controllerPort, admin), next);
    assert.equal(c.daemonPid("controller"), pid);

    const oldIntermediate = certInfo(readIntermediate(c.controllerDir).certPem).serial;
    await c.ok("rotate", "intermediate");
    const newIntermediate = certInfo(readIntermediate(c.controllerDir).certPem).serial;
    assert.notEqual(newIntermediate, oldIntermediate);
    // New identities come from the new intermediate; certificates of the old one still work.
    const file = join(c.dir, "after-rotate-config");
    await c.ok("create", "user", "later", "--role", "viewer", "--out", file);
    const later = (await certs()).find((x) => x.commonName === "kcore-viewer-later");
    assert.equal(later?.issuerSerial, newIntermediate);
    const r = await run(join(REPO, "bin", "kctl"), ["--context", "later", "get", "nodes"], {
      env: { ...c.env, KCTL_CONFIG: file },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(await c.ok("get", "nodes"), /n1/);
    // The node renews from the new intermediate and stays connected.
    await waitFor(
      "n1 renewed by the new intermediate",
      async () =>
        (await certs()).some(
          (x) => x.commonName === "kcore-node-n1" && x.issuerSerial === newIntermediate,
        ),
      60_000,
      500,
    );
    await waitFor("n1 heartbeating", async () => {
      const s = await nodeStatus("n1");
      return Date.now() - Date.parse(String(s.lastHeartbeat)) < 3000;
    });

    // SIGHUP: a certificate replaced by hand is served after the signal.
    const pair = await issue(readIntermediate(c.controllerDir), {
      commonName: certInfo(readFileSync(join(c.controllerDir, "certs", "controller.crt"), "utf8"))
        .commonName,
      ipAddresses: ["127.0.0.1"],
      usage: "server-and-client",
    });
    writePair(
      join(c.controllerDir, "certs"),
      CERT_FILES.controllerCert,
      CERT_FILES.controllerKey,
      pair,
    );
    assert.notEqual(await servedSerial(c.controllerPort, admin), pair.serial);
    process.kill(pid ?? 0, "SIGHUP");
    await waitFor(
      "the new certificate served",
      async () => (await servedSerial(c.controllerPort, admin)) === pair.serial,
    );
  });

  test("agents refuse a revoked controller certificate too, and keep serving the current one", async () => {
    const certsDir = join(c.controllerDir, "certs");
    const old = loadTls(c.controllerDir, CERT_FILES.controllerCert, CERT_FILES.controllerKey);
    const oldSerial = certInfo(old.certPem).serial;
    const node = await c.json("get", "node", "n1");
    const address = String(node.status.address);
    const health = (): Promise<unknown> => {
      const h = createClient(Health, address, clientCredentials(old, { node: "n1" }));
      return h.check({}, { timeoutMs: 5000 }).finally(() => {
        h.close();
      });
    };
    await health(); // the agent serves the controller's current certificate
    await c.ok("rotate", "controller");
    await c.ok("certificate", "revoke", oldSerial);
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
    assert.ok(readFileSync(join(certsDir, CERT_FILES.controllerCert), "utf8") !== old.certPem);
    const logs = await c.kctl("logs", "steady", "--tail", "1");
    assert.equal(logs.code, 0, logs.stderr);
  });

  test("the controller reaches an agent only if it presents that node's certificate", async () => {
    // n1's agent serves with its own certificate; the controller's client insists on n1's name.
    const logs = await c.kctl("logs", "steady", "--tail", "1");
    assert.equal(logs.code, 0, logs.stderr);
    const viewer = createClient(
      NodeService,
      `127.0.0.1:${c.controllerPort}`,
      clientCredentials(c.adminTls(), "controller"),
    );
    const n = await viewer.getNode({ name: "n1" });
    viewer.close();
    // The same check from a client: expecting node n2 at n1's address is refused.
    const n1tls = loadTls(c.agentDir("n1"), CERT_FILES.nodeCert, CERT_FILES.nodeKey);
    const wrong = createClient(
      AgentService,
      n.status?.address ?? "",
      clientCredentials({ ...n1tls }, { node: "n2" }),
    );
    await assert.rejects(
      wrong.heartbeat({ nodeName: "n1" }, { timeoutMs: 5000 }),
      (e: Error & { code?: string }) =>
        e.code === "Unavailable" && /is not node 'n2'/.test(e.message),
    );
    wrong.close();
  });

  test("recovery: a new admin identity from the CA on the controller's machine, revocable like any", async () => {
    const file = join(c.dir, "recovered-config");
    const r = await run(join(REPO, "bin", "kcore"), [
      "admin-credentials",
      "--name",
      "rescue",
      "--controller",
      `127.0.0.1:${c.controllerPort}`,
      "--out",
      file,
      "--data-dir",
      c.controllerDir,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mode(file), 0o600);
    const serial = /certificate ([0-9a-f]+)/.exec(r.stdout)?.[1];
    assert.ok(serial !== undefined, r.stdout);
    const env = { ...c.env, KCTL_CONFIG: file };
    const kctl = join(REPO, "bin", "kctl");
    const made = await run(
      kctl,
      ["create", "user", "helper", "--role", "viewer", "--out", join(c.dir, "helper-config")],
      { env },
    );
    assert.equal(made.code, 0, made.stderr);
    await c.ok("certificate", "revoke", serial);
    const refused = await run(kctl, ["get", "nodes"], { env });
    assert.notEqual(refused.code, 0);
  });

  test("revoking an old intermediate cuts what it signed, once the cluster has moved to a new one", async () => {
    const kctl = join(REPO, "bin", "kctl");
    // A viewer from the current intermediate, watching.
    const earlyFile = join(c.dir, "early-config");
    await c.ok("create", "user", "early", "--role", "viewer", "--out", earlyFile);
    const earlyEnv = { ...process.env, ...c.env, KCTL_CONFIG: earlyFile };
    const watch = spawn(kctl, ["--context", "early", "get", "wasm", "--watch"], {
      env: earlyEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    watch.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((r) =>
      watch.once("exit", (code) => {
        r(code ?? -1);
      }),
    );
    await waitFor("the watch to list", () => out.includes("steady"));
    const old = certInfo(readIntermediate(c.controllerDir).certPem).serial;
    // Move everything that matters to a new intermediate: the controller's certificate, an
    // admin identity, and the nodes (by renewal).
    await c.ok("rotate", "intermediate");
    const fresh = certInfo(readIntermediate(c.controllerDir).certPem).serial;
    await c.ok("rotate", "controller");
    const adminFile = join(c.dir, "fresh-admin-config");
    const made = await run(join(REPO, "bin", "kcore"), [
      "admin-credentials",
      "--name",
      "fresh",
      "--controller",
      `127.0.0.1:${c.controllerPort}`,
      "--out",
      adminFile,
      "--data-dir",
      c.controllerDir,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const admin = (...args: string[]) =>
      run(kctl, args, { env: { ...c.env, KCTL_CONFIG: adminFile } });
    await waitFor(
      "n1 renewed by the new intermediate",
      async () =>
        (await certs()).some((x) => x.commonName === "kcore-node-n1" && x.issuerSerial === fresh),
      60_000,
      500,
    );
    const revoked = await admin("certificate", "revoke", old);
    assert.equal(revoked.code, 0, revoked.stderr);
    const code = await Promise.race([
      exited,
      new Promise<number>((r) =>
        setTimeout(() => {
          r(-99);
        }, 20_000),
      ),
    ]);
    if (code === -99) watch.kill("SIGKILL");
    assert.notEqual(
      code,
      -99,
      "a connection from a certificate of the revoked intermediate stayed open",
    );
    const again = await run(kctl, ["--context", "early", "get", "nodes"], { env: earlyEnv });
    assert.notEqual(again.code, 0);
    // What moved keeps working: the fresh admin, the controller reaching n1, n1 heartbeating.
    const logs = await admin("logs", "steady", "--tail", "1");
    assert.equal(logs.code, 0, logs.stderr);
    await waitFor("n1 heartbeating", async () => {
      const r = await admin("get", "node", "n1", "-o", "json");
      const s = (JSON.parse(r.stdout) as { status: { lastHeartbeat: string } }).status;
      return Date.now() - Date.parse(s.lastHeartbeat) < 3000;
    });
  });
});
