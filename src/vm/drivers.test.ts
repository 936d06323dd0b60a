import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parse } from "yaml";
import { seedFiles } from "../agent/cloud-init.js";
import { parseSshKeySpec } from "../domain/ssh-key.js";
import type { AbsolutePath } from "../domain/paths.js";
import { parseChEvents } from "./cloud-hypervisor/events.js";
import { vmConfig } from "./cloud-hypervisor/driver.js";
import type { VmPlan, VmRuntimePaths } from "./driver.js";
import { qemuArgs } from "./qemu/driver.js";

const PATHS: VmRuntimePaths = {
  controlSocket: "/run/kcore/web.qmp.sock",
  serialSocket: "/run/kcore/web.serial.sock",
  consoleLog: "/var/lib/kcore/logs/vm_web_u/console.log",
  hypervisorLog: "/var/lib/kcore/vms/u/hypervisor.log",
  eventsFile: "/var/lib/kcore/vms/u/events.json",
};
const plan = (cmdline: string, disk = "/var/lib/kcore/disks/web_u/root.qcow2"): VmPlan => ({
  name: "web",
  uid: "u",
  cpus: 2,
  memoryBytes: 512 * 1024 * 1024,
  boot: { kind: "kernel", kernel: "/boot/vmlinuz" as AbsolutePath, cmdline },
  disks: [{ path: disk, format: "qcow2", readOnly: false }],
});

test("qemu: each value is its own argv element; commas in option values are doubled", () => {
  fc.assert(
    fc.property(fc.string(), fc.string({ minLength: 1 }), (cmdline, name) => {
      const disk = `/d/${name.replaceAll("/", "_")}`;
      const args = qemuArgs(plan(cmdline, disk), PATHS, "tcg");
      // The kernel command line is passed as one argument, untouched.
      assert.equal(args[args.indexOf("-append") + 1], cmdline);
      // A comma in a path cannot start a new QEMU option.
      const drive = args[args.indexOf("-drive") + 1] ?? "";
      const file = /^file=((?:[^,]|,,)*),format=qcow2,/.exec(drive)?.[1];
      assert.equal(file?.replaceAll(",,", ","), disk);
    }),
  );
  const args = qemuArgs(plan("console=ttyS0"), PATHS, "tcg");
  assert.deepEqual(args.slice(args.indexOf("-accel"), args.indexOf("-accel") + 2), [
    "-accel",
    "tcg",
  ]);
  assert.ok(args.includes("-smp") && args[args.indexOf("-smp") + 1] === "2");
  assert.equal(args[args.indexOf("-m") + 1], "512M");
});

test("cloud-hypervisor: vm.create body names the serial socket, never the API socket", () => {
  const body = vmConfig(plan("console=ttyS0"), PATHS) as {
    serial: { mode: string; socket: string };
    memory: { size: number };
    cpus: { boot_vcpus: number };
  };
  assert.deepEqual(body.serial, { mode: "Socket", socket: PATHS.serialSocket });
  assert.equal(body.memory.size, 512 * 1024 * 1024);
  assert.equal(body.cpus.boot_vcpus, 2);
});

test("event monitor: blank-line-separated pretty JSON, a torn last event kept for later", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ source: fc.constantFrom("vm", "vmm", "guest"), event: fc.string() }), {
        maxLength: 10,
      }),
      fc.nat(50),
      (events, cut) => {
        const text = events
          .map(
            (e, i) =>
              `${JSON.stringify({ timestamp: { secs: i, nanos: 0 }, ...e, properties: null }, null, 2)}\n\n`,
          )
          .join("");
        const whole = parseChEvents(text);
        assert.deepEqual(
          whole.events.map((e) => [e.source, e.event]),
          events.map((e) => [e.source, e.event]),
        );
        // Cut inside the last event: everything before it parses, the rest waits.
        const partial = parseChEvents(text.slice(0, Math.max(0, text.length - 2 - cut)));
        assert.ok(partial.events.length >= Math.max(0, events.length - 1));
      },
    ),
  );
});

test("cloud-init: user strings never change the structure of meta-data", () => {
  fc.assert(
    fc.property(fc.string(), fc.array(fc.string(), { maxLength: 3 }), (host, keys) => {
      const files = seedFiles({ instanceId: "i-1", hostname: host, sshPublicKeys: keys });
      const meta = parse(files["meta-data"]) as Record<string, unknown>;
      assert.equal(meta["local-hostname"], host);
      assert.equal(meta["instance-id"], "i-1");
      if (keys.length > 0) assert.deepEqual(meta["public-keys"], keys);
      assert.deepEqual(
        Object.keys(meta).sort(),
        keys.length > 0
          ? ["instance-id", "local-hostname", "public-keys"]
          : ["instance-id", "local-hostname"],
      );
    }),
  );
});

test("SshKey: one OpenSSH public key line whose blob matches its type", () => {
  const blob = Buffer.concat([
    Buffer.from([0, 0, 0, 11]),
    Buffer.from("ssh-ed25519"),
    Buffer.from([0, 0, 0, 32]),
    Buffer.alloc(32, 7),
  ]).toString("base64");
  assert.equal(
    parseSshKeySpec("spec", { publicKey: `ssh-ed25519 ${blob} a@b` }).publicKey,
    `ssh-ed25519 ${blob} a@b`,
  );
  assert.throws(
    () => parseSshKeySpec("spec", { publicKey: `ssh-rsa ${blob}` }),
    /spec\.publicKey.*not a base64 ssh-rsa key/,
  );
  assert.throws(
    () => parseSshKeySpec("spec", { publicKey: `ssh-ed25519 ${blob}\nevil` }),
    /spec\.publicKey/,
  );
  fc.assert(
    fc.property(fc.string(), (s) => {
      try {
        parseSshKeySpec("spec", { publicKey: s });
      } catch (e) {
        assert.match(String(e), /spec\.publicKey/);
      }
    }),
  );
});
