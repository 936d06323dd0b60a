import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { auditResource } from "./gate-audit.js";

test("an audited call's resource is its kind from the method and the name its request gives", () => {
  assert.equal(
    auditResource("/kcore.v1.VmService/ApplyVm", { vm: { metadata: { name: "web" } } }),
    "Vm/web",
  );
  assert.equal(auditResource("/kcore.v1.VmService/DeleteVm", { name: "web" }), "Vm/web");
  assert.equal(
    auditResource("/kcore.v1.VmService/SetVmState", { name: "db", desiredState: "Stopped" }),
    "Vm/db",
  );
  assert.equal(auditResource("/kcore.v1.AgentService/RegisterNode", { nodeName: "n1" }), "Node/n1");
  assert.equal(
    auditResource("/kcore.v1.AccessService/SignUserCertificate", { csrPem: "x" }),
    "User",
  );
  assert.equal(auditResource("/kcore.v1.VmService/AttachConsole", undefined), "Console");
  assert.equal(
    auditResource("/kcore.v1.VmService/DeleteVm", { name: "n".repeat(1000) }).length,
    "Vm/".length + 253,
  );
});

test("whatever the request holds, the resource is a bounded string", () => {
  fc.assert(
    fc.property(fc.string(), fc.anything(), (method, request) => {
      const r = auditResource(method, request);
      assert.equal(typeof r, "string");
      assert.ok(r.length <= method.length + 1 + 253);
    }),
  );
});
