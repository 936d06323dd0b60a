import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import { chCall, CloudHypervisorError } from "../src/vm/cloud-hypervisor/api-client.js";
import { CloudHypervisorDriver, vmConfig } from "../src/vm/cloud-hypervisor/driver.js";
import type { VmPlan, VmProcess, VmRuntimePaths } from "../src/vm/driver.js";
import { isSameProcess, signalProcess } from "../src/util/processes.js";
import { loadRoutes } from "./ch-sim/spec.js";
import { CH_SIM as SIM } from "./helpers/ch-sim.js";
import { waitFor } from "./helpers/cluster.js";

const root = mkdtempSync(join(tmpdir(), "kcore-ch-driver-"));
let next = 0;

/** Runtime paths for one VM in a fresh directory (sockets in `run/`, files in `state/`). */
function freshPaths(): VmRuntimePaths {
  const dir = join(root, `vm${next++}`);
  mkdirSync(join(dir, "run"), { recursive: true });
  mkdirSync(join(dir, "state"), { recursive: true });
  return {
    controlSocket: join(dir, "run", "vm.sock"),
    serialSocket: join(dir, "run", "vm.serial.sock"),
    consoleLog: join(dir, "state", "console.log"),
    hypervisorLog: join(dir, "state", "hypervisor.log"),
    eventsFile: join(dir, "state", "events.json"),
  };
}

const plan: VmPlan = {
  name: "web",
  uid: "6f1c2a6e-0000-4000-8000-000000000001",
  cpus: 2,
  memoryBytes: 512 * 1024 * 1024,
  boot: {
    kind: "kernel",
    kernel: "/boot/vmlinuz",
    initrd: "/boot/initrd.img",
    cmdline: "console=ttyS0 root=/dev/vda",
  },
  disks: [{ path: "/var/lib/kcore/disks/web/root.qcow2", format: "qcow2", readOnly: false }],
};

/** A driver running the simulator, with extra simulator flags (faults). */
const driver = (extra: readonly string[] = [], callTimeoutMs = 2000) =>
  new CloudHypervisorDriver([process.execPath, SIM, ...extra], { callTimeoutMs });

/** Simulator processes whose command line names this test's directory. */
function simPids(): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8");
        const stat = readFileSync(`/proc/${e}/stat`, "utf8");
        return cmd.includes(SIM) && cmd.includes(root) && !/\) Z /.test(stat);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const started: VmProcess[] = [];
async function start(d: CloudHypervisorDriver, paths = freshPaths()): Promise<VmProcess> {
  const p = await d.start(plan, paths);
  started.push(p);
  return p;
}

