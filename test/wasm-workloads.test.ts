import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildCModule, exampleModule } from "./helpers/fixtures.js";
import { TestCluster, waitFor } from "./helpers/cluster.js";
import { workload } from "./helpers/manifests.js";

describe("WebAssembly workloads on a controller with two agents", () => {
  let c: TestCluster;
  let probe: string;

  before(async () => {
    probe = buildCModule("probe");
    c = await TestCluster.start([
      { name: "n1", labels: { zone: "a" } },
      { name: "n2", labels: { zone: "b" } },
    ]);
    await waitFor(
      "both nodes ready",
      async () => (await c.ok("get", "nodes")).match(/ Ready /g)?.length === 2,
    );
  });
  after(async () => {
    await c.stop();
  });

  const apply = async (manifest: string): Promise<string> => {
    const r = await c.kctlInput(manifest, "apply", "-f", "-");
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const status = async (name: string): Promise<Record<string, unknown>> =>
    (await c.json("get", "wasm", name)).status;
  const waitPhase = async (
    name: string,
    phase: string,
    timeout = "60s",
  ): Promise<Record<string, unknown>> => {
    const r = await c.kctl("wait", "wasm", name, "--for", `phase=${phase}`, "--timeout", timeout);
    assert.equal(r.code, 0, `${r.stderr} ${JSON.stringify(await status(name))}`);
    return status(name);
  };
  const logs = async (name: string, ...flags: string[]): Promise<string> =>
    c.ok("logs", name, ...flags);

  test("runs a C module with its args and env and reports its real exit code", async () => {
    await apply(
      workload("args-env", {
        module: { path: probe },
        args: ["print", "hello world", "env", "GREETING", "exit", "42"],
        env: { GREETING: "hi there" },
        restartPolicy: "Never",
      }),
    );
    const s = await waitPhase("args-env", "Failed");
    assert.equal(s.exitCode, 42);
    assert.equal(s.reason, "Error");
    assert.equal(await logs("args-env"), "hello world\nGREETING=hi there\n");
  });

  test("runs a WAT module built from source and succeeds with exit code 0", async () => {
    await apply(
      workload("wat-hello", {
        module: { path: exampleModule("hello") },
        args: ["a b", "c"],
        restartPolicy: "Never",
      }),
    );
    const s = await waitPhase("wat-hello", "Succeeded");
    assert.equal(s.exitCode, 0);
    assert.equal(await logs("wat-hello"), "Hello from WebAssembly on kcore!\narg: a b\narg: c\n");
  });

  test("volumes: readOnly refuses writes, writable hostPath and emptyDir accept them, the rest of the host is invisible", async () => {
    const host = join(c.dir, "shared");
    mkdirSync(join(host, "ro"), { recursive: true });
    mkdirSync(join(host, "rw"), { recursive: true });
    writeFileSync(join(host, "ro", "in.txt"), "from the host");
    await apply(
      workload("volumes", {
        module: { path: probe },
        args: [
          "read",
          "/config/in.txt",
          "write",
          "/config/x.txt",
          "nope",
          "write",
          "/out/result.txt",
          "written",
          "write",
          "/scratch/tmp.txt",
          "t",
          "read",
          "/scratch/tmp.txt",
          "read",
          "/etc/passwd",
          "read",
          "/config/../../../etc/passwd",
        ],
        volumes: [
          { name: "config", mountPath: "/config", hostPath: join(host, "ro"), readOnly: true },
          { name: "out", mountPath: "/out", hostPath: join(host, "rw") },
          { name: "scratch", mountPath: "/scratch", emptyDir: {} },
        ],
        restartPolicy: "Never",
        nodeSelector: { zone: "a" },
      }),
    );
    await waitPhase("volumes", "Succeeded");
    const out = await logs("volumes");
    assert.match(out, /^read \/config\/in.txt: from the host$/m);
    assert.match(out, /^write \/config\/x.txt: Read-only file system$/m);
    assert.match(out, /^write \/out\/result.txt: ok$/m);
    assert.match(out, /^read \/scratch\/tmp.txt: t$/m);
    assert.match(out, /^read \/etc\/passwd: (?!root)/m);
    assert.doesNotMatch(out, /root:/);
    assert.equal(readFileSync(join(host, "rw", "result.txt"), "utf8"), "written");
    assert.throws(() => readFileSync(join(host, "ro", "x.txt")));
  });

  test("a hostPath into the agent's own data directory is refused with VolumeError", async () => {
    await apply(
      workload("steal-keys", {
        module: { path: probe },
        args: ["read", "/k/node.key"],
        volumes: [
          { name: "k", mountPath: "/k", hostPath: join(c.agentDir("n1"), "certs"), readOnly: true },
        ],
        restartPolicy: "Never",
        nodeSelector: { zone: "a" },
      }),
    );
    const s = await waitPhase("steal-keys", "Failed");
    assert.equal(s.reason, "VolumeError");
    assert.match(String(s.message), /overlaps the kcore data directory/);
  });

  test("nodeSelector places a workload on the matching node", async () => {
    await apply(
      workload("on-b", {
        module: { path: probe },
        args: ["print", "b"],
        nodeSelector: { zone: "b" },
        restartPolicy: "Never",
      }),
    );
    const s = await waitPhase("on-b", "Succeeded");
    assert.equal(s.node, "n2");
    await apply(workload("nowhere", { module: { path: probe }, nodeSelector: { zone: "mars" } }));
    const p = await waitFor("unschedulable", async () => {
      const st = await status("nowhere");
      return st.reason === "Unschedulable" ? st : undefined;
    });
    assert.match(
      String(p.message),
      /0\/2 nodes available: n1: label zone=mars not matched; n2: label zone=mars not matched/,
    );
  });

  test("OnFailure restarts with doubling backoff until the module succeeds", async () => {
    const dir = join(c.dir, "onfailure");
    mkdirSync(dir, { recursive: true });
    await apply(
      workload("flaky", {
        module: { path: probe },
        args: ["stamp", "/d/stamps", "count", "/d/n", "3", "print", "made it"],
        volumes: [{ name: "d", mountPath: "/d", hostPath: dir }],
        restartPolicy: "OnFailure",
        nodeSelector: { zone: "a" },
      }),
    );
    const s = await waitPhase("flaky", "Succeeded", "30s");
    assert.equal(s.restartCount, 2);
    assert.equal(s.exitCode, 0);
    const stamps = readFileSync(join(dir, "stamps"), "utf8").trim().split("\n").map(Number);
    assert.equal(stamps.length, 3);
    const [g1, g2] = [(stamps[1] ?? 0) - (stamps[0] ?? 0), (stamps[2] ?? 0) - (stamps[1] ?? 0)];
    // The agent under test runs with --restart-backoff-initial 1s: at least 1 s, then at least
    // 2 s (a loaded machine adds the module's start-up time on top), and well under the 10 s
    // default, so the flag is what set them.
    assert.ok(g1 >= 1000 && g1 < 8000, `first backoff ${g1} ms`);
    assert.ok(g2 >= 2000 && g2 < 9000, `second backoff ${g2} ms after ${g1} ms`);
    assert.equal(await logs("flaky"), "write /d/stamps: ok\nwrite /d/n: ok\nrun 3 of 3\nmade it\n");
    assert.equal(
      await logs("flaky", "--previous"),
      "write /d/stamps: ok\nwrite /d/n: ok\nrun 2 of 3\n",
    );
  });

  test("Always restarts a module that exits 0; Never leaves a failure failed", async () => {
    await apply(
      workload("again", {
        module: { path: probe },
        args: ["print", "x"],
        restartPolicy: "Always",
        nodeSelector: { zone: "b" },
      }),
    );
    await waitFor(
      "two restarts",
      async () => Number((await status("again")).restartCount) >= 2,
      30_000,
    );
    await apply(
      workload("once", {
        module: { path: probe },
        args: ["exit", "3"],
        restartPolicy: "Never",
        nodeSelector: { zone: "b" },
      }),
    );
    const s = await waitPhase("once", "Failed");
    assert.equal(s.exitCode, 3);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await status("once")).restartCount, 0);
  });

  test("a module that exceeds its memory limit is stopped with reason OOMKilled", async () => {
    await apply(
      workload("hog", {
        module: { path: probe },
        args: ["alloc"],
        resources: { limits: { memory: "16Mi" } },
        restartPolicy: "Never",
      }),
    );
    const s = await waitPhase("hog", "Failed");
    assert.equal(s.reason, "OOMKilled");
    assert.match(await logs("hog"), /out of memory after 1[0-5] MiB/);
  });

  test("a CPU-bound module is stopped when deleted, after its grace period", async () => {
    await apply(
      workload("spinner", {
        module: { path: probe },
        args: ["spin"],
        terminationGracePeriodSeconds: 1,
        resources: { limits: { cpu: "200m" } },
      }),
    );
    await waitFor("running", async () => (await status("spinner")).phase === "Running");
    const uid = String(
      (await c.json("get", "wasm", "spinner")).metadata &&
        ((await c.json("get", "wasm", "spinner")).metadata as { uid: string }).uid,
    );
    assert.equal(c.modulePids(uid).length, 1);
    // The CPU limit is a CFS quota on the module's own group: 200m = 20 ms per 100 ms period.
    const [pid] = c.modulePids(uid);
    const cgroups = readFileSync(`/proc/${pid}/cgroup`, "utf8");
    const cpuGroup = /^\d+:(?:[^:]*,)?cpu(?:,[^:]*)?:(.*)$/m.exec(cgroups)?.[1];
    const v2Group = /^0::(.*)$/m.exec(cgroups)?.[1];
    if (cpuGroup !== undefined && cpuGroup.includes(uid)) {
      assert.equal(
        readFileSync(`/sys/fs/cgroup/cpu${cpuGroup}/cpu.cfs_quota_us`, "utf8").trim(),
        "20000",
      );
    } else {
      assert.ok(v2Group?.includes(uid), `module not in a cgroup of its own: ${cgroups}`);
      assert.equal(readFileSync(`/sys/fs/cgroup${v2Group}/cpu.max`, "utf8").trim(), "20000 100000");
    }
    const started = Date.now();
    await c.ok("delete", "wasm", "spinner");
    await waitFor("module process gone", () => c.modulePids(uid).length === 0, 10_000, 50);
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 5000, `stopped after ${took} ms`);
  });

  test("a module is given its grace period to finish and is killed at its end", async () => {
    const dir = join(c.dir, "grace");
    mkdirSync(dir, { recursive: true });
    const vol = [{ name: "d", mountPath: "/d", hostPath: dir }];
    await apply(
      workload("finisher", {
        module: { path: probe },
        args: ["print", "started", "sleep", "2", "write", "/d/finisher", "done"],
        volumes: vol,
        terminationGracePeriodSeconds: 10,
        nodeSelector: { zone: "a" },
      }),
    );
    await apply(
      workload("laggard", {
        module: { path: probe },
        args: ["print", "started", "sleep", "5", "write", "/d/laggard", "done"],
        volumes: vol,
        terminationGracePeriodSeconds: 1,
        nodeSelector: { zone: "a" },
      }),
    );
    await waitFor(
      "both started",
      async () =>
        (await logs("finisher")) === "started\n" && (await logs("laggard")) === "started\n",
    );
    await c.ok("delete", "wasm", "finisher", "laggard");
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(readFileSync(join(dir, "finisher"), "utf8"), "done");
    assert.throws(() => readFileSync(join(dir, "laggard")), /ENOENT/);
  });
});
