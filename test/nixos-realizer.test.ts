import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { REPO } from "./helpers/fixtures.js";
import { TestCluster, waitFor } from "./helpers/cluster.js";
import { testGuest } from "./helpers/guest.js";
import { guestVm } from "./helpers/manifests.js";

const FAKE_REBUILD = join(REPO, "dist", "test", "fake-nixos-rebuild", "main.js");

interface Call {
  phase: "test" | "switch";
  event: "start" | "done" | "failed" | "concurrent";
  pid: number;
  sha256?: string;
  units?: string[];
}

describe("the nixos realizer (nixos-rebuild played by a stand-in that evaluates with real Nix)", () => {
  let c: TestCluster;
  let guest: { kernel: string; initrd: string };
  let configFile: string;
  let fake: string;

  before(async () => {
    guest = testGuest();
    c = await TestCluster.start([]);
    configFile = join(c.dir, "etc-nixos", "kcore-vms.nix");
    fake = join(c.dir, "fake-nixos");
    await c.addAgent({
      name: "nx1",
      args: [
        // Fifteen one-cpu VMs on a two-core machine: their guests are simulated.
        "--cpu-allocation-ratio",
        "10",
        "--realizer",
        "nixos",
        "--hypervisor",
        "cloud-hypervisor",
        "--nixos-config",
        configFile,
        "--nixos-rebuild",
        `${process.execPath} ${FAKE_REBUILD} --file ${configFile} --state ${fake}`,
      ],
    });
  });
  after(async () => {
    await c.stop();
  });

  const calls = (): Call[] =>
    existsSync(join(fake, "calls.jsonl"))
      ? readFileSync(join(fake, "calls.jsonl"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Call)
      : [];
  const vmManifest = (name: string, extra: Record<string, unknown> = {}): string =>
    guestVm(name, guest, extra, `console=ttyS0 vm=${name}`);
  const apply = async (...manifests: string[]): Promise<void> => {
    const r = await c.kctlInput(manifests.join("\n---\n"), "apply", "-f", "-");
    assert.equal(r.code, 0, r.stderr);
  };
  const node = async (): Promise<Record<string, unknown>> =>
    parse(await c.ok("describe", "node", "nx1")) as Record<string, unknown>;
  const lastRebuild = async (): Promise<Record<string, unknown> | undefined> =>
    ((await node()).status as Record<string, unknown>).lastRebuild as
      Record<string, unknown> | undefined;
  const vmStatus = async (name: string): Promise<Record<string, unknown>> =>
    (await c.json("get", "vm", name)).status;
  const sha = (text: string): string => createHash("sha256").update(text).digest("hex");
  /** Waits until the node reports the module now on disk as switched to. */
  const switched = (): Promise<Record<string, unknown>> =>
    waitFor(
      "the node to report the current module as applied",
      async () => {
        const lr = await lastRebuild();
        const current = sha(readFileSync(configFile, "utf8"));
        return lr?.state === "Succeeded" && lr.configSha256 === current ? lr : undefined;
      },
      30_000,
    );

  test("a VM is rendered, applied with test then switch, and runs under its unit; the node shows the outcome", async () => {
    await apply(vmManifest("alpha"));
    await c.ok("wait", "vm", "alpha", "--for", "state=Running", "--timeout", "60s");
    const text = readFileSync(configFile, "utf8");
    assert.match(text, /services\.kcore\.vms = \{\n {4}alpha = \{/);
    assert.equal(await c.ok("render", "nix", "--node", "nx1"), text, "kctl render nix prints it");
    const done = calls().filter((x) => x.event === "done");
    assert.deepEqual(
      done.map((x) => x.phase),
      ["test", "switch"],
    );
    assert.deepEqual(done[1]?.units, ["kcore-vm-alpha"]);
    assert.equal(readFileSync(join(fake, "boot-default.nix"), "utf8"), text);
    const r = await waitFor(
      "the node to show the applied rebuild",
      async () => {
        const lr = await lastRebuild();
        return lr?.state === "Succeeded" ? lr : undefined;
      },
      15_000,
    );
    assert.equal(r.generation, 1);
    assert.equal(r.configSha256, sha(text));
    assert.match(String(r.outputTail), /activating the configuration/);
    assert.equal(((await node()).status as Record<string, unknown>).realizer, "nixos");
    // The VM is observed through its API socket, and its console reaches kctl logs.
    assert.equal((await vmStatus("alpha")).hypervisor, "cloud-hypervisor");
    await waitFor(
      "the guest's boot lines in kctl logs",
      async () => (await c.ok("logs", "vm/alpha")).includes("Command line: console=ttyS0 vm=alpha"),
      15_000,
      300,
    );
  });

  test("a failing `test` is never followed by `switch`; the last good module is kept and the failure is shown on the node and the VM", async () => {
    const good = readFileSync(configFile, "utf8");
    const before = calls().length;
    writeFileSync(
      join(fake, "fail-test"),
      "error: builder for '/nix/store/0000-kcore-vm-beta.service.drv' failed with exit code 1\n",
    );
    await apply(vmManifest("beta"));
    const r = await waitFor(
      "the failed rebuild on the node",
      async () => {
        const lr = await lastRebuild();
        return lr?.state === "Failed" ? lr : undefined;
      },
      30_000,
    );
    assert.equal(r.phase, "test");
    assert.match(String(r.message), /nixos-rebuild test exited with code 1/);
    assert.match(String(r.message), /last good configuration \(generation 1\) was kept/);
    assert.match(String(r.outputTail), /builder for .*kcore-vm-beta.* failed/);
    const s = await waitFor(
      "the failure on the VM",
      async () => {
        const st = await vmStatus("beta");
        return st.state === "Failed" ? st : undefined;
      },
      15_000,
    );
    assert.match(String(s.message), /nixos-rebuild test exited with code 1/);
    assert.equal(readFileSync(configFile, "utf8"), good, "the last good module is back");
    const newCalls = calls().slice(before);
    assert.ok(newCalls.some((x) => x.phase === "test"));
    assert.ok(!newCalls.some((x) => x.phase === "switch"), "no switch after a failed test");
    assert.equal((await vmStatus("alpha")).state, "Running", "the other VM is untouched");

    // Once the host is fixed, the next change is applied together with the one that failed.
    rmSync(join(fake, "fail-test"));
    await apply(vmManifest("gamma"));
    for (const name of ["beta", "gamma"])
      await c.ok("wait", "vm", name, "--for", "state=Running", "--timeout", "60s");
    const lr = await lastRebuild();
    assert.deepEqual([lr?.state, lr?.generation], ["Succeeded", 2]);
  });

  test("a burst of ten changes is applied by a few serialised rebuilds", async () => {
    const before = calls().length;
    const names = Array.from({ length: 10 }, (_, i) => `burst-${i}`);
    // Each step takes a second, as a real rebuild takes its time; the ten applies run at once.
    writeFileSync(join(fake, "delay-ms"), "1000");
    await Promise.all(names.map((n) => apply(vmManifest(n))));
    for (const n of names)
      await c.ok("wait", "vm", n, "--for", "state=Running", "--timeout", "90s");
    const mine = calls().slice(before);
    assert.ok(!mine.some((x) => x.event === "concurrent"), "never two rebuilds at once");
    rmSync(join(fake, "delay-ms"));
    const tests = mine.filter((x) => x.phase === "test" && x.event === "start").length;
    assert.ok(tests >= 1 && tests <= 3, `ten changes took ${tests} rebuilds`);
    const last = mine.filter((x) => x.phase === "switch" && x.event === "done").at(-1);
    for (const n of names) assert.ok(last?.units?.includes(`kcore-vm-${n}`), n);
  });

  test("an agent killed during a rebuild waits for it when restarted and applies again", async () => {
    writeFileSync(join(fake, "block"), "");
    const before = calls().length;
    await apply(vmManifest("delta"));
    await waitFor(
      "a rebuild to start",
      () =>
        calls()
          .slice(before)
          .some((x) => x.event === "start"),
      30_000,
    );
    await c.kill("nx1", "SIGKILL");
    await c.startAgent("nx1");
    // The restarted agent must not start a second rebuild while the first still runs.
    await new Promise((r) => setTimeout(r, 1500));
    rmSync(join(fake, "block"));
    await c.ok("wait", "vm", "delta", "--for", "state=Running", "--timeout", "60s");
    await switched();
    const mine = calls().slice(before);
    assert.ok(!mine.some((x) => x.event === "concurrent"), "never two rebuilds at once");
    const switches = mine.filter((x) => x.phase === "switch" && x.event === "done");
    assert.ok(switches.at(-1)?.units?.includes("kcore-vm-delta"));
  });

  test("a stopped VM loses its unit; a deleted VM is removed by the next rebuild", async () => {
    await c.ok("set", "vm", "alpha", "--state", "Stopped");
    await c.ok("wait", "vm", "alpha", "--for", "state=Stopped", "--timeout", "60s");
    await switched();
    assert.doesNotMatch(
      JSON.stringify(
        calls()
          .filter((x) => x.event === "done")
          .at(-1)?.units,
      ),
      /kcore-vm-alpha/,
    );
    assert.match(readFileSync(configFile, "utf8"), /alpha = \{[^}]*running = false;/s);
    await c.ok("delete", "vm", "beta");
    await waitFor(
      "beta to leave the module",
      () => !readFileSync(configFile, "utf8").includes("beta = {"),
      30_000,
    );
  });
});
