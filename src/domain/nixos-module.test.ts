import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { parseName } from "./names.js";
import { nixText, type Nix } from "./nix.js";
import { renderNixosModule, type NixosVm } from "./nixos-module.js";

const dir = mkdtempSync(join(tmpdir(), "kcore-nixos-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Imports the rendered module with the real evaluator and returns `services.kcore.vms`. */
function evaluateVms(module: Nix): unknown {
  const file = join(dir, "kcore-vms.nix");
  writeFileSync(file, nixText(module));
  const r = spawnSync(
    "nix-instantiate",
    ["--eval", "--strict", "--json", "-E", `(import ${file} { }).services.kcore.vms`],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`nix-instantiate failed: ${r.stderr}`);
  assert.equal(r.stderr, "");
  return JSON.parse(r.stdout);
}

const hostile = fc.string({ unit: "binary", maxLength: 40 }).map((s) => s.replaceAll("\0", ""));
const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,20}[a-z0-9])?$/);
const arbVm = fc.record({
  name: label.map((n) => parseName("name", n)),
  uid: fc.uuid(),
  cpus: fc.integer({ min: 1, max: 128 }),
  memoryBytes: fc.integer({ min: 1, max: 1024 }).map((m) => m * 1024 * 1024),
  boot: fc.oneof(
    fc.record({
      kind: fc.constant("kernel" as const),
      kernel: hostile,
      initrd: hostile,
      cmdline: hostile,
    }),
    fc.record({ kind: fc.constant("firmware" as const), firmware: hostile }),
  ),
  disks: fc.array(
    fc.record({ path: hostile, format: fc.constantFrom("raw", "qcow2"), readOnly: fc.boolean() }),
    { maxLength: 3 },
  ),
  cloudInitSeed: hostile,
  mac: fc.constant("52:54:00:00:00:01"),
  apiSocket: hostile,
  serialSocket: hostile,
  desiredState: fc.constantFrom("Running", "Stopped"),
}) as fc.Arbitrary<NixosVm>;

/** What the module should say about a VM. */
function expected(vm: NixosVm): Record<string, unknown> {
  const b = vm.boot;
  return {
    uid: vm.uid,
    cpus: vm.cpus,
    memoryMiB: vm.memoryBytes / (1024 * 1024),
    kernel: b.kind === "kernel" ? b.kernel : null,
    initrd: b.kind === "kernel" ? (b.initrd ?? null) : null,
    cmdline: b.kind === "kernel" ? b.cmdline : null,
    firmware: b.kind === "firmware" ? b.firmware : null,
    disks: vm.disks.map((d) => ({ ...d })),
    cloudInitSeed: vm.cloudInitSeed ?? null,
    mac: vm.mac,
    tap: vm.tap?.name ?? null,
    apiSocket: vm.apiSocket,
    serialSocket: vm.serialSocket,
    running: vm.desiredState === "Running",
  };
}

test("a node's VM set renders as a module the real evaluator reads back field for field", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(arbVm, { minLength: 1, maxLength: 30, selector: (v) => v.name }),
      (vms) => {
        const got = evaluateVms(renderNixosModule(parseName("node", "n1"), vms));
        assert.deepEqual(got, Object.fromEntries(vms.map((v) => [v.name, expected(v)])));
      },
    ),
    { numRuns: 15 },
  );
});

test("rendering is deterministic: the same VMs in any order give the same bytes", () => {
  const sets = fc
    .uniqueArray(arbVm, { maxLength: 10, selector: (v) => v.name })
    .chain((vms) =>
      fc.tuple(
        fc.constant(vms),
        fc.shuffledSubarray(vms, { minLength: vms.length, maxLength: vms.length }),
      ),
    );
  fc.assert(
    fc.property(sets, ([vms, shuffled]) => {
      const node = parseName("node", "n1");
      assert.equal(
        nixText(renderNixosModule(node, vms)),
        nixText(renderNixosModule(node, shuffled)),
      );
    }),
  );
});

test("a realistic node of 48 VMs parses and evaluates", () => {
  const vms: NixosVm[] = Array.from({ length: 48 }, (_, i) => ({
    name: parseName("name", `vm-${String(i).padStart(2, "0")}`),
    uid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    cpus: 1 + (i % 4),
    memoryBytes: (512 + 256 * (i % 3)) * 1024 * 1024,
    boot:
      i % 5 === 0
        ? { kind: "firmware", firmware: "/run/current-system/sw/share/OVMF/OVMF.fd" }
        : {
            kind: "kernel",
            kernel: "/var/lib/images/vmlinuz",
            initrd: "/var/lib/images/initrd.img",
            cmdline: 'console=ttyS0 root=/dev/vda1 kcore.note="${HOME}"',
          },
    disks: [
      {
        path: `/var/lib/kcore/disks/vm-${i}_u/root.qcow2`,
        format: "qcow2",
        readOnly: false,
      },
    ],
    ...(i % 2 === 0 ? { cloudInitSeed: `/var/lib/kcore/vms/u${i}/seed.iso` } : {}),
    ...(i % 3 === 0 ? { tap: { name: `kctap${i}`, mac: "52:54:00:12:34:56" } } : {}),
    mac: "52:54:00:12:34:56",
    apiSocket: `/run/kcore/vm-${i}.sock`,
    serialSocket: `/run/kcore/vm-${i}.serial.sock`,
    desiredState: i % 7 === 0 ? "Stopped" : "Running",
  }));
  const got = evaluateVms(renderNixosModule(parseName("node", "rack-1"), vms)) as Record<
    string,
    Record<string, unknown>
  >;
  assert.equal(Object.keys(got).length, 48);
  assert.equal(got["vm-01"]?.cmdline, 'console=ttyS0 root=/dev/vda1 kcore.note="${HOME}"');
  assert.equal(got["vm-00"]?.running, false);
  assert.equal(got["vm-03"]?.tap, "kctap3");
});
