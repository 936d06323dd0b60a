import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
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
  boot: { kind: "kernel", kernel: "/boot/vmlinuz", cmdline },
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

test("a tap the agent made is handed to the guest as one virtio NIC with the VM's MAC", () => {
  const tap = { name: "kc-web0", mac: "52:54:00:ab:cd:ef" };
  const args = qemuArgs({ ...plan("console=ttyS0"), tap }, PATHS, "tcg");
  assert.equal(
    args[args.indexOf("-netdev") + 1],
    "tap,id=net0,ifname=kc-web0,script=no,downscript=no",
  );
  assert.equal(
    args[args.indexOf("-device") + 1],
    "virtio-net-pci,netdev=net0,mac=52:54:00:ab:cd:ef",
  );
  assert.equal(args.filter((a) => a === "-netdev").length, 1);
  const body = vmConfig({ ...plan("console=ttyS0"), tap }, PATHS) as { net?: unknown };
  assert.deepEqual(body.net, [{ tap: "kc-web0", mac: "52:54:00:ab:cd:ef" }]);
  // Without a tap the guest has no network device at all (QEMU adds none by default here).
  const bare = qemuArgs(plan("console=ttyS0"), PATHS, "tcg");
  assert.ok(!bare.includes("-netdev") && bare.includes("-nodefaults"));
  assert.equal((vmConfig(plan("console=ttyS0"), PATHS) as { net?: unknown }).net, undefined);
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
        // Cut inside the last event: the ones before it parse, the torn one waits in `rest`.
        const torn = parseChEvents(text.slice(0, Math.max(0, text.length - 2 - cut)));
        assert.deepEqual(
          torn.events.map((e) => [e.source, e.event]),
          events.slice(0, -1).map((e) => [e.source, e.event]),
        );
        if (events.length > 0) assert.notEqual(torn.rest.trim(), "");
      },
    ),
  );
});
