import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseCpu } from "../src/domain/quantity.js";
import { attachConsole } from "./helpers/console.js";
import { TestCluster, waitFor } from "./helpers/cluster.js";
import { GUEST_MARKER, testGuest } from "./helpers/guest.js";
import { vm as vmManifest } from "./helpers/manifests.js";

describe("VMs: a real guest under QEMU (software emulation)", () => {
  let c: TestCluster;
  let guest: { kernel: string; initrd: string };

  before(async () => {
    guest = testGuest();
    c = await TestCluster.start([{ name: "n1" }]);
  });
  after(async () => {
    await c.stop();
  });

  const status = async (name: string): Promise<Record<string, unknown>> =>
    (await c.json("get", "vm", name)).status;
  const tinySpec = (): Record<string, unknown> => ({
    cpus: 1,
    memory: "256Mi",
    boot: { kernel: guest.kernel, initrd: guest.initrd, cmdline: "console=ttyS0 quiet" },
  });

  test("boots to Running, its console line reaches kctl logs, and it survives kill -9 of the agent", async () => {
    const applied = await c.kctlInput(vmManifest("tiny", tinySpec()), "apply", "-f", "-");
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /vm\/tiny created/);
    await c.ok("wait", "vm", "tiny", "--for", "state=Running", "--timeout", "60s");
    const s = await status("tiny");
    assert.equal(s.node, "n1");
    assert.equal(s.hypervisor, "qemu");
    const logs = await waitFor(
      "the guest's console line",
      async () => {
        const out = await c.ok("logs", "vm/tiny");
        return out.includes(GUEST_MARKER) ? out : undefined;
      },
      90_000,
      500,
    );
    assert.match(logs, new RegExp(`${GUEST_MARKER} \\d+\\.\\d+`));
    const [pid] = c.vmPids();
    assert.ok(pid !== undefined, "a qemu process runs the VM");

    await c.kill("n1", "SIGKILL");
    assert.deepEqual(c.vmPids(), [pid], "the guest outlives the agent");
    await c.startAgent("n1");
    // Adopted, not restarted: the same process, still Running.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(c.vmPids(), [pid]);
    assert.equal((await status("tiny")).state, "Running");
  });

  test("kctl console attaches to the serial console; Ctrl-] detaches and the VM keeps running", async () => {
    const session = await attachConsole(c, "tiny");
    session.write("hello-console\n");
    await waitFor(
      "the guest's echo",
      () => session.output().includes("echo: hello-console"),
      30_000,
    );
    assert.equal(await session.detach(), 0);
    assert.equal((await status("tiny")).state, "Running");
  });

  test("Stopped stops the hypervisor process, Running starts it again, delete removes everything", async () => {
    const [before] = c.vmPids();
    assert.ok(before !== undefined);
    await c.ok("set", "vm", "tiny", "--state", "Stopped");
    await c.ok("wait", "vm", "tiny", "--for", "state=Stopped", "--timeout", "30s");
    await waitFor("qemu to end", () => c.vmPids().length === 0, 10_000);
    await c.ok("set", "vm", "tiny", "--state", "Running");
    await c.ok("wait", "vm", "tiny", "--for", "state=Running", "--timeout", "60s");
    const [again] = c.vmPids();
    assert.ok(again !== undefined && again !== before);

    const uid = ((await c.json("get", "vm", "tiny")).metadata as { uid: string }).uid;
    await c.ok("delete", "vm", "tiny");
    const dir = c.agentDir("n1");
    await waitFor(
      "the VM's process and files to go",
      () =>
        c.vmPids().length === 0 &&
        !existsSync(join(dir, "vms", uid)) &&
        !existsSync(join(dir, "disks", `tiny_${uid}`)) &&
        !readdirSync(join(dir, "logs")).some((f) => f.includes(uid)),
      30_000,
    );
    const nf = await c.kctl("get", "vm", "tiny");
    assert.notEqual(nf.code, 0);
    assert.match(nf.stderr, /not found/i);
  });

  test("bad specs are refused naming the field, and nothing is stored", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...tinySpec(), cpus: 0 }, /spec\.cpus/],
      [
        {
          ...tinySpec(),
          disks: [{ name: "root", url: "http://example.test/a.img", sha256: "a".repeat(64) }],
        },
        /spec\.disks\[0\].*https/,
      ],
      [
        {
          ...tinySpec(),
          disks: [{ name: "root", url: "https://example.test/a.img", sha256: "XYZ" }],
        },
        /spec\.disks\[0\]\.sha256/,
      ],
      [
        { ...tinySpec(), disks: [{ name: "root", path: "/var/../../etc/shadow" }] },
        /spec\.disks\[0\]\.path/,
      ],
      [{ ...tinySpec(), boot: { kernel: "relative/vmlinuz" } }, /spec\.boot\.kernel/],
      [{ ...tinySpec(), desiredState: "Paused" }, /spec\.desiredState/],
      [{ ...tinySpec(), sshKeys: ["missing"] }, /spec\.sshKeys\[0\].*missing/],
      [{ ...tinySpec(), network: "lan" }, /spec\.network: Network resources are not supported/],
    ];
    for (const [spec, field] of cases) {
      const r = await c.kctlInput(vmManifest("bad", spec), "apply", "-f", "-");
      assert.notEqual(r.code, 0, `accepted ${JSON.stringify(spec)}`);
      assert.match(r.stderr, field);
    }
    assert.notEqual((await c.kctl("get", "vm", "bad")).code, 0);
  });

  test("placement accounts for the cpus and memory of every placed VM", async () => {
    const nodes = await c.json("get", "node", "n1");
    // The whole node: one such VM fits, a second does not.
    const cpus = Math.floor(
      parseCpu("cpu", (nodes.status.allocatable as { cpu: string }).cpu) / 1000,
    );
    assert.ok(cpus >= 1);
    const stopped = (name: string): string =>
      vmManifest(name, { ...tinySpec(), cpus, desiredState: "Stopped" });
    await c.kctlInput(stopped("big1"), "apply", "-f", "-");
    await c.kctlInput(stopped("big2"), "apply", "-f", "-");
    assert.equal((await status("big1")).node, "n1");
    const s2 = await status("big2");
    assert.equal(s2.node ?? "", "");
    assert.match(String(s2.message), /not enough cpu/);
    await c.ok("delete", "vm", "big1", "big2");
  });
});
