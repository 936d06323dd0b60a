import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { parseName } from "../src/domain/names.js";
import { nixText } from "../src/domain/nix.js";
import { renderNixosModule, type NixosVm } from "../src/domain/nixos-module.js";
import { REPO } from "./helpers/fixtures.js";
import { typicalNixosVm } from "./helpers/nixos-vm.js";

const MODULES = join(REPO, "nix", "modules");
const LIB = join(REPO, "test", "fixtures", "nix", "lib-stub.nix");
const dir = mkdtempSync(join(tmpdir(), "kcore-nixos-modules-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function nixEval(expr: string): { ok: true; value: unknown } | { ok: false; stderr: string } {
  const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr], {
    encoding: "utf8",
  });
  return r.status === 0
    ? { ok: true, value: JSON.parse(r.stdout) }
    : { ok: false, stderr: r.stderr };
}

/** A fake hypervisor package whose binary prints its arguments, NUL-separated. */
const fakeCh = join(dir, "ch");
mkdirSync(join(fakeCh, "bin"), { recursive: true });
writeFileSync(join(fakeCh, "bin", "cloud-hypervisor"), "#!/bin/sh\nprintf '%s\\0' \"$@\"\n");
chmodSync(join(fakeCh, "bin", "cloud-hypervisor"), 0o755);

/** Evaluates the shipped vms.nix over a rendered module and returns each unit's ExecStart script. */
function units(module: string): Record<string, { ExecStart: string; wantedBy: string[] }> {
  const file = join(dir, "kcore-vms.nix");
  writeFileSync(file, module);
  const r = nixEval(`
    let
      lib = import ${LIB};
      pkgs = { writeShellScript = name: text: text; cloud-hypervisor = "unused"; };
      rendered = (import ${file} { }).services.kcore;
      config = { services.kcore = rendered // { cloudHypervisorPackage = ${JSON.stringify(fakeCh)}; }; };
      m = import ${MODULES}/vms.nix { inherit config lib pkgs; };
    in builtins.mapAttrs (n: u: { inherit (u.serviceConfig) ExecStart; inherit (u) wantedBy; })
      m.config.systemd.services`);
  if (!r.ok) throw new Error(r.stderr);
  return r.value as Record<string, { ExecStart: string; wantedBy: string[] }>;
}

/** Runs a generated script and returns the argv the hypervisor would get. */
function argvOf(script: string): string[] {
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\0").slice(0, -1);
}

const vm = (over: Partial<NixosVm> = {}): NixosVm => typicalNixosVm("web", over);

test("the shipped NixOS modules and the flake parse", () => {
  const files = [
    ...readdirSync(MODULES).map((f) => join(MODULES, f)),
    join(REPO, "flake.nix"),
    LIB,
  ];
  for (const f of files) {
    const r = spawnSync("nix-instantiate", ["--parse", f], { encoding: "utf8" });
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
  }
});

test("the modules' option declarations evaluate against a stub of lib", () => {
  const r = nixEval(`
    let
      lib = import ${LIB};
      pkgs = { writeShellScript = name: text: text; cloud-hypervisor = "ch"; };
      config = { services.kcore = { vms = { }; controller.enable = false; agent.enable = false; };
                 networking.hostName = "n1"; };
      opts = f: (import ${MODULES}/\${f} { inherit config lib pkgs; }).options.services.kcore;
    in { vms = opts "vms.nix"; daemons = opts "daemons.nix"; }`);
  assert.ok(r.ok, r.ok ? "" : r.stderr);
  const v = r.value as {
    vms: { vms: { type: { name: string } } };
    daemons: { agent: { controller: { type: { name: string } } } };
  };
  assert.equal(v.vms.vms.type.name, "attrsOf");
  assert.equal(v.daemons.agent.controller.type.name, "str");
});

test("a rendered VM becomes a unit whose hypervisor gets exactly the rendered values", () => {
  const u = units(nixText(renderNixosModule(parseName("node", "n1"), [vm()])));
  const web = u["kcore-vm-web"];
  assert.ok(web);
  assert.deepEqual(web.wantedBy, ["multi-user.target"]);
  assert.deepEqual(argvOf(web.ExecStart), [
    "--api-socket",
    "path=/run/kcore/web.sock",
    "--serial",
    "socket=/run/kcore/web.serial.sock",
    "--console",
    "off",
    "--cpus",
    "boot=2",
    "--memory",
    "size=1024M",
    "--pvpanic",
    "--kernel",
    "/var/lib/images/vmlinuz",
    "--initramfs",
    "/var/lib/images/initrd.img",
    "--cmdline",
    "console=ttyS0",
    "--disk",
    "path=/var/lib/kcore/disks/web/root.qcow2",
    "path=/var/lib/kcore/vms/web/seed.iso,readonly=on",
  ]);
  const stopped = units(
    nixText(renderNixosModule(parseName("node", "n1"), [vm({ desiredState: "Stopped" })])),
  );
  // A stopped VM has no unit: switching to it stops the unit the VM had.
  assert.deepEqual(Object.keys(stopped), []);
});

test("any kernel command line and path reaches the hypervisor as one unchanged argument", () => {
  const text = fc
    .string({ unit: "binary", minLength: 1, maxLength: 30 })
    .map((s) => s.replaceAll("\0", ""))
    .filter((s) => s !== "");
  fc.assert(
    fc.property(text, text, (cmdline, kernelName) => {
      const kernel = `/boot/${kernelName.replaceAll(",", "_")}`;
      const u = units(
        nixText(
          renderNixosModule(parseName("node", "n1"), [
            vm({ boot: { kind: "kernel", kernel, cmdline } }),
          ]),
        ),
      );
      const argv = argvOf(u["kcore-vm-web"]?.ExecStart ?? "");
      assert.equal(argv[argv.indexOf("--cmdline") + 1], cmdline);
      assert.equal(argv[argv.indexOf("--kernel") + 1], kernel);
      assert.equal(argv.includes("--initramfs"), false);
    }),
    { numRuns: 40 },
  );
});

test("a path with a comma is refused by name instead of being split by the hypervisor", () => {
  assert.throws(
    () =>
      units(
        nixText(
          renderNixosModule(parseName("node", "n1"), [
            vm({ disks: [{ path: "/srv/a,b.raw", format: "raw", readOnly: true }] }),
          ]),
        ),
      ),
    /kcore: VM web: disk "\/srv\/a,b.raw" contains a comma/,
  );
});