/** Serial output read from the VM's serial socket until `until` matches. */
function readSerial(path: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let got = "";
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no ${String(until)} on the serial socket; got ${JSON.stringify(got)}`));
    }, 5000);
    s.on("data", (d: Buffer) => {
      got += d.toString();
      if (until.test(got)) {
        clearTimeout(t);
        s.destroy();
        resolve(got);
      }
    });
    s.on("error", reject);
  });
}

describe("the Cloud Hypervisor driver against the simulator", () => {
  after(async () => {
    for (const p of started) await p.forceStop();
    for (const pid of simPids()) signalProcess(pid, "SIGKILL");
    rmSync(root, { recursive: true, force: true });
  });

  test("start creates and boots the plan through the API: vm.info shows it, the serial socket carries the guest", async () => {
    const paths = freshPaths();
    const p = await start(driver(), paths);
    assert.ok(isSameProcess(p.pid, p.startTime));
    assert.deepEqual(await p.observe(), { kind: "running" });
    assert.equal(p.logsItself, false, "the agent relays CH's serial socket");

    const info = await chCall(paths.controlSocket, "GET", "vm.info", undefined, {
      timeoutMs: 2000,
    });
    const config = (info.body as { config: Record<string, unknown> }).config;
    assert.deepEqual(config.cpus, { boot_vcpus: 2, max_vcpus: 2 });
    assert.deepEqual(config.memory, { size: 512 * 1024 * 1024 });
    assert.deepEqual(config.payload, {
      kernel: "/boot/vmlinuz",
      initramfs: "/boot/initrd.img",
      cmdline: "console=ttyS0 root=/dev/vda",
    });
    assert.deepEqual(config.serial, { mode: "Socket", socket: paths.serialSocket });
    assert.equal(config.pvpanic, true);
    assert.match(JSON.stringify(config.disks), /root\.qcow2.*Qcow2/);

    const serial = await readSerial(paths.serialSocket, /Run \/init/);
    assert.match(serial, /Command line: console=ttyS0 root=\/dev\/vda/);
    const events = readFileSync(paths.eventsFile, "utf8");
    assert.match(events, /"event": "booted"/);
  });

  test("the power button powers the guest off and the VMM exits: observe says absent, sockets are gone", async () => {
    const paths = freshPaths();
    const p = await start(driver(), paths);
    await p.powerButton();
    await waitFor("the VMM to exit", () => !isSameProcess(p.pid, p.startTime), 10_000);
    assert.deepEqual(await p.observe(), { kind: "absent" });
    assert.equal(existsSync(paths.controlSocket), false);
    assert.equal(existsSync(paths.serialSocket), false);
  });

  test("with --no-shutdown the powered-off VM is Created; a second power button is a wrong-state call with CH's error chain", async () => {
    const p = await start(driver(["--no-shutdown"]));
    await p.powerButton();
    await waitFor("the guest to power off", async () => (await p.observe()).kind === "created");
    assert.ok(isSameProcess(p.pid, p.startTime), "the VMM stays up");
    await assert.rejects(
      p.powerButton(),
      (e: unknown) =>
        e instanceof CloudHypervisorError &&
        e.status === 500 &&
        /vm\.power-button: HTTP 500: Error from API: The VM could not be powered off: VM is not running/.test(
          e.message,
        ),
    );
    await p.forceStop();
    assert.equal(isSameProcess(p.pid, p.startTime), false);
  });

  test("a new driver adopts the running VMM by pid and start time, and refuses another start time", async () => {
    const paths = freshPaths();
    const p = await start(driver(), paths);
    const fresh = driver();
    assert.equal(fresh.adopt(paths, p.pid, "1"), undefined, "a recycled pid is not ours");
    const adopted = fresh.adopt(paths, p.pid, p.startTime);
    assert.ok(adopted);
    assert.deepEqual(await adopted.observe(), { kind: "running" });
    await adopted.forceStop();
    assert.equal(isSameProcess(p.pid, p.startTime), false);
    assert.equal(existsSync(paths.controlSocket), false);
    assert.equal(fresh.adopt(paths, p.pid, p.startTime), undefined, "gone once stopped");
  });

  test("sockets left by a VMM killed with SIGKILL do not stop the next start", async () => {
    const paths = freshPaths();
    const first = await start(driver(), paths);
    signalProcess(first.pid, "SIGKILL");
    await waitFor("the VMM to die", () => !isSameProcess(first.pid, first.startTime));
    assert.ok(existsSync(paths.controlSocket) && existsSync(paths.serialSocket), "stale sockets");
    const second = await start(driver(), paths);
    assert.deepEqual(await second.observe(), { kind: "running" });
    await readSerial(paths.serialSocket, /Linux version/);
  });

  test("a VMM that hangs in vm.boot fails the start within the call timeout and leaves nothing running", async () => {
    const paths = freshPaths();
    const before = simPids().length;
    await assert.rejects(
      driver(["--sim-hang-on", "vm.boot"], 400).start(plan, paths),
      (e: unknown) =>
        /cloud-hypervisor did not start: cloud-hypervisor vm\.boot: no answer within 400 ms/.test(
          (e as Error).message,
        ),
    );
    assert.equal(simPids().length, before, "the hung VMM was killed");
    assert.equal(existsSync(paths.controlSocket), false);
  });

  test("a VMM that dies during vm.create fails the start cleanly", async () => {
    const paths = freshPaths();
    const before = simPids().length;
    await assert.rejects(
      driver(["--sim-die-on", "vm.create"]).start(plan, paths),
      /cloud-hypervisor did not start: cloud-hypervisor vm\.create: the VMM closed the connection without answering/,
    );
    assert.equal(simPids().length, before);
    assert.equal(existsSync(paths.controlSocket), false);
  });

  test("CH refusing vm.create is reported with its error chain", async () => {
    // CH binds the serial socket at vm.create; a missing directory fails it.
    const paths = { ...freshPaths(), serialSocket: join(root, "missing", "serial.sock") };
    const before = simPids().length;
    await assert.rejects(
      driver().start(plan, paths),
      /vm\.create: HTTP 500: Error from API: The VM could not be created: Error binding serial socket .*No such file or directory/,
    );
    assert.equal(simPids().length, before, "the VMM is stopped after a failed create");
  });

  test("observe: a VMM that stops answering is unreachable, one that dies mid-call is absent", async () => {
    const hung = await start(driver(["--sim-hang-on", "vm.info"], 300));
    const o = await hung.observe();
    assert.ok(o.kind === "unreachable", `observed ${o.kind}`);
    assert.match(o.reason, /vm\.info: no answer within 300 ms/);
    await hung.forceStop(); // vmm.shutdown cannot answer either: SIGKILL ends it
    assert.equal(isSameProcess(hung.pid, hung.startTime), false);

    const dying = await start(driver(["--sim-die-on", "vm.info"]));
    assert.deepEqual(await dying.observe(), { kind: "absent" });
  });

  test("a guest panic reported through pvpanic reads as shut down although vm.info says Running", async () => {
    const p = await start(driver(["--sim-guest-panic-after", "300"]));
    assert.deepEqual(await p.observe(), { kind: "running" });
    await waitFor("the panic", async () => (await p.observe()).kind === "shutdown", 5000);
  });

  test("a missing cloud-hypervisor binary fails the start naming the command", async () => {
    await assert.rejects(
      new CloudHypervisorDriver(["/nonexistent/cloud-hypervisor"]).start(plan, freshPaths()),
      /\/nonexistent\/cloud-hypervisor/,
    );
  });
});

test("every plan the agent can make is a VmConfig the published API schema accepts", () => {
  const validate = loadRoutes().routes.get("vm.create")?.validate;
  assert.ok(validate);
  const path = fc.stringMatching(/^\/[a-z0-9/._-]{1,40}$/);
  const arbBoot = fc.oneof(
    fc.record({
      kind: fc.constant("kernel" as const),
      kernel: path,
      initrd: fc.option(path, { nil: undefined }),
      cmdline: fc.string({ maxLength: 100 }),
    }),
    fc.record({ kind: fc.constant("firmware" as const), firmware: path }),
  );
  const arbPlan = fc.record({
    name: fc.constant("vm"),
    uid: fc.uuid(),
    cpus: fc.integer({ min: 1, max: 64 }),
    memoryBytes: fc.integer({ min: 1, max: 64 }).map((g) => g * 1024 * 1024 * 1024),
    boot: arbBoot,
    disks: fc.array(
      fc.record({ path, format: fc.constantFrom("raw", "qcow2"), readOnly: fc.boolean() }),
      { maxLength: 4 },
    ),
    tap: fc.option(
      fc.record({
        name: fc.stringMatching(/^kc[a-z0-9]{1,13}$/),
        mac: fc.constant("52:54:00:12:34:56"),
      }),
      { nil: undefined },
    ),
  });
  fc.assert(
    fc.property(arbPlan, (p) => {
      const body: unknown = JSON.parse(JSON.stringify(vmConfig(p as VmPlan, freshPathsFor(p.uid))));
      if (!validate(body)) throw new Error(JSON.stringify(validate.errors));
    }),
  );
});

function freshPathsFor(uid: string): VmRuntimePaths {
  return {
    controlSocket: `/run/kcore/${uid}.sock`,
    serialSocket: `/run/kcore/${uid}.serial.sock`,
    consoleLog: "/var/lib/kcore/logs/console.log",
    hypervisorLog: "/var/lib/kcore/vms/hypervisor.log",
    eventsFile: "/var/lib/kcore/vms/events.json",
  };
}
