import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TestCluster, waitFor } from "./helpers/cluster.js";
import { forever } from "./helpers/manifests.js";

describe("node operations: cordon, uncordon, drain", () => {
  let c: TestCluster;

  before(async () => {
    c = await TestCluster.start([{ name: "n1" }, { name: "n2" }]);
  });
  after(async () => {
    await c.stop();
  });

  const status = async (name: string): Promise<Record<string, unknown>> =>
    (await c.json("get", "wasm", name)).status;
  const apply = async (name: string): Promise<void> => {
    const r = await c.kctlInput(forever(name), "apply", "-f", "-");
    assert.equal(r.code, 0, r.stderr);
  };

  test("cordoned nodes take no new work; uncordoned, they do", async () => {
    await c.ok("node", "cordon", "n1");
    await c.ok("node", "cordon", "n2");
    assert.match(await c.ok("get", "nodes"), /SchedulingDisabled/);
    await apply("waiting");
    await waitFor(
      "unschedulable",
      async () => (await status("waiting")).reason === "Unschedulable",
    );
    await c.ok("node", "uncordon", "n2");
    await waitFor("running on n2", async () => {
      const s = await status("waiting");
      return s.phase === "Running" && s.node === "n2";
    });
    await c.ok("node", "uncordon", "n1");
    assert.equal((await c.json("get", "node", "n1")).status.schedulable, true);
  });

  test("drain moves running workloads to another node and stops them on the drained one", async () => {
    const uid = ((await c.json("get", "wasm", "waiting")).metadata as { uid: string }).uid;
    const [oldPid] = c.modulePids(uid);
    assert.ok(oldPid !== undefined);
    const out = await c.ok("node", "drain", "n2");
    assert.match(out, /wasm\/waiting evicted/);
    await waitFor("running on n1", async () => {
      const s = await status("waiting");
      return s.phase === "Running" && s.node === "n1";
    });
    // The drained node's agent stopped its copy; only the new one runs.
    await waitFor("one copy", () => {
      const pids = c.modulePids(uid);
      return pids.length === 1 && !pids.includes(oldPid);
    });
    assert.equal((await c.json("get", "node", "n2")).status.schedulable, false);
    const audit = await c.ok("audit", "-o", "json");
    assert.match(audit, /NodeService\/DrainNode/);
    // A new workload avoids the drained node.
    await apply("after-drain");
    await waitFor("placed on n1", async () => (await status("after-drain")).node === "n1");
  });
});
