import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { REPO } from "./helpers/fixtures.js";
import { freePort, run, waitFor } from "./helpers/cluster.js";

describe("kcore up: the README's start command", () => {
  const dir = mkdtempSync(join(tmpdir(), "kcore-up-"));
  const env = { ...process.env, KCTL_CONFIG: join(dir, "config") };
  let up: ChildProcess | undefined;
  let ports: [number, number] = [0, 0];

  const start = async (): Promise<string> => {
    const child = spawn(
      join(REPO, "bin", "kcore"),
      [
        "up",
        "--data-dir",
        join(dir, "data"),
        "--controller-port",
        String(ports[0]),
        "--agent-port",
        String(ports[1]),
      ],
      { env, stdio: ["ignore", "pipe", "pipe"] },
    );
    up = child;
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await waitFor("tour printed", () => out.includes("Ctrl-C stops kcore"), 30_000);
    return out;
  };
  const kctl = (...args: string[]) => run(join(REPO, "bin", "kctl"), args, { env });
  const stop = async (): Promise<number | null> => {
    const child = up;
    if (!child) return null;
    const code = new Promise<number | null>((r) =>
      child.once("exit", (c) => {
        r(c);
      }),
    );
    child.kill("SIGINT");
    up = undefined;
    return code;
  };
  const modulePids = (): number[] =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
          return (
            (cmd.includes("runner-main.js") || cmd.startsWith("kcore-wasm ")) &&
            cmd.includes(dir) &&
            !/\) Z /.test(readFileSync(`/proc/${p}/stat`, "utf8"))
          );
        } catch {
          return false;
        }
      })
      .map(Number);

  after(async () => {
    await stop();
    for (const p of modulePids()) process.kill(p, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("creates PKI and a kctl context, runs the tour, and resumes on the same data dir", async () => {
    ports = [await freePort(), await freePort()];
    const tour = await start();
    assert.match(tour, /kcore is up: controller on 127\.0\.0\.1:\d+, node '[a-z0-9-]+'/);
    assert.equal(statSync(join(dir, "config")).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "data", "certs", "ca.key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "data", "certs", "node.key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "data", "certs")).mode & 0o777, 0o700);

    await waitFor("node ready", async () =>
      (await kctl("get", "nodes")).stdout.includes(" Ready "),
    );
    assert.equal(
      (await kctl("apply", "-f", "examples/hello.yaml")).stdout,
      "wasmworkload/hello created\n",
    );
    assert.equal((await kctl("wait", "wasm", "hello", "--for", "phase=Succeeded")).code, 0);
    assert.equal(
      (await kctl("logs", "hello")).stdout,
      "Hello from WebAssembly on kcore!\narg: from\narg: a manifest\n",
    );
    assert.match(
      (await kctl("apply", "-f", "examples/ticker.yaml")).stdout,
      /wasmworkload\/ticker created\nwasmworkload\/forever created/,
    );
    await waitFor("forever running", async () =>
      /^forever\s+Running/m.test((await kctl("get", "wasm")).stdout),
    );
    const pidsBefore = modulePids();
    assert.ok(pidsBefore.length >= 1);

    assert.equal(await stop(), 0, "Ctrl-C exits cleanly");
    await new Promise((r) => setTimeout(r, 500));
    for (const p of pidsBefore)
      assert.ok(modulePids().includes(p), `module ${p} kept running after Ctrl-C`);

    await start();
    await waitFor("resumed", async () =>
      /^forever\s+Running/m.test((await kctl("get", "wasm")).stdout),
    );
    assert.match((await kctl("get", "wasm")).stdout, /^hello\s+Completed/m);
    for (const p of pidsBefore)
      assert.ok(modulePids().includes(p), `module ${p} adopted, not restarted`);
  });
});
