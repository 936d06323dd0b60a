/**
 * A stand-in for `nixos-rebuild test|switch` on a machine that is not NixOS, for the realizer's
 * tests. It does what matters of the real one with real parts: the agent's rendered module is
 * evaluated by the real Nix evaluator through the shipped `nix/modules/vms.nix` (against the lib
 * stub), and the units it yields are "activated": removed or changed units are stopped through
 * their ExecStop script, new or changed ones started through their ExecStart script (which runs
 * the Cloud Hypervisor simulator). `switch` also records the file as the boot default.
 *
 * Usage: main.js --file RENDERED.nix --state DIR test|switch
 *
 * Test controls, files in DIR: `fail-test` / `fail-switch` (their content is printed and the
 * step fails), `block` (the step waits while it exists), `delay-ms` (each step takes that long). Every call is appended to
 * DIR/calls.jsonl; a call made while another runs is recorded as `concurrent` and fails.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, "..", "..", "..");
const CH_SIM = join(REPO, "dist", "test", "ch-sim", "main.js");
const CH_REMOTE = join(HERE, "ch-remote.js");

const args = process.argv.slice(2);
const flag = (name: string): string => {
  const i = args.indexOf(name);
  const v = i < 0 ? undefined : args[i + 1];
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
};
const file = flag("--file");
const state = flag("--state");
const phase = args.at(-1);
if (phase !== "test" && phase !== "switch") {
  process.stderr.write("usage: main.js --file F --state DIR test|switch\n");
  process.exit(2);
}
mkdirSync(state, { recursive: true });

const calls = join(state, "calls.jsonl");
const record = (event: string, extra: Record<string, unknown> = {}): void => {
  appendFileSync(calls, `${JSON.stringify({ phase, event, pid: process.pid, ...extra })}\n`);
};
const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

const lock = join(state, "lock");
try {
  mkdirSync(lock);
} catch {
  record("concurrent");
  process.stderr.write("error: another nixos-rebuild is running\n");
  process.exit(3);
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fake Cloud Hypervisor package: `bin/cloud-hypervisor` is the simulator. */
function chPackage(): string {
  const pkg = join(state, "cloud-hypervisor");
  mkdirSync(join(pkg, "bin"), { recursive: true });
  const bin = (name: string, script: string): void => {
    writeFileSync(join(pkg, "bin", name), `#!/bin/sh\nexec ${process.execPath} ${script} "$@"\n`);
    chmodSync(join(pkg, "bin", name), 0o755);
  };
  bin("cloud-hypervisor", CH_SIM);
  bin("ch-remote", CH_REMOTE);
  return pkg;
}

interface Unit {
  ExecStart: string;
  ExecStop: string;
}

/** The units the shipped NixOS module makes of the rendered file, by the real evaluator. */
function evaluate(): Record<string, Unit> {
  const expr = `
    let
      lib = import ${join(REPO, "test", "fixtures", "nix", "lib-stub.nix")};
      pkgs = { writeShellScript = name: text: text; cloud-hypervisor = "unused"; };
      rendered = (import ${file} { }).services.kcore;
      config = { services.kcore = rendered // { cloudHypervisorPackage = ${JSON.stringify(chPackage())}; }; };
      m = import ${join(REPO, "nix", "modules", "vms.nix")} { inherit config lib pkgs; };
    in builtins.mapAttrs (n: u: { inherit (u.serviceConfig) ExecStart ExecStop; })
      (m.config.systemd.services or { })`;
  const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr], {
    encoding: "utf8",
  });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    throw new Error("error: evaluation of the configuration failed");
  }
  return JSON.parse(r.stdout) as Record<string, Unit>;
}

interface Active {
  script: string;
  stop: string;
  pid: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function stopUnit(name: string, a: Active): Promise<void> {
  process.stdout.write(`stopping the following units: ${name}.service\n`);
  if (alive(a.pid)) {
    const stop = spawn("bash", ["-c", a.stop], {
      env: { ...process.env, MAINPID: String(a.pid) },
      stdio: "ignore",
    });
    // TimeoutStopSec, shortened: then the unit's processes are killed.
    const timer = setTimeout(() => stop.kill("SIGKILL"), 10_000);
    await new Promise((r) => stop.once("exit", r));
    clearTimeout(timer);
  }
  if (alive(a.pid)) process.kill(a.pid, "SIGKILL");
}

function startUnit(name: string, u: Unit): Active {
  process.stdout.write(`starting the following units: ${name}.service\n`);
  const dir = join(state, "units");
  mkdirSync(dir, { recursive: true });
  const log = openSync(join(dir, `${name}.log`), "a");
  const p = spawn("bash", ["-c", u.ExecStart], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  p.unref();
  return { script: u.ExecStart, stop: u.ExecStop, pid: p.pid ?? 0 };
}

async function main(): Promise<void> {
  record("start", { sha256: sha(file) });
  while (existsSync(join(state, "block"))) await sleep(50);
  // A real rebuild takes a while: `delay-ms` makes each step take that long.
  const delay = join(state, "delay-ms");
  if (existsSync(delay)) await sleep(Number(readFileSync(delay, "utf8")));
  process.stdout.write("building the system configuration...\n");
  const failure = join(state, `fail-${phase}`);
  if (existsSync(failure)) {
    process.stderr.write(readFileSync(failure, "utf8"));
    record("failed");
    process.exitCode = 1;
    return;
  }
  const units = evaluate();
  process.stdout.write("activating the configuration...\n");
  const activeFile = join(state, "active.json");
  const active = existsSync(activeFile)
    ? (JSON.parse(readFileSync(activeFile, "utf8")) as Record<string, Active>)
    : {};
  const next: Record<string, Active> = {};
  for (const [name, a] of Object.entries(active)) {
    const u = units[name];
    if (u?.ExecStart === a.script && alive(a.pid)) next[name] = a;
    else await stopUnit(name, a);
  }
  for (const [name, u] of Object.entries(units)) next[name] ??= startUnit(name, u);
  writeFileSync(activeFile, JSON.stringify(next));
  if (phase === "switch") copyFileSync(file, join(state, "boot-default.nix"));
  record("done", { sha256: sha(file), units: Object.keys(units).sort() });
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    record("failed");
    process.exitCode = 1;
  })
  .finally(() => {
    rmSync(lock, { recursive: true, force: true });
  });
