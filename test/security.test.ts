import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "../src/api/grpc-client.js";
import { resolveContext } from "../src/kctl/config.js";
import { clientCredentials, type TlsMaterial } from "../src/api/tls.js";
import { AgentService } from "../src/gen/kcore/v1/agent_pb.js";
import { WasmWorkloadService, type RestartPolicy } from "../src/gen/kcore/v1/wasm_workload_pb.js";
import { NodeService } from "../src/gen/kcore/v1/node_pb.js";
import { AccessService } from "../src/gen/kcore/v1/access_pb.js";
import { createCa, issue } from "../src/pki/pki.js";
import { readIntermediate } from "../src/pki/pki-files.js";
import { credentials } from "@grpc/grpc-js";
import { buildCModule, REPO } from "./helpers/fixtures.js";
import { run, TestCluster, type RunResult } from "./helpers/cluster.js";
import { workload } from "./helpers/manifests.js";

interface PyResult {
  code: string;
  details: string;
  responses: string[];
}

describe("identity and authorisation over real mTLS", () => {
  let c: TestCluster;
  let admin: TlsMaterial;
  let node: TlsMaterial;
  let files: { ca: string; cert: string; key: string };

  before(async () => {
    c = await TestCluster.start([{ name: "n1" }]);
    admin = c.adminTls();
    files = {
      ca: join(c.dir, "ca.pem"),
      cert: join(c.dir, "kctl.pem"),
      key: join(c.dir, "kctl.key"),
    };
    writeFileSync(files.ca, admin.caPem);
    writeFileSync(files.cert, admin.certPem);
    writeFileSync(files.key, admin.keyPem, { mode: 0o600 });
    const certs = join(c.agentDir("n1"), "certs");
    node = {
      caPem: admin.caPem,
      certPem: readFileSync(join(certs, "node.crt"), "utf8"),
      keyPem: readFileSync(join(certs, "node.key"), "utf8"),
    };
    await c.kctlInput(
      workload("visible", {
        module: { path: buildCModule("probe") },
        args: ["print", "x"],
        restartPolicy: "Never",
      }),
      "apply",
      "-f",
      "-",
    );
  });
  after(async () => {
    await c.stop();
  });

  const target = (): string => `127.0.0.1:${c.controllerPort}`;
  const py = async (
    cert: string,
    key: string,
    ca: string,
    method: string,
    requestHex = "",
    kind = "unary",
  ): Promise<PyResult> => {
    const r = await run("/usr/bin/python3", [
      join(REPO, "test", "fixtures", "grpc_call.py"),
      target(),
      ca,
      cert,
      key,
      method,
      requestHex,
      kind,
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as PyResult;
  };

  test("a Python gRPC client with the kctl identity is served", async () => {
    const list = await py(
      files.cert,
      files.key,
      files.ca,
      "/kcore.v1.WasmWorkloadService/ListWasmWorkloads",
    );
    assert.equal(list.code, "OK", list.details);
    assert.ok(Buffer.from(list.responses[0] ?? "", "hex").includes(Buffer.from("visible")));
    const health = await py(files.cert, files.key, files.ca, "/grpc.health.v1.Health/Check");
    assert.deepEqual(health, { code: "OK", details: "", responses: ["0801"] }); // status: SERVING
    // Server reflection: list_services (field 7) = "*"
    const refl = await py(
      files.cert,
      files.key,
      files.ca,
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      "3a012a",
      "bidi",
    );
    assert.equal(refl.code, "OK", refl.details);
    const text = Buffer.from(refl.responses[0] ?? "", "hex").toString("latin1");
    for (const s of [
      "kcore.v1.WasmWorkloadService",
      "kcore.v1.NodeService",
      "kcore.v1.AgentService",
      "kcore.v1.ModuleService",
      "kcore.v1.VmService",
      "kcore.v1.AccessService",
    ])
      assert.ok(text.includes(s), s);
  });

  test("a certificate from another CA is refused at the handshake", async () => {
    const otherCa = { ...(await createCa("impostor-ca")), chainPem: "" };
    const impostor = await issue(otherCa, { commonName: "kctl", usage: "client" });
    writeFileSync(join(c.dir, "imp.pem"), impostor.certPem);
    writeFileSync(join(c.dir, "imp.key"), impostor.keyPem);
    const r = await py(
      join(c.dir, "imp.pem"),
      join(c.dir, "imp.key"),
      files.ca,
      "/kcore.v1.WasmWorkloadService/ListWasmWorkloads",
    );
    assert.equal(r.code, "UNAVAILABLE");
    assert.deepEqual(r.responses, []);
  });

  test("no client certificate, an expired or not yet valid one, or one not for clients is refused", async () => {
    const bare = createClient(
      WasmWorkloadService,
      target(),
      credentials.createSsl(Buffer.from(admin.caPem), null, null, {
        checkServerIdentity: () => undefined,
      }),
    );
    await assert.rejects(
      bare.listWasmWorkloads({}, { timeoutMs: 5000 }),
      (e: Error & { code?: string }) =>
        e.code === "Unavailable" ||
        /Unavailable|handshake|certificate|ECONNRESET|closed/i.test(e.message),
    );
    bare.close();
    const ca = readIntermediate(c.controllerDir);
    const expired = await issue(ca, {
      commonName: "kctl",
      usage: "client",
      notBefore: new Date(Date.now() - 2 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const old = createClient(
      WasmWorkloadService,
      target(),
      clientCredentials({ caPem: admin.caPem, ...expired }, "controller"),
    );
    await assert.rejects(old.listWasmWorkloads({}, { timeoutMs: 5000 }));
    old.close();
    // Not valid yet, and a certificate only for servers (no clientAuth): refused at the handshake.
    const early = await issue(ca, {
      commonName: "kctl",
      usage: "client",
      notBefore: new Date(Date.now() + 86_400_000),
      notAfter: new Date(Date.now() + 2 * 86_400_000),
    });
    const serverOnly = await issue(ca, { commonName: "kctl", usage: "server" });
    for (const cert of [early, serverOnly]) {
      const refused = createClient(
        WasmWorkloadService,
        target(),
        clientCredentials({ caPem: admin.caPem, ...cert }, "controller"),
      );
      await assert.rejects(
        refused.applyWasmWorkload(
          { workload: { metadata: { name: "never" } } },
          { timeoutMs: 5000 },
        ),
        (e: Error & { code?: string }) => e.code === "Unavailable",
      );
      refused.close();
    }
    const stillFine = createClient(
      WasmWorkloadService,
      target(),
      clientCredentials(admin, "controller"),
    );
    assert.ok((await stillFine.listWasmWorkloads({})).items.length >= 1);
    assert.equal(
      (await stillFine.listWasmWorkloads({})).items.some((w) => w.metadata?.name === "never"),
      false,
      "nothing stored",
    );
    stillFine.close();
  });

  test("a node certificate cannot call admin methods nor act as another node", async () => {
    const asNode = createClient(
      WasmWorkloadService,
      target(),
      clientCredentials(node, "controller"),
    );
    await assert.rejects(
      asNode.listWasmWorkloads({}),
      (e: Error & { code?: string }) =>
        e.code === "PermissionDenied" &&
        /kcore-node-n1: the node role may not call \/kcore\.v1\.WasmWorkloadService\/ListWasmWorkloads \(allowed: admin, viewer\)/.test(
          e.message,
        ),
    );
    asNode.close();
    const agent = createClient(AgentService, target(), clientCredentials(node, "controller"));
    await agent.heartbeat({ nodeName: "n1" });
    await assert.rejects(
      agent.heartbeat({ nodeName: "n2" }),
      (e: Error & { code?: string }) =>
        e.code === "PermissionDenied" && /may act only as node 'n1', not 'n2'/.test(e.message),
    );
    await assert.rejects(
      agent.registerNode({ nodeName: "n2", realizer: "direct" }),
      (e: Error & { code?: string }) => e.code === "PermissionDenied",
    );
    agent.close();
    const nodes = createClient(NodeService, target(), clientCredentials(admin, "controller"));
    assert.deepEqual(
      (await nodes.listNodes({})).items.map((n) => n.metadata?.name),
      ["n1"],
      "nothing was registered for n2",
    );
    // The admin identity may not call the node-only API either.
    const adminAsAgent = createClient(
      AgentService,
      target(),
      clientCredentials(admin, "controller"),
    );
    await assert.rejects(
      adminAsAgent.heartbeat({ nodeName: "n1" }),
      (e: Error & { code?: string }) => e.code === "PermissionDenied",
    );
    adminAsAgent.close();
    nodes.close();
  });

  test("a viewer identity reads everything and changes nothing; it cannot mint identities", async () => {
    const viewerConfig = join(c.dir, "ann.yaml");
    const made = await c.kctl("create", "user", "ann", "--role", "viewer", "--out", viewerConfig);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(
      statSync(viewerConfig).mode & 0o777,
      0o600,
      "the key is readable by its owner only",
    );
    const asAnn = (...args: string[]): Promise<RunResult> =>
      run(join(REPO, "bin", "kctl"), args, { env: { ...c.env, KCTL_CONFIG: viewerConfig } });
    const got = await asAnn("get", "wasm");
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /visible/);
    assert.equal((await asAnn("get", "nodes")).code, 0);
    assert.equal((await asAnn("describe", "wasm", "visible")).code, 0);

    const sneaky = workload("sneaky", { module: { path: buildCModule("probe") }, args: ["x"] });
    const applied = await run(join(REPO, "bin", "kctl"), ["apply", "-f", "-"], {
      env: { ...c.env, KCTL_CONFIG: viewerConfig },
      input: sneaky,
    });
    assert.notEqual(applied.code, 0);
    assert.match(applied.stderr, /kcore-viewer-ann: the viewer role may not call/);
    const deleted = await asAnn("delete", "wasm", "visible");
    assert.notEqual(deleted.code, 0);
    assert.match(
      deleted.stderr,
      /viewer role may not call \/kcore\.v1\.WasmWorkloadService\/DeleteWasmWorkload/,
    );
    const escalate = await asAnn(
      "create",
      "user",
      "mallory",
      "--role",
      "admin",
      "--out",
      join(c.dir, "m.yaml"),
    );
    assert.notEqual(escalate.code, 0);
    assert.match(
      escalate.stderr,
      /viewer role may not call \/kcore\.v1\.AccessService\/SignUserCertificate/,
    );
    assert.equal(existsSync(join(c.dir, "m.yaml")), false);
    // Nothing the viewer tried is stored.
    assert.match((await c.ok("get", "wasm")).trim(), /visible/);
    assert.equal((await c.kctl("get", "wasm", "sneaky")).code, 1);

    // Over gRPC the refusal is PERMISSION_DENIED.
    const viewer = createClient(
      WasmWorkloadService,
      target(),
      clientCredentials(resolveContext("ann", viewerConfig).tls, "controller"),
    );
    await assert.rejects(
      viewer.deleteWasmWorkload({ name: "visible" }),
      (e: Error & { code?: string }) => e.code === "PermissionDenied",
    );
    assert.ok((await viewer.listWasmWorkloads({})).items.length >= 1);
    viewer.close();
  });

  test("the audit log shows who changed what, refusals included; only admins read it", async () => {
    const entries = JSON.parse(await c.ok("audit", "-o", "json")) as {
      items: {
        identity: string;
        role: string;
        method: string;
        resource: string;
        code: string;
        message: string;
      }[];
    };
    const find = (method: string, identity: string): (typeof entries.items)[number] | undefined =>
      entries.items.find((e) => e.method.endsWith(method) && e.identity === identity);
    const applied = find("/ApplyWasmWorkload", "kctl");
    assert.match(String((applied as { time?: string } | undefined)?.time), /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(
      { ...applied, time: undefined, message: "" },
      {
        time: undefined,
        identity: "kctl",
        role: "admin",
        method: "/kcore.v1.WasmWorkloadService/ApplyWasmWorkload",
        resource: "WasmWorkload/visible",
        code: "OK",
        message: "",
      },
    );
    assert.equal(find("/SignUserCertificate", "kctl")?.code, "OK");
    // kctl apply uploads the module first: that is the call refused.
    const upload = find("/UploadModule", "kcore-viewer-ann");
    assert.deepEqual([upload?.role, upload?.code], ["viewer", "PERMISSION_DENIED"]);
    assert.match(String(upload?.message), /viewer role may not call/);
    const del = find("/DeleteWasmWorkload", "kcore-viewer-ann");
    assert.deepEqual([del?.resource, del?.code], ["WasmWorkload/visible", "PERMISSION_DENIED"]);
    assert.equal(find("/RegisterNode", "kcore-node-n1")?.resource, "Node/n1");
    assert.equal(
      entries.items.some(
        (e) => e.method.endsWith("/Heartbeat") || e.method.endsWith("/ListWasmWorkloads"),
      ),
      false,
      "heartbeats and reads are not audited",
    );
    const table = await c.ok("audit", "--since", "1h");
    assert.match(table, /^TIME\s+IDENTITY\s+METHOD\s+RESOURCE\s+RESULT/);
    assert.match(
      table,
      /kcore-viewer-ann\s+WasmWorkloadService\/DeleteWasmWorkload\s+WasmWorkload\/visible\s+PERMISSION_DENIED/,
    );
    assert.equal(
      (await c.ok("audit", "--since", "2099-01-01T00:00:00Z")).trim().split("\n").length,
      1,
    );
    const asAnn = await run(join(REPO, "bin", "kctl"), ["audit"], {
      env: { ...c.env, KCTL_CONFIG: join(c.dir, "ann.yaml") },
    });
    assert.notEqual(asAnn.code, 0);
    assert.match(asAnn.stderr, /viewer role may not call \/kcore\.v1\.AccessService\/ListAudit/);
  });

  test("a user certificate request is signed only for the role its name says", async () => {
    const { createCsr } = await import("../src/pki/pki.js");
    const access = createClient(AccessService, target(), clientCredentials(admin, "controller"));
    const { csrPem } = await createCsr("kcore-admin-eve");
    await assert.rejects(
      access.signUserCertificate({ csrPem, role: "viewer" }),
      (e: Error & { code?: string }) =>
        e.code === "InvalidArgument" &&
        /must be kcore-viewer-<name> for role viewer/.test(e.message),
    );
    await assert.rejects(
      access.signUserCertificate({ csrPem, role: "root" }),
      (e: Error & { code?: string }) =>
        e.code === "InvalidArgument" && /role: unknown role "root"/.test(e.message),
    );
    const node = await createCsr("kcore-node-n2");
    await assert.rejects(
      access.signUserCertificate({ csrPem: node.csrPem, role: "admin" }),
      (e: Error & { code?: string }) => e.code === "InvalidArgument",
    );
    access.close();
  });

  test("invalid input gets INVALID_ARGUMENT naming the field, and nothing is stored", async () => {
    const client = createClient(
      WasmWorkloadService,
      target(),
      clientCredentials(admin, "controller"),
    );
    await assert.rejects(
      client.applyWasmWorkload({
        workload: {
          metadata: { name: "Bad Name" },
          spec: { module: { source: { case: "uploadedSha256", value: "a".repeat(64) } } },
        },
      }),
      (e: Error & { code?: string }) =>
        e.code === "InvalidArgument" && /^metadata\.name: invalid name "Bad Name"/.test(e.message),
    );
    await assert.rejects(
      client.applyWasmWorkload({
        workload: {
          metadata: { name: "ok" },
          spec: {
            restartPolicy: 99 as unknown as RestartPolicy.ALWAYS,
            module: { source: { case: "uploadedSha256", value: "a".repeat(64) } },
          },
        },
      }),
      (e: Error & { code?: string }) =>
        e.code === "InvalidArgument" &&
        /spec\.restartPolicy: unknown restart policy number 99/.test(e.message),
    );
    await assert.rejects(
      client.applyWasmWorkload({
        workload: {
          metadata: { name: "ok" },
          spec: { module: { source: { case: "uploadedSha256", value: "b".repeat(64) } } },
        },
      }),
      (e: Error & { code?: string }) =>
        e.code === "FailedPrecondition" && /has not been uploaded/.test(e.message),
    );
    assert.deepEqual(
      (await client.listWasmWorkloads({})).items.map((w) => w.metadata?.name),
      ["visible"],
    );
    client.close();
  });
});
