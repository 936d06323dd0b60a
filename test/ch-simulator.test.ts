import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { chCall, CloudHypervisorError, errorChain } from "../src/vm/cloud-hypervisor/api-client.js";
import { CH_SIM as SIM } from "./helpers/ch-sim.js";
import { waitFor } from "./helpers/cluster.js";

interface Sim {
  readonly proc: ChildProcess;
  readonly sock: string;
  readonly events: string;
  readonly exited: Promise<number | null>;
}

const spawned: ChildProcess[] = [];

async function startSim(dir: string, name: string, extra: readonly string[] = []): Promise<Sim> {
  const sock = join(dir, `${name}.sock`);
  const events = join(dir, `${name}.events`);
  const proc = spawn(
    process.execPath,
    [SIM, "--api-socket", `path=${sock}`, "--event-monitor", `path=${events}`, ...extra],
    { stdio: "ignore" },
  );
  spawned.push(proc);
  const exited = new Promise<number | null>((r) =>
    proc.once("exit", (c) => {
      r(c);
    }),
  );
  // Ready when it answers (a stale file at the path does not count).
  await waitFor(
    "API socket",
    async () =>
      (await chCall(sock, "GET", "vmm.ping", undefined, { timeoutMs: 1000 })).status === 200,
    15_000,
    50,
  );
  return { proc, sock, events, exited };
}

/** One raw request on a fresh connection; resolves with the bytes received until `until` matches. */
function raw(sock: string, request: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let got = "";
    const t = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, 2000);
    s.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (until.test(got)) {
        clearTimeout(t);
        s.destroy();
        resolve(got);
      }
    });
    s.on("error", reject);
    s.write(request);
  });
}

const call = (sim: Sim, method: "GET" | "PUT", endpoint: string, body?: unknown) =>
  chCall(sim.sock, method, endpoint, body, { timeoutMs: 5000 });
const rejectsWith = async (p: Promise<unknown>, status: number, chain: RegExp): Promise<void> => {
  await assert.rejects(
    p,
    (e: unknown) =>
      e instanceof CloudHypervisorError && e.status === status && chain.test(e.chain.join(" | ")),
  );
};
const kernelConfig = (dir: string, name = "vm") => ({
  payload: { kernel: "/boot/vmlinuz", cmdline: "console=ttyS0" },
  cpus: { boot_vcpus: 2, max_vcpus: 2 },
  memory: { size: 268435456 },
  serial: { mode: "Socket", socket: join(dir, `${name}.serial.sock`) },
  console: { mode: "Off" },
});

