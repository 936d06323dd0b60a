import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chSimAgentArgs } from "./helpers/ch-sim.js";
import { attachConsole } from "./helpers/console.js";
import { TestCluster, waitFor } from "./helpers/cluster.js";
import { testGuest } from "./helpers/guest.js";
import { guestVm } from "./helpers/manifests.js";

describe("VMs on a Cloud Hypervisor node (the simulator stands in for the VMM)", () => {
  let c: TestCluster;
  let guest: { kernel: string; initrd: string };

  before(async () => {
    guest = testGuest();
    c = await TestCluster.start([
      {
        name: "ch1",
        args: chSimAgentArgs(),
      },
    ]);
  });
  after(async () => {
    await c.stop();
  });

  const status = async (name: string): Promise<Record<string, unknown>> =>
    (await c.json("get", "vm", name)).status;
  const onePid = async (why: string, not?: number): Promise<number> =>
    waitFor(
      why,
      () => {
        const pids = c.vmPids();
        return pids.length === 1 && pids[0] !== not ? pids[0] : undefined;
      },
      30_000,
    );

  test("boots through the API, relays the serial console to kctl logs and kctl console", async () => {
    const manifest = guestVm("chvm", guest, { memory: "512Mi" }, "console=ttyS0 kcore.test=1");
    const applied = await c.kctlInput(manifest, "apply", "-f", "-");
    assert.equal(applied.code, 0, applied.stderr);
    await c.ok("wait", "vm", "chvm", "--for", "state=Running", "--timeout", "30s");
    const s = await status("chvm");
    assert.equal(s.hypervisor, "cloud-hypervisor");
    assert.equal(s.node, "ch1");
    const logs = await waitFor(
      "the guest's boot lines in kctl logs",
      async () => {
        const out = await c.ok("logs", "vm/chvm");
        return out.includes("Run /init") ? out : undefined;
      },
      15_000,
      300,
    );
    assert.match(logs, /Command line: console=ttyS0 kcore\.test=1/);

    const session = await attachConsole(c, "chvm");
    session.write("root\r");
    await waitFor(
      "the guest's tty to echo the input",
      () => session.output().includes("root"),
      10_000,
    );
    assert.equal(await session.detach(), 0);
    assert.match(await c.ok("logs", "vm/chvm"), /login: root/, "console input is logged too");
  });

  test("a VMM killed with SIGKILL is restarted and counted; a restarted agent adopts the running VMM", async () => {
    const first = await onePid("the VMM");
    process.kill(first, "SIGKILL");
    const second = await onePid("a new VMM", first);
    await c.ok("wait", "vm", "chvm", "--for", "state=Running", "--timeout", "30s");
    assert.equal((await status("chvm")).restartCount, 1);
    assert.match(
      await c.ok("get", "vm", "chvm"),
      /chvm\s+Running\s+Running\s+ch1\s+1\s+512Mi\s+1\s/,
    );

    await c.kill("ch1", "SIGKILL");
    assert.deepEqual(c.vmPids(), [second], "the VM outlives the agent");
    await c.startAgent("ch1");
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(c.vmPids(), [second], "adopted, not restarted");
    const s = await status("chvm");
    assert.equal(s.state, "Running");
    assert.equal(s.restartCount, 1);
  });

  test("Stopped presses the power button and the VMM exits; Running boots a new one; delete removes everything", async () => {
    const before = await onePid("the VMM");
    await c.ok("set", "vm", "chvm", "--state", "Stopped");
    await c.ok("wait", "vm", "chvm", "--for", "state=Stopped", "--timeout", "20s");
    await waitFor("the VMM to exit", () => c.vmPids().length === 0, 10_000);
    assert.match(String((await status("chvm")).message), /stopped as requested/);
    await c.ok("set", "vm", "chvm", "--state", "Running");
    await c.ok("wait", "vm", "chvm", "--for", "state=Running", "--timeout", "30s");
    await onePid("a new VMM", before);

    const uid = ((await c.json("get", "vm", "chvm")).metadata as { uid: string }).uid;
    await c.ok("delete", "vm", "chvm");
    const dir = c.agentDir("ch1");
    await waitFor(
      "the VMM, its sockets and its files to go",
      () =>
        c.vmPids().length === 0 &&
        !existsSync(join(dir, "vms", uid)) &&
        readdirSync(join(dir, "run")).filter((f) => f.startsWith("chvm")).length === 0 &&
        !readdirSync(join(dir, "logs")).some((f) => f.includes(uid)),
      20_000,
    );
  });
});
