import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "../src/api/grpc-client.js";
import { resolveContext } from "../src/kctl/config.js";
import { clientCredentials, type TlsMaterial } from "../src/api/tls.js";
import { KcoreError, RateLimitedError } from "../src/domain/errors.js";
import { NodeService } from "../src/gen/kcore/v1/node_pb.js";
import { VmService } from "../src/gen/kcore/v1/vm_pb.js";
import { TestCluster } from "./helpers/cluster.js";
import { vm } from "./helpers/manifests.js";

describe("limits: per-identity rate, request size, open streams", () => {
  let c: TestCluster;
  let viewer: TlsMaterial;

  before(async () => {
    c = await TestCluster.start([], {
      controllerArgs: ["--rate-limit", "5", "--rate-burst", "10", "--max-streams", "2"],
    });
    const file = join(c.dir, "viewer.yaml");
    await c.ok("create", "user", "rita", "--role", "viewer", "--out", file);
    viewer = resolveContext("rita", file).tls;
  });
  after(async () => {
    await c.stop();
  });
  const target = (): string => `127.0.0.1:${c.controllerPort}`;

  test("an identity over its rate gets RESOURCE_EXHAUSTED with a retry hint while others are served", async () => {
    const flood = createClient(NodeService, target(), clientCredentials(viewer, "controller"));
    const admin = createClient(
      NodeService,
      target(),
      clientCredentials(c.adminTls(), "controller"),
    );
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => flood.listNodes({})));
    const served = results.filter((r) => r.status === "fulfilled").length;
    const limited = results.flatMap((r) =>
      r.status === "rejected" && r.reason instanceof RateLimitedError ? [r.reason] : [],
    );
    assert.ok(served >= 10 && served < 30, `${served} of 30 served`);
    assert.equal(served + limited.length, 30, "every refusal is a rate-limit refusal");
    const first = limited[0];
    assert.ok(first);
    assert.equal(first.code, "ResourceExhausted");
    assert.match(
      first.message,
      /kcore-viewer-rita may make 5 calls\/s \(burst 10\); retry after \d+ ms/,
    );
    assert.ok(
      first.retryAfterMs > 0 && first.retryAfterMs <= 200,
      `retry after ${first.retryAfterMs} ms`,
    );
    // Another identity is not held back by the flood.
    for (let i = 0; i < 5; i++) await admin.listNodes({});
    // Waiting as told is enough.
    await new Promise((r) => setTimeout(r, first.retryAfterMs + 50));
    await flood.listNodes({});
    flood.close();
    admin.close();
  });

  test("a request over its method's size limit is refused; the same client's next call is served", async () => {
    const vms = createClient(VmService, target(), clientCredentials(c.adminTls(), "controller"));
    const huge = "x".repeat(5 * 1024 * 1024);
    await assert.rejects(
      vms.applyVm({ vm: { metadata: { name: "big", labels: { note: huge } } } }),
      (e: unknown) =>
        e instanceof KcoreError &&
        e.code === "ResourceExhausted" &&
        /request of \d+ bytes is larger than the 4194304-byte limit of \/kcore\.v1\.VmService\/ApplyVm/.test(
          e.message,
        ),
    );
    await assert.rejects(
      vms.getVm({ name: "y".repeat(2 * 1024 * 1024) }),
      (e: unknown) =>
        e instanceof KcoreError &&
        /larger than the 1048576-byte limit of \/kcore\.v1\.VmService\/GetVm/.test(e.message),
    );
    assert.equal(
      (await vms.getVm({ name: "big" }).catch((e: unknown) => e)) instanceof KcoreError,
      true,
    );
    vms.close();
  });

  test("an identity may hold only so many streams open; closing one frees its slot", async () => {
    // One VM, so that every watch begins with an event.
    const applied = await c.kctlInput(
      vm("watched", { cpus: 1, memory: "64Mi", boot: { kernel: "/boot/vmlinuz", cmdline: "x" } }),
      "apply",
      "-f",
      "-",
    );
    assert.equal(applied.code, 0, applied.stderr);
    const vms = createClient(VmService, target(), clientCredentials(viewer, "controller"));
    await new Promise((r) => setTimeout(r, 2500)); // the rate bucket refills from the flood above
    const open = async (ac: AbortController): Promise<IteratorResult<unknown>> => {
      const it = vms.watchVms({}, { signal: ac.signal })[Symbol.asyncIterator]();
      return it.next();
    };
    const a = new AbortController();
    const b = new AbortController();
    await Promise.all([open(a), open(b)]); // each gets its initial event
    await assert.rejects(
      open(new AbortController()),
      (e: unknown) =>
        e instanceof KcoreError &&
        e.code === "ResourceExhausted" &&
        /kcore-viewer-rita has 2 streams open, the most one identity may/.test(e.message),
    );
    a.abort();
    await new Promise((r) => setTimeout(r, 300));
    const c2 = new AbortController();
    await open(c2);
    b.abort();
    c2.abort();
    vms.close();
  });
});
