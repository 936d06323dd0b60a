import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { buildCModule } from "./helpers/fixtures.js";
import { TestCluster, waitFor } from "./helpers/cluster.js";
import { forever, workload } from "./helpers/manifests.js";

describe("fail-static: stopping or crashing the daemons never stops a running module", () => {
  let c: TestCluster;
  let probe: string;

  before(async () => {
    probe = buildCModule("probe");
    c = await TestCluster.start([{ name: "n1" }]);
  });
  after(async () => {
    await c.stop();
  });

  const uidOf = async (name: string): Promise<string> =>
    ((await c.json("get", "wasm", name)).metadata as { uid: string }).uid;
  const status = async (name: string): Promise<Record<string, unknown>> =>
    (await c.json("get", "wasm", name)).status;
  const ticks = async (name: string): Promise<number> =>
    (await c.ok("logs", name)).split("\n").filter((l) => l === "tick").length;

  test("kill -9 of the agent: the module keeps running and the restarted agent adopts it", async () => {
    await c.kctlInput(forever("forever"), "apply", "-f", "-");
    await waitFor("running", async () => (await status("forever")).phase === "Running");
    const uid = await uidOf("forever");
    const [pid] = c.modulePids(uid);
    assert.ok(pid !== undefined);
    // A module that exits while no agent is running: its exit code must not be lost.
    await c.kctlInput(
      workload("short", {
        module: { path: probe },
        args: ["sleep", "2", "exit", "7"],
        restartPolicy: "Never",
      }),
      "apply",
      "-f",
      "-",
    );
    await waitFor("short running", async () => (await status("short")).phase === "Running");

    await c.kill("n1", "SIGKILL");
    const before = await ticks("forever").catch(() => 0);
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(c.modulePids(uid), [pid], "the module process survived the agent");

    await c.startAgent("n1");
    await waitFor("short reported", async () => (await status("short")).phase === "Failed");
    const s = await status("short");
    assert.equal(s.exitCode, 7);
    assert.equal((await status("forever")).phase, "Running");
    assert.equal((await status("forever")).restartCount, 0);
    assert.deepEqual(c.modulePids(uid), [pid], "adopted, not restarted");
    await waitFor(
      "more ticks after adoption",
      async () => (await ticks("forever")) > before + 3,
      15_000,
    );
  });

  test("kill -9 of the controller: modules continue, and nothing is lost after it restarts", async () => {
    const uid = await uidOf("forever");
    const [pid] = c.modulePids(uid);
    const listBefore = JSON.parse(await c.ok("get", "wasm", "-o", "json")) as {
      items: { metadata: { name: string; uid: string } }[];
    };
    await c.kill("controller", "SIGKILL");
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(c.modulePids(uid), [pid]);
    const r = await c.kctl("get", "wasm");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^error: /);
    assert.equal(r.stderr.trim().split("\n").length, 1, "one-line error");

    await c.startController();
    const listAfter = JSON.parse(await c.ok("get", "wasm", "-o", "json")) as {
      items: { metadata: { name: string; uid: string } }[];
    };
    assert.deepEqual(
      listAfter.items.map((i) => [i.metadata.name, i.metadata.uid]),
      listBefore.items.map((i) => [i.metadata.name, i.metadata.uid]),
    );
    await waitFor("agent reconnected", async () =>
      (await c.ok("get", "nodes")).includes(" Ready "),
    );
    // Still converging: a new workload applied after the restart runs.
    await c.kctlInput(
      workload("after-restart", {
        module: { path: probe },
        args: ["print", "ok"],
        restartPolicy: "Never",
      }),
      "apply",
      "-f",
      "-",
    );
    const w = await c.kctl(
      "wait",
      "wasm",
      "after-restart",
      "--for",
      "phase=Succeeded",
      "--timeout",
      "30s",
    );
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(c.modulePids(uid), [pid]);
  });

  test("a clean agent stop (SIGTERM) leaves modules running too", async () => {
    const uid = await uidOf("forever");
    const [pid] = c.modulePids(uid);
    await c.kill("n1", "SIGTERM");
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(c.modulePids(uid), [pid]);
    await c.startAgent("n1");
    await c.ok("delete", "wasm", "forever");
    await waitFor("module stopped after delete", () => c.modulePids(uid).length === 0, 40_000, 100);
  });
});
