import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { KcoreError } from "./errors.js";
import { parseVmSpec } from "./vm.js";
import {
  canMove,
  consistentWith,
  transitionVm,
  VM_STATES,
  type Observed,
  type VmLifecycle,
} from "./vm-state.js";

const SHA = "b".repeat(64);
const kernel = { kernel: "/boot/vmlinuz", initrd: "/boot/initrd.img", cmdline: "console=ttyS0" };

test("a VM spec gets its defaults: one cpu, 512Mi, Running", () => {
  const s = parseVmSpec("spec", { boot: kernel });
  assert.deepEqual([s.cpus, s.memoryBytes, s.desiredState], [1, 512 * 1024 * 1024, "Running"]);
  assert.deepEqual(s.boot, {
    kind: "kernel",
    kernel: "/boot/vmlinuz",
    initrd: "/boot/initrd.img",
    cmdline: "console=ttyS0",
  });
});

test("VM spec errors name the field and the value", () => {
  const msg = (raw: object): string => {
    try {
      parseVmSpec("spec", { boot: kernel, ...raw });
    } catch (e) {
      assert.ok(e instanceof KcoreError);
      return e.message;
    }
    return "";
  };
  assert.match(msg({ cpus: 0 }), /^spec\.cpus: invalid value 0/);
  assert.match(msg({ memory: "8Mi" }), /^spec\.memory: invalid value "8Mi": at least 16Mi/);
  assert.match(msg({ desiredState: "Paused" }), /^spec\.desiredState: invalid value "Paused"/);
  assert.match(
    msg({ boot: { firmware: "/fw", kernel: "/k" } }),
    /^spec\.boot: give either firmware or kernel/,
  );
  assert.match(msg({ boot: { kernel: "../vmlinuz" } }), /^spec\.boot\.kernel: invalid path/);
  assert.match(
    msg({ boot: { kernel: "/k", cmdline: "a\nb" } }),
    /^spec\.boot\.cmdline: must be one line/,
  );
  assert.match(
    msg({ disks: [{ name: "root", url: "http://example.invalid/x.img", sha256: SHA }] }),
    /^spec\.disks\[0\]\.url: URL .* must use https:\/\//,
  );
  assert.match(
    msg({ disks: [{ name: "root", url: "https://example.invalid/x.img", sha256: "abc" }] }),
    /^spec\.disks\[0\]\.sha256: invalid sha256/,
  );
  assert.match(
    msg({ disks: [{ name: "root", path: "/var/lib/a/../../etc/shadow" }] }),
    /^spec\.disks\[0\]\.path: invalid path/,
  );
  assert.match(
    msg({
      disks: [
        { name: "root", path: "/d/a.img" },
        { name: "root", path: "/d/b.img" },
      ],
    }),
    /^spec\.disks\[1\]\.name: duplicate disk name "root"/,
  );
  assert.match(
    msg({ disks: [{ name: "root", path: "/d/a.img", format: "vmdk" }] }),
    /^spec\.disks\[0\]\.format: invalid value "vmdk"/,
  );
  assert.match(msg({ sshKeys: ["ok", "Not OK"] }), /^spec\.sshKeys\[1\]: invalid name "Not OK"/);
});

const observations: Observed[] = [
  { kind: "absent" },
  { kind: "created" },
  { kind: "running" },
  { kind: "paused" },
  { kind: "shutdown" },
  { kind: "unreachable", reason: "socket refused" },
];

test("every accepted VM transition is allowed and agrees with the hypervisor; time moves only with the state", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom(...VM_STATES), fc.constantFrom(...observations)), {
        maxLength: 30,
      }),
      (steps) => {
        let s: VmLifecycle = {
          state: "Pending",
          message: "",
          lastTransitionTime: "2026-01-01T00:00:00.000Z",
        };
        let t = Date.parse(s.lastTransitionTime);
        for (const [to, observed] of steps) {
          t += 1000;
          const r = transitionVm(s, to, observed, new Date(t), "m");
          if (!r.ok) {
            assert.ok(!canMove(s.state, to) || !consistentWith(to, observed));
            continue;
          }
          assert.ok(canMove(s.state, to) && consistentWith(to, observed));
          assert.equal(
            r.value.lastTransitionTime,
            to === s.state ? s.lastTransitionTime : new Date(t).toISOString(),
          );
          s = r.value;
        }
      },
    ),
  );
});

test("a VM is Running only while the hypervisor runs it", () => {
  const s: VmLifecycle = { state: "Starting", message: "", lastTransitionTime: "" };
  assert.deepEqual(transitionVm(s, "Running", { kind: "created" }, new Date(0), ""), {
    ok: false,
    error: "state Running does not agree with the hypervisor, which is created",
  });
  assert.equal(transitionVm(s, "Running", { kind: "running" }, new Date(0), "").ok, true);
  assert.deepEqual(
    transitionVm({ ...s, state: "Stopped" }, "Stopping", { kind: "running" }, new Date(0), ""),
    { ok: false, error: "a VM cannot go from Stopped to Stopping" },
  );
});
