import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { AUDITED, authorize, AUTHZ_TABLE } from "../domain/authz.js";
import { identityFromCommonName, type Identity } from "../domain/identity.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { AgentService, NodeAgentService } from "../gen/kcore/v1/agent_pb.js";
import { AccessService, JoinService } from "../gen/kcore/v1/access_pb.js";
import { ModuleService } from "../gen/kcore/v1/module_pb.js";
import { NodeService } from "../gen/kcore/v1/node_pb.js";
import { VmService } from "../gen/kcore/v1/vm_pb.js";
import { WasmWorkloadService } from "../gen/kcore/v1/wasm_workload_pb.js";
import { methodPath } from "./grpc-service.js";

const SERVICES = [
  WasmWorkloadService,
  VmService,
  NodeService,
  AgentService,
  ModuleService,
  NodeAgentService,
  AccessService,
  JoinService,
  Health,
];

test("every method of every served service has an authorisation entry", () => {
  const missing = SERVICES.flatMap((s) => s.methods.map((m) => methodPath(s, m.name))).filter(
    (p) => !Object.hasOwn(AUTHZ_TABLE, p),
  );
  assert.deepEqual(missing, []);
});

test("the table names no method that does not exist", () => {
  const all = new Set(SERVICES.flatMap((s) => s.methods.map((m) => methodPath(s, m.name))));
  const extra = Object.keys(AUTHZ_TABLE).filter(
    (p) => !all.has(p) && !p.includes("ServerReflection"),
  );
  assert.deepEqual(extra, []);
});

const identities: Identity[] = [
  { kind: "admin", user: "kctl" },
  { kind: "viewer", user: "ann" },
  { kind: "controller", host: "h" },
  { kind: "node", nodeName: "n1" },
  { kind: "unknown", commonName: "x" },
  { kind: "anonymous" },
];

test("a method missing from the table is refused for everyone", () => {
  fc.assert(
    fc.property(fc.string(), fc.constantFrom(...identities), (method, id) => {
      fc.pre(!Object.hasOwn(AUTHZ_TABLE, method));
      assert.equal(authorize(method, id).kind, "deny");
    }),
  );
});

test("unknown identities are refused everywhere; nodes only get node methods, as themselves", () => {
  for (const method of Object.keys(AUTHZ_TABLE)) {
    assert.equal(authorize(method, { kind: "unknown", commonName: "someone" }).kind, "deny");
    const d = authorize(method, { kind: "node", nodeName: "n1" });
    if (AUTHZ_TABLE[method]?.includes("node") === true)
      assert.deepEqual(d, { kind: "allow-as-node", nodeName: "n1" });
    else assert.equal(d.kind, "deny", method);
  }
  assert.equal(
    authorize("/kcore.v1.WasmWorkloadService/ApplyWasmWorkload", { kind: "node", nodeName: "n1" })
      .kind,
    "deny",
  );
  assert.equal(
    authorize("/kcore.v1.NodeAgentService/ReadLogs", { kind: "admin", user: "kctl" }).kind,
    "deny",
  );
});

/** Methods that only read: the viewer role may call these and nothing else. */
const READS =
  /\/(Get\w+|List\w+|Watch\w*|WorkloadLogs|VmConsoleLog|RenderNix|Check|ServerReflectionInfo)$/;

/** Reads that stay with admins: who did what is not for every reader. */
const ADMIN_READS = new Set([
  "/kcore.v1.AccessService/ListAudit",
  "/kcore.v1.AccessService/ListCertificates",
]);

test("a caller without a certificate may call the join service and nothing else", () => {
  for (const method of Object.keys(AUTHZ_TABLE))
    assert.equal(
      authorize(method, { kind: "anonymous" }).kind,
      method.startsWith("/kcore.v1.JoinService/") ? "allow" : "deny",
      method,
    );
});

test("a viewer may call exactly the reading methods an admin may call; an admin every operator method", () => {
  for (const [method, roles] of Object.entries(AUTHZ_TABLE)) {
    const viewer = authorize(method, { kind: "viewer", user: "ann" }).kind;
    const admin = authorize(method, { kind: "admin", user: "kctl" }).kind;
    const operatorMethod = roles.includes("admin") || roles.includes("viewer");
    assert.equal(admin, operatorMethod ? "allow" : "deny", method);
    const viewable = READS.test(method) && !ADMIN_READS.has(method);
    assert.equal(viewer, operatorMethod && viewable ? "allow" : "deny", method);
  }
  // The reading methods are all there is to reading: nothing that mutates slipped in.
  for (const m of ["ApplyVm", "DeleteVm", "SetVmState", "AttachConsole", "UploadModule"])
    assert.equal(
      authorize(`/kcore.v1.VmService/${m}`, { kind: "viewer", user: "ann" }).kind,
      "deny",
    );
  assert.equal(
    authorize("/kcore.v1.AccessService/SignUserCertificate", { kind: "viewer", user: "ann" }).kind,
    "deny",
    "a viewer cannot mint identities",
  );
});

test("certificate common names map to identities only in the documented patterns", () => {
  assert.deepEqual(identityFromCommonName("kctl"), { kind: "admin", user: "kctl" });
  assert.deepEqual(identityFromCommonName("kcore-admin-bob"), { kind: "admin", user: "bob" });
  assert.deepEqual(identityFromCommonName("kcore-viewer-ann"), { kind: "viewer", user: "ann" });
  assert.deepEqual(identityFromCommonName("kcore-node-web-1"), { kind: "node", nodeName: "web-1" });
  assert.deepEqual(identityFromCommonName("kcore-controller-host.example"), {
    kind: "controller",
    host: "host.example",
  });
  for (const cn of [
    "kcore-node-",
    "kcore-node-Bad",
    "kcore-node-../x",
    "KCTL",
    "kctl ",
    "kcore-controller-",
    "kcore-viewer-",
    "kcore-viewer-Ann",
    "kcore-admin-a/b",
    "kcore-admin-",
  ]) {
    assert.equal(identityFromCommonName(cn).kind, "unknown", cn);
  }
  fc.assert(
    fc.property(fc.string(), (cn) => {
      const id = identityFromCommonName(cn);
      if (id.kind === "node") assert.equal(cn, `kcore-node-${id.nodeName}`);
      if (id.kind === "viewer") assert.equal(cn, `kcore-viewer-${id.user}`);
    }),
  );
});

test("every operator method that is not a read is audited, and only methods in the table are", () => {
  for (const [method, roles] of Object.entries(AUTHZ_TABLE)) {
    const operator = roles.includes("admin");
    if (operator && !READS.test(method))
      assert.ok(AUDITED.has(method), `${method} changes something and is not audited`);
  }
  for (const m of AUDITED) assert.ok(Object.hasOwn(AUTHZ_TABLE, m), m);
  assert.ok(AUDITED.has("/kcore.v1.AgentService/RegisterNode"), "a node joining is audited");
});
