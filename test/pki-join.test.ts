import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "../src/api/grpc-client.js";
import { clientCredentials } from "../src/api/tls.js";
import { AgentService } from "../src/gen/kcore/v1/agent_pb.js";
import { CERT_FILES, loadTls } from "../src/pki/cert-files.js";
import { certInfo } from "../src/pki/pki.js";
import { REPO } from "./helpers/fixtures.js";
import { run, TestCluster, waitFor } from "./helpers/cluster.js";
import { forever } from "./helpers/manifests.js";
import { certRegistry, fileMode } from "./helpers/pki.js";

describe("cluster PKI: the chain, joining with a token, approval", () => {
  let c: TestCluster;

  before(async () => {
    c = await TestCluster.start([], { controllerArgs: ["--require-approval"] });
  });
  after(async () => {
    await c.stop();
  });

  const token = async (ttl = "10m"): Promise<string> =>
    (await c.ok("node", "token", "create", "--ttl", ttl)).trim();
  const nodeStatus = async (name: string): Promise<Record<string, unknown>> =>
    (await c.json("get", "node", name)).status;
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
    assert.equal(fileMode(dir), 0o700);
    for (const key of ["ca.key", "intermediate.key", "controller.key"])
      assert.equal(fileMode(join(dir, key)), 0o600, key);
  });

  test("a node joins with a one-time token, waits as Pending, and runs work once approved", async () => {
    const tok = await token();
    assert.match(tok, /^K10[0-9a-f]{64}::[a-z0-9]{6}\.[a-z0-9]{32}$/);
    await c.joinAgent({ name: "n1" }, tok);
    const certsDir = join(c.agentDir("n1"), "certs");
    assert.equal(fileMode(certsDir), 0o700);
    assert.equal(fileMode(join(certsDir, CERT_FILES.nodeKey)), 0o600);
    // The key was made on the node: the controller's registry has the certificate, not the key.
    const mine = certInfo(readFileSync(join(certsDir, CERT_FILES.nodeCert), "utf8"));
    assert.equal(mine.commonName, "kcore-node-n1");
    assert.ok((await certRegistry(c)).some((x) => x.serial === mine.serial));
    assert.equal((await nodeStatus("n1")).approval, "Pending");

    await c.kctlInput(forever("steady"), "apply", "-f", "-");
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
    const n2 = (await certRegistry(c)).filter((x) => x.commonName === "kcore-node-n2");
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
});