describe("the Cloud Hypervisor simulator behaves as BEHAVIOUR.md says, and the driver's API client speaks it", () => {
  const dir = mkdtempSync(join(tmpdir(), "kcore-chsim-"));
  let sim: Sim;
  before(async () => {
    sim = await startSim(dir, "vm");
  });
  after(() => {
    for (const p of spawned) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("frames responses exactly: empty reason phrase, keep-alive, no length on 204, JSON length otherwise", async () => {
    const ping = await raw(
      sim.sock,
      "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n",
      /\}$/,
    );
    assert.match(
      ping,
      /^HTTP\/1\.1 200 \r\nServer: Cloud Hypervisor API\r\nConnection: keep-alive\r\nContent-Type: application\/json\r\nContent-Length: \d+\r\n\r\n\{"build_version"/,
    );
    const del = await raw(sim.sock, "PUT /api/v1/vm.delete HTTP/1.1\r\n\r\n", /\r\n\r\n$/);
    assert.equal(
      del,
      "HTTP/1.1 204 \r\nServer: Cloud Hypervisor API\r\nConnection: keep-alive\r\n\r\n",
    );
    const post = await raw(sim.sock, "POST /api/v1/vmm.ping HTTP/1.1\r\n\r\n", /\}$/);
    assert.match(
      post,
      /^HTTP\/1\.1 400 [\s\S]*\{"error":"Invalid HTTP method: POST\\nAll previous unanswered requests will be dropped\."\}$/,
    );
    const unknown = await raw(sim.sock, "GET /api/v1/vm.nope HTTP/1.1\r\n\r\n", /\]$/);
    assert.match(unknown, /^HTTP\/1\.1 404 [\s\S]*\["Not Found"\]$/);
  });

  test("VM states and status codes follow v53: 404 before create, 500 for wrong states, Created after shutdown", async () => {
    await rejectsWith(call(sim, "PUT", "vm.boot"), 404, /VM is not created/);
    await rejectsWith(call(sim, "GET", "vm.info"), 404, /not created/);
    assert.equal((await call(sim, "PUT", "vm.create", kernelConfig(dir))).status, 204);
    await rejectsWith(call(sim, "PUT", "vm.create", kernelConfig(dir)), 500, /already created/);
    await rejectsWith(call(sim, "PUT", "vm.pause"), 500, /could not be paused/);
    assert.equal((await call(sim, "PUT", "vm.boot")).status, 204);
    await rejectsWith(call(sim, "PUT", "vm.boot"), 500, /already booted/);
    const info = (await call(sim, "GET", "vm.info")).body as {
      state: string;
      config: Record<string, unknown>;
    };
    assert.equal(info.state, "Running");
    assert.equal(info.config.net, null, "absent Option fields are null");
    assert.equal((await call(sim, "PUT", "vm.pause")).status, 204);
    assert.equal(((await call(sim, "GET", "vm.info")).body as { state: string }).state, "Paused");
    assert.equal((await call(sim, "PUT", "vm.resume")).status, 204);
    assert.equal((await call(sim, "PUT", "vm.shutdown")).status, 204);
    assert.equal(((await call(sim, "GET", "vm.info")).body as { state: string }).state, "Created");
    await rejectsWith(call(sim, "PUT", "vm.shutdown"), 500, /not running/);
    assert.equal((await call(sim, "PUT", "vm.delete")).status, 204);
    assert.equal((await call(sim, "PUT", "vm.delete")).status, 204, "delete is always 204");
    await rejectsWith(call(sim, "GET", "vm.info"), 404, /not created/);
    const events = readFileSync(sim.events, "utf8")
      .split("\n\n")
      .filter((e) => e.trim() !== "")
      .map((e) => JSON.parse(e) as { source: string; event: string });
    assert.deepEqual(
      events.map((e) => `${e.source}/${e.event}`),
      [
        "vmm/starting",
        "vm/booting",
        "vm/booted",
        "vm/pausing",
        "vm/paused",
        "vm/resuming",
        "vm/resumed",
        "vm/shutdown",
        "vm/deleted",
      ],
    );
  });

  test("request bodies are checked against the spec's schemas", async () => {
    await rejectsWith(
      call(sim, "PUT", "vm.create", { payload: { kernel: 5 } }),
      400,
      /\/payload\/kernel must be string/,
    );
    await rejectsWith(
      call(sim, "PUT", "vm.create", { cpus: { boot_vcpus: 1 } }),
      400,
      /must have required property 'payload'/,
    );
    await rejectsWith(
      call(sim, "PUT", "vm.create", { payload: { kernel: "/k" }, memory: { size: "big" } }),
      400,
      /memory\/size must be integer/,
    );
    await rejectsWith(call(sim, "PUT", "vm.create"), 400, /Missing body/);
    await rejectsWith(call(sim, "PUT", "vm.boot", {}), 400, /Unexpected body/);
    await rejectsWith(
      call(sim, "PUT", "vm.info"),
      400,
      /Wrong HTTP method PUT for vm\.info: expected GET/,
    );
  });

  test("hotplug answers 200 with {id, bdf} on a booted VM and 204 on a created one", async () => {
    await call(sim, "PUT", "vm.create", kernelConfig(dir));
    assert.deepEqual(await call(sim, "PUT", "vm.add-disk", { path: "/d/data.img", id: "data" }), {
      status: 204,
      body: undefined,
    });
    await call(sim, "PUT", "vm.boot");
    const hot = await call(sim, "PUT", "vm.add-disk", { path: "/d/more.img", id: "more" });
    assert.equal(hot.status, 200);
    assert.equal((hot.body as { id: string }).id, "more");
    await call(sim, "PUT", "vm.delete");
  });

  test("serial output before a client connects is replayed; a new client kicks the old one", async () => {
    await call(sim, "PUT", "vm.create", kernelConfig(dir));
    await call(sim, "PUT", "vm.boot");
    const serial = join(dir, "vm.serial.sock");
    const first = await raw(serial, "", /login: $/);
    assert.match(first, /Command line: console=ttyS0\r\n[\s\S]*kcore-sim login: $/);
    await call(sim, "PUT", "vm.delete");
    assert.equal(existsSync(serial), false, "the serial socket is removed with the VM");
  });

  test("the driver's client times out on a hung VMM and fails cleanly when the VMM dies mid-call", async () => {
    const hung = await startSim(dir, "hung", ["--sim-hang-on", "vm.boot"]);
    await chCall(hung.sock, "PUT", "vm.create", kernelConfig(dir, "h"), {
      timeoutMs: 2000,
    }).catch(() => undefined);
    await assert.rejects(
      chCall(hung.sock, "PUT", "vm.boot", undefined, { timeoutMs: 300 }),
      /no answer within 300 ms/,
    );
    hung.proc.kill("SIGKILL");
    const dying = await startSim(dir, "dying", ["--sim-die-on", "vm.info"]);
    await assert.rejects(
      chCall(dying.sock, "GET", "vm.info", undefined, { timeoutMs: 5000 }),
      /closed the connection without answering|cannot reach/,
    );
    await dying.exited;
    await assert.rejects(
      chCall(dying.sock, "GET", "vmm.ping", undefined, { timeoutMs: 1000 }),
      /cannot reach the API socket/,
    );
  });

  test("a stale socket is replaced; a live VMM keeps its socket; vmm.shutdown answers 200 then exits", async () => {
    writeFileSync(join(dir, "stale.sock"), "");
    writeFileSync(join(dir, "stale.sock.lock"), "999999");
    const s = await startSim(dir, "stale");
    assert.equal((await call(s, "GET", "vmm.ping")).status, 200);
    const second = spawn(process.execPath, [SIM, "--api-socket", `path=${s.sock}`], {
      stdio: "ignore",
    });
    spawned.push(second);
    assert.equal(await new Promise((r) => second.once("exit", r)), 1);
    assert.equal((await call(s, "GET", "vmm.ping")).status, 200);
    assert.deepEqual(await call(s, "PUT", "vmm.shutdown"), { status: 200, body: undefined });
    assert.equal(await s.exited, 0);
    assert.equal(existsSync(s.sock), false);
  });

  test("power-button: the guest powers off and the VMM exits, unless --no-shutdown", async () => {
    const a = await startSim(dir, "pb");
    await call(a, "PUT", "vm.create", kernelConfig(dir, "pb"));
    await call(a, "PUT", "vm.boot");
    await call(a, "PUT", "vm.power-button");
    assert.equal(await a.exited, 0);
    assert.match(
      readFileSync(a.events, "utf8"),
      /"event": "shutdown"[\s\S]*"event": "deleted"[\s\S]*"source": "vmm",\n  "event": "shutdown"/,
    );
    const b = await startSim(dir, "pbns", ["--no-shutdown"]);
    await call(b, "PUT", "vm.create", kernelConfig(dir, "pbns"));
    await call(b, "PUT", "vm.boot");
    await call(b, "PUT", "vm.power-button");
    await waitFor(
      "guest off",
      async () => ((await call(b, "GET", "vm.info")).body as { state: string }).state === "Created",
    );
    b.proc.kill("SIGKILL");
  });
});

test("error bodies become the error chain, whatever CH version wrote them", () => {
  fc.assert(
    fc.property(fc.array(fc.string(), { maxLength: 5 }), (chain) => {
      assert.deepEqual(errorChain(Buffer.from(JSON.stringify(chain))), chain);
    }),
  );
  assert.deepEqual(
    errorChain(
      Buffer.from(
        '{"error":"Invalid HTTP method\\nAll previous unanswered requests will be dropped."}',
      ),
    ),
    ["Invalid HTTP method"],
  );
  assert.deepEqual(errorChain(Buffer.from("VM is not running\n")), ["VM is not running"]);
  assert.deepEqual(errorChain(Buffer.alloc(0)), []);
});
