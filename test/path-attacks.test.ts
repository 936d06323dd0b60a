import assert from "node:assert/strict";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "../src/api/grpc-client.js";
import { clientCredentials } from "../src/api/tls.js";
import { ModuleService } from "../src/gen/kcore/v1/module_pb.js";
import { VmService } from "../src/gen/kcore/v1/vm_pb.js";
import { WasmWorkloadService } from "../src/gen/kcore/v1/wasm_workload_pb.js";
import { CERT_FILES, loadTls } from "../src/pki/cert-files.js";
import { exampleModule } from "./helpers/fixtures.js";
import { TestCluster, waitFor } from "./helpers/cluster.js";
import { vm, workload } from "./helpers/manifests.js";

/** Values that must never become a path: traversal, relative, NUL, over-long, and a bare "..". */
const ATTACKS: readonly (readonly [string, string])[] = [
  ["traversal", "/var/lib/../../etc/shadow"],
  ["relative", "etc/shadow"],
  ["NUL", "/tmp/a\0/etc/shadow"],
  ["over-long", `/${"a".repeat(5000)}`],
  ["dot-dot", ".."],
];

/** Names that become file names on the node or in the store. */
const NAME_ATTACKS: readonly (readonly [string, string])[] = [
  ["traversal", "../../etc"],
  ["absolute", "/etc"],
  ["NUL", "a\0b"],
  ["over-long", "a".repeat(300)],
  ["dot-dot", ".."],
];

const SHA = "a".repeat(64);

describe("every field that becomes a path refuses traversal, absolute, NUL, over-long and symlinks out", () => {
  let c: TestCluster;
  let wasm: ReturnType<typeof createClient<typeof WasmWorkloadService>>;
  let vms: ReturnType<typeof createClient<typeof VmService>>;

  before(async () => {
    c = await TestCluster.start([{ name: "n1" }]);
    const target = `127.0.0.1:${c.controllerPort}`;
    wasm = createClient(WasmWorkloadService, target, clientCredentials(c.adminTls(), "controller"));
    vms = createClient(VmService, target, clientCredentials(c.adminTls(), "controller"));
  });
  after(async () => {
    wasm.close();
    vms.close();
    await c.stop();
  });

  const refused = async (field: string, call: Promise<unknown>): Promise<void> => {
    await assert.rejects(call, (e: Error & { code?: string }) => {
      assert.equal(e.code, "InvalidArgument", `${field}: ${e.message}`);
      assert.ok(e.message.includes(field), `${field} not named in: ${e.message.slice(0, 200)}`);
      assert.ok(e.message.length < 1024, "the error does not echo the whole value");
      return true;
    });
  };

  const wasmWith = (
    name: string,
    volume: { name?: string; mountPath?: string; hostPath?: string },
    sha = SHA,
  ) =>
    wasm.applyWasmWorkload({
      workload: {
        metadata: { name },
        spec: {
          module: { source: { case: "uploadedSha256", value: sha } },
          volumes: [
            {
              name: volume.name ?? "data",
              mountPath: volume.mountPath ?? "/data",
              source: { case: "hostPath", value: volume.hostPath ?? "/srv" },
            },
          ],
        },
      },
    });

  const vmWith = (
    name: string,
    boot: { kernel?: string; initrd?: string },
    disk: { name?: string; path?: string },
  ) =>
    vms.applyVm({
      vm: {
        metadata: { name },
        spec: {
          boot: { kernel: boot.kernel ?? "/boot/k", initrd: boot.initrd ?? "/boot/i" },
          disks: [{ name: disk.name ?? "root", path: disk.path ?? "/srv/disk.img" }],
        },
      },
    });

  test("at the API, for every path field: INVALID_ARGUMENT naming the field, nothing stored", async () => {
    for (const [, value] of ATTACKS) {
      await refused("volumes[0].hostPath", wasmWith("w", { hostPath: value }));
      await refused("volumes[0].mountPath", wasmWith("w", { mountPath: value }));
      await refused("spec.boot.kernel", vmWith("v", { kernel: value }, {}));
      await refused("spec.boot.initrd", vmWith("v", { initrd: value }, {}));
      await refused("disks[0].path", vmWith("v", {}, { path: value }));
    }
    for (const [, value] of NAME_ATTACKS) {
      await refused("metadata.name", wasmWith(value, {}));
      await refused("metadata.name", vmWith(value, {}, {}));
      await refused("volumes[0].name", wasmWith("w", { name: value }));
      await refused("disks[0].name", vmWith("v", {}, { name: value }));
      await refused("sha256", wasmWith("w", {}, value));
    }
    assert.equal((await wasm.listWasmWorkloads({})).items.length, 0);
    assert.equal((await vms.listVms({})).items.length, 0);
  });

  test("a module blob name from a node: only a sha256 is looked up", async () => {
    const node = loadTls(c.agentDir("n1"), CERT_FILES.nodeCert, CERT_FILES.nodeKey);
    const modules = createClient(
      ModuleService,
      `127.0.0.1:${c.controllerPort}`,
      clientCredentials(node, "controller"),
    );
    try {
      for (const [, value] of NAME_ATTACKS)
        await refused("sha256", modules.fetchModule({ sha256: value }));
    } finally {
      modules.close();
    }
  });

  test("on the node, symlinks that lead into the agent's own data are refused", async () => {
    const outside = join(c.dir, "innocent");
    mkdirSync(outside, { recursive: true });
    const agentData = c.agentDir("n1");
    // A directory that looks harmless but is a link to the agent's data (keys included).
    symlinkSync(agentData, join(outside, "data-link"));
    symlinkSync(join(agentData, "certs", CERT_FILES.nodeKey), join(outside, "kernel-link"));
    await c.kctlInput(
      workload("sneaky", {
        module: { path: exampleModule("hello") },
        restartPolicy: "Never",
        volumes: [{ name: "v", mountPath: "/v", hostPath: join(outside, "data-link") }],
      }),
      "apply",
      "-f",
      "-",
    );
    const w = await waitFor("the workload refused", async () => {
      const s = (await c.json("get", "wasm", "sneaky")).status;
      return s.phase === "Failed" ? s : undefined;
    });
    assert.match(String(w.message), /overlaps the kcore data directory/);
    await c.kctlInput(
      vm("sneaky-vm", {
        cpus: 1,
        memory: "128Mi",
        boot: { kernel: join(outside, "kernel-link"), initrd: join(outside, "kernel-link") },
      }),
      "apply",
      "-f",
      "-",
    );
    const v = await waitFor("the VM refused", async () => {
      const s = (await c.json("get", "vm", "sneaky-vm")).status;
      return s.state === "Failed" ? s : undefined;
    });
    assert.match(String(v.message), /spec\.boot\.kernel .*overlaps the kcore data directory/);
    assert.deepEqual(c.vmPids(), [], "no hypervisor was started with the node's key as a kernel");
  });
});
