import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildCModule, exampleModule, REPO } from "./helpers/fixtures.js";
import { TestCluster, waitFor } from "./helpers/cluster.js";
import { workload } from "./helpers/manifests.js";

describe("kctl", () => {
  let c: TestCluster;
  let probe: string;

  before(async () => {
    probe = buildCModule("probe");
    c = await TestCluster.start([{ name: "n1" }]);
  });
  after(async () => {
    await c.stop();
  });

  test("apply is idempotent: created, unchanged, configured; a spec change bumps the generation", async () => {
    const file = join(c.dir, "app.yaml");
    writeFileSync(
      file,
      workload("app", { module: { path: probe }, args: ["print", "v1"], restartPolicy: "Never" }),
    );
    assert.equal(await c.ok("apply", "-f", file), "wasmworkload/app created\n");
    assert.equal(await c.ok("apply", "-f", file), "wasmworkload/app unchanged\n");
    writeFileSync(
      file,
      workload("app", { module: { path: probe }, args: ["print", "v2"], restartPolicy: "Never" }),
    );
    assert.equal(await c.ok("apply", "-f", file), "wasmworkload/app configured\n");
    const doc = await c.json("get", "wasm", "app");
    assert.equal((doc.metadata as { generation: number }).generation, 2);
    await waitFor(
      "observedGeneration 2",
      async () => (await c.json("get", "wasm", "app")).status.observedGeneration === 2,
    );
    await waitFor("v2 ran", async () => (await c.ok("logs", "app")) === "v2\n");
    writeFileSync(
      file,
      workload(
        "app",
        { module: { path: probe }, args: ["print", "v2"], restartPolicy: "Never" },
        { tier: "web" },
      ),
    );
    assert.equal(await c.ok("apply", "-f", file), "wasmworkload/app configured\n");
    assert.equal(
      (await c.json("get", "wasm", "app")).metadata &&
        ((await c.json("get", "wasm", "app")).metadata as { generation: number }).generation,
      2,
      "labels alone do not bump the generation",
    );
  });

  test("apply takes a directory, several documents per file, and stdin", async () => {
    const dir = join(c.dir, "manifests");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "a.yaml"),
      `${workload("d-a", { module: { path: probe } })}---\n${workload("d-b", { module: { path: probe } })}`,
    );
    writeFileSync(join(dir, "b.yml"), workload("d-c", { module: { path: probe } }));
    writeFileSync(join(dir, "notes.txt"), "not a manifest");
    assert.equal(
      await c.ok("apply", "-f", dir),
      "wasmworkload/d-a created\nwasmworkload/d-b created\nwasmworkload/d-c created\n",
    );
    const r = await c.kctlInput(
      workload("d-stdin", { module: { path: probe } }),
      "apply",
      "-f",
      "-",
    );
    assert.equal(r.stdout, "wasmworkload/d-stdin created\n");
    await c.ok("delete", "-f", dir);
    await c.ok("delete", "wasm", "d-stdin");
    const names = (
      JSON.parse(await c.ok("get", "wasm", "-o", "json")) as {
        items: { metadata: { name: string } }[];
      }
    ).items.map((i) => i.metadata.name);
    assert.ok(!names.some((n) => n.startsWith("d-")), names.join(","));
  });

  test("a bad manifest is refused with a one-line error naming the field, and nothing is applied", async () => {
    const file = join(c.dir, "bad.yaml");
    writeFileSync(
      file,
      `${workload("good-one", { module: { path: probe } })}---\n${workload("bad-one", { module: { path: probe }, resources: { limits: { memory: "64MB" } } })}`,
    );
    const r = await c.kctl("apply", "-f", file);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `error: ${file}#2: spec.resources.limits.memory: invalid memory quantity "64MB": expected a number with an optional suffix Ki, Mi, Gi, Ti, k, M, G, T (e.g. "64Mi")\n`,
    );
    assert.equal((await c.kctl("get", "wasm", "good-one")).code, 1);
    const missing = await c.kctl("apply", "-f", join(c.dir, "nope.yaml"));
    assert.match(missing.stderr, /^error: -f: .*nope\.yaml: no such file or directory\n$/);
    const notFound = await c.kctl("get", "wasm", "nope");
    assert.deepEqual(
      [notFound.code, notFound.stderr],
      [1, "error: WasmWorkload 'nope' not found\n"],
    );
    const kind = await c.kctl("get", "pods");
    assert.match(kind.stderr, /^error: unknown resource kind "pods"/);
  });

  test("get prints tables, wide tables, JSON lists and YAML; nodes show ready as a boolean", async () => {
    await c.ok(
      "run",
      "listed",
      "--wasm",
      probe,
      "--restart",
      "Never",
      "--env",
      "A=1",
      "--",
      "print",
      "hi",
    );
    await c.ok("wait", "wasm", "listed", "--for", "phase=Succeeded");
    const table = await c.ok("get", "wasm");
    assert.match(table, /^NAME\s+STATUS\s+NODE\s+RESTARTS\s+EXIT\s+AGE\n/);
    assert.match(table, /^listed\s+Completed\s+n1\s+0\s+0\s+\d+s$/m);
    assert.match(
      await c.ok("get", "wasm", "-o", "wide"),
      /^listed\s+Completed\s+n1\s+0\s+0\s+\d+s\s+Succeeded\s+Never\s+probe-[0-9a-f]+\.wasm$/m,
    );
    const list = JSON.parse(await c.ok("get", "wasms", "-o", "json")) as {
      kind: string;
      items: { kind: string; spec: { args: string[]; env: Record<string, string> } }[];
    };
    assert.equal(list.kind, "List");
    const one = await c.json("get", "wasm", "listed");
    assert.equal(one.kind, "WasmWorkload");
    assert.deepEqual((one.spec as { args: string[] }).args, ["print", "hi"]);
    assert.deepEqual((one.spec as { env: Record<string, string> }).env, { A: "1" });
    assert.match(
      await c.ok("get", "wasm", "listed", "-o", "yaml"),
      /^apiVersion: kcore.dev\/v1\nkind: WasmWorkload\n/,
    );
    const node = await c.json("get", "node", "n1");
    assert.equal(node.status.ready, true);
    assert.equal(node.status.approval, "Approved");
    assert.match(
      await c.ok("get", "nodes"),
      /^n1\s+Ready\s+Approved\s+\d+\/500\s+\d+s\s+0\.1\.0$/m,
    );
    assert.match(await c.ok("describe", "wasm", "listed"), /phase: Succeeded/);
    assert.match(await c.ok("describe", "node", "n1"), /ready: true/);
  });

  test("the YAML that get prints can be applied again unchanged", async () => {
    const yaml = await c.ok("get", "wasm", "listed", "-o", "yaml");
    const r = await c.kctlInput(yaml, "apply", "-f", "-");
    assert.equal(r.stdout, "wasmworkload/listed unchanged\n", r.stderr);
  });

  test("logs: --tail, --timestamps, --previous and -f", async () => {
    await c.ok("run", "ticks", "--wasm", exampleModule("ticker"), "--restart", "Never", "--", "3");
    const followed = await c.ok("logs", "ticks", "-f");
    assert.equal(followed, "tick\ntick\ntick\n");
    assert.equal(await c.ok("logs", "ticks", "--tail", "1"), "tick\n");
    assert.match(
      await c.ok("logs", "ticks", "--timestamps"),
      /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z tick\n){3}$/,
    );
    const prev = await c.kctl("logs", "ticks", "--previous");
    assert.equal(prev.code, 1);
    assert.match(prev.stderr, /no previous run/);
  });

  test("get --watch prints a row for every change", async () => {
    const child = spawn(join(REPO, "bin", "kctl"), ["get", "wasm", "watched", "--watch"], {
      env: { ...process.env, ...c.env },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    try {
      await new Promise((r) => setTimeout(r, 800));
      await c.ok("run", "watched", "--wasm", probe, "--restart", "Never", "--", "print", "w");
      await waitFor("Completed row", () => /^watched\s+Completed/m.test(out), 20_000);
      assert.match(out, /^NAME\s+STATUS/);
      assert.match(out, /^watched\s+(Pending|Scheduled|ContainerCreating)/m);
    } finally {
      child.kill();
    }
  });

  test("wait times out with a clear message", async () => {
    await c.ok("run", "sleepy", "--wasm", probe, "--", "sleep", "60");
    const r = await c.kctl("wait", "wasm", "sleepy", "--for", "phase=Succeeded", "--timeout", "1s");
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: timed out waiting for wasmworkload\/sleepy: phase=Succeeded \(last seen phase=(Pending|Running)\)\n$/,
    );
    await c.ok("delete", "wasm", "sleepy");
    const gone = await c.kctl("wait", "wasm", "sleepy", "--for", "delete", "--timeout", "5s");
    assert.ok(gone.code === 0 || /not found|timed out/.test(gone.stderr));
  });

  test("version prints the client version and the controller's health", async () => {
    assert.match(
      await c.ok("version"),
      /^Client Version: v0\.1\.0\nController: 127\.0\.0\.1:\d+ \(SERVING\)\n$/,
    );
  });
});
