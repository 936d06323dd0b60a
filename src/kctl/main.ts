import { parseArgs } from "node:util";
import { KcoreError } from "../domain/errors.js";
import { defaultDataDir } from "../util/data-dir.js";
import { apply } from "./commands/apply.js";
import {
  listCertificates,
  revokeCertificate,
  rotate,
  signNodeCsr,
} from "./commands/certificate.js";
import { createJoinToken, NODE_USAGE, nodeCommand } from "./commands/node.js";
import { deleteResources } from "./commands/delete.js";
import { describe, get } from "./commands/get.js";
import { logs } from "./commands/logs.js";
import { renderNix } from "./commands/render.js";
import { audit } from "./commands/audit.js";
import { run } from "./commands/run.js";
import { version } from "./commands/version.js";
import { consoleVm, setVmState } from "./commands/vm.js";
import { parseCondition, wait } from "./commands/wait.js";
import { parseDuration } from "./duration.js";
import { parseOutputFormat } from "./format.js";
import { resolveKind } from "./kinds.js";
import { out } from "./output.js";

export const USAGE = `kctl: the kcore operator CLI

  kctl create cluster --controller HOST:PORT [--context NAME] [--force] [--data-dir DIR]
  kctl create user NAME --role admin|viewer [--out FILE] [--force]
  kctl apply -f FILE|DIR|-
  kctl get KIND [NAME] [-o table|wide|json|yaml] [--watch]
  kctl describe KIND NAME
  kctl delete KIND NAME | -f FILE
  kctl logs [wasm/|vm/]NAME [-f] [--tail N] [--previous] [--timestamps]
  kctl wait KIND NAME --for phase=Succeeded|state=Running|delete [--timeout 60s]
  kctl set vm NAME --state Running|Stopped
  kctl console vm NAME          (Ctrl-] detaches)
  kctl render nix --node NAME   (the NixOS module a nixos node applies)
  kctl run NAME --wasm FILE [--restart Always|OnFailure|Never] [--env K=V] [--memory 64Mi] [--cpu 500m] [-- ARGS...]
  kctl certificate sign --csr FILE --out-dir DIR
  kctl certificate list [-o table|wide|json|yaml] | kctl certificate revoke SERIAL   (admins)
  kctl node approve|reject|cordon|uncordon|revoke NAME
  kctl node token create [--ttl 1h]   (a one-time token for kcore agent --join)
  kctl rotate intermediate|controller
  kctl audit [--since 1h|TIME] [--limit N] [-o table|wide|json|yaml]   (admins)
  kctl version

Kinds: wasm (wasmworkload, wasmworkloads), vm (vms), sshkey (sshkeys), node (nodes, no).
Global flags: --context NAME. Config: $KCTL_CONFIG, else ~/.kcore/config.`;

const OPTIONS = {
  context: { type: "string" },
  filename: { type: "string", short: "f", multiple: true },
  output: { type: "string", short: "o" },
  watch: { type: "boolean", short: "w" },
  follow: { type: "boolean" },
  tail: { type: "string" },
  previous: { type: "boolean", short: "p" },
  timestamps: { type: "boolean" },
  for: { type: "string" },
  timeout: { type: "string" },
  wasm: { type: "string" },
  env: { type: "string", short: "e", multiple: true },
  labels: { type: "string", short: "l", multiple: true },
  restart: { type: "string" },
  memory: { type: "string" },
  cpu: { type: "string" },
  controller: { type: "string" },
  force: { type: "boolean" },
  "data-dir": { type: "string" },
  csr: { type: "string" },
  "out-dir": { type: "string" },
  state: { type: "string" },
  node: { type: "string" },
  role: { type: "string" },
  since: { type: "string" },
  limit: { type: "string" },
  out: { type: "string" },
  ttl: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === "")
    throw new KcoreError("InvalidArgument", `${what} is required`);
  return value;
}

/** Runs kctl with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const dashdash = argv.indexOf("--");
  const own = dashdash < 0 ? argv : argv.slice(0, dashdash);
  const trailing = dashdash < 0 ? [] : argv.slice(dashdash + 1);
  // `logs -f` means follow, as in kubectl; everywhere else -f is a file.
  const isLogs = own[0] === "logs";
  const args = isLogs ? own.map((a) => (a === "-f" ? "--follow" : a)) : [...own];
  try {
    const { values: f, positionals: pos } = parseArgs({
      args,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    const flags = f.context === undefined ? {} : { context: f.context };
    const [verb, a1, a2, a3] = pos;
    if (f.help === true || verb === undefined || verb === "help") {
      out.line(USAGE);
      return 0;
    }
    switch (verb) {
      case "create":
        if (a1 === "user") {
          const { createUser } = await import("./commands/create-user.js");
          await createUser(
            need(a2, "NAME"),
            {
              role: need(f.role, "--role"),
              ...(f.out === undefined ? {} : { out: f.out }),
              force: f.force ?? false,
            },
            flags,
          );
          return 0;
        }
        if (a1 !== "cluster")
          throw new KcoreError(
            "InvalidArgument",
            "usage: kctl create cluster --controller HOST:PORT | kctl create user NAME --role admin|viewer",
          );
        // The PKI library is loaded only for this command: it is slow to import.
        const { createCluster } = await import("./commands/create-cluster.js");
        await createCluster({
          controller: need(f.controller, "--controller"),
          context: f.context ?? "default",
          force: f.force ?? false,
          dataDir: f["data-dir"] ?? defaultDataDir(),
        });
        return 0;
      case "apply":
        await apply(f.filename ?? [], flags);
        return 0;
      case "get":
        await get(resolveKind(a1), a2, parseOutputFormat(f.output), f.watch ?? false, flags);
        return 0;
      case "describe":
        await describe(resolveKind(a1), need(a2, "NAME"), flags);
        return 0;
      case "delete":
        await deleteResources(
          a1 === undefined ? undefined : resolveKind(a1),
          pos.slice(2),
          f.filename ?? [],
          flags,
        );
        return 0;
      case "logs":
        await logs(
          need(a1, "NAME"),
          {
            follow: f.follow ?? false,
            previous: f.previous ?? false,
            timestamps: f.timestamps ?? false,
            ...(f.tail === undefined ? {} : { tail: parseTail(f.tail) }),
          },
          flags,
        );
        return 0;
      case "wait":
        await wait(
          resolveKind(a1),
          need(a2, "NAME"),
          parseCondition(need(f.for, "--for")),
          parseDuration("--timeout", f.timeout ?? "30s"),
          flags,
        );
        return 0;
      case "run":
        await run(
          need(a1, "NAME"),
          {
            wasm: need(f.wasm, "--wasm"),
            args: trailing,
            env: f.env ?? [],
            labels: f.labels ?? [],
            ...(f.restart === undefined ? {} : { restart: f.restart }),
            ...(f.memory === undefined ? {} : { memory: f.memory }),
            ...(f.cpu === undefined ? {} : { cpu: f.cpu }),
          },
          flags,
        );
        return 0;
      case "certificate":
      case "cert":
        switch (a1) {
          case "sign":
            await signNodeCsr(need(f.csr, "--csr"), need(f["out-dir"], "--out-dir"), flags);
            return 0;
          case "list":
            await listCertificates(parseOutputFormat(f.output), flags);
            return 0;
          case "revoke":
            await revokeCertificate(need(a2, "SERIAL"), flags);
            return 0;
          case undefined:
          default:
            throw new KcoreError(
              "InvalidArgument",
              "usage: kctl certificate sign --csr FILE --out-dir DIR | list | revoke SERIAL",
            );
        }
      case "node":
        if (a1 === "token") {
          if (a2 !== "create") throw new KcoreError("InvalidArgument", NODE_USAGE);
          await createJoinToken(f.ttl, flags);
          return 0;
        }
        await nodeCommand(a1, need(a2, "NAME"), flags);
        return 0;
      case "rotate":
        if (a1 !== "intermediate" && a1 !== "controller")
          throw new KcoreError("InvalidArgument", "usage: kctl rotate intermediate|controller");
        await rotate(a1, flags);
        return 0;
      case "version":
        await version(flags);
        return 0;
      case "set":
        if (a1 === undefined || resolveKind(a1) !== "VM")
          throw new KcoreError(
            "InvalidArgument",
            "usage: kctl set vm NAME --state Running|Stopped",
          );
        await setVmState(need(a2, "NAME"), need(f.state, "--state"), flags);
        return 0;
      case "audit":
        await audit(
          {
            format: parseOutputFormat(f.output),
            ...(f.since === undefined ? {} : { since: f.since }),
            ...(f.limit === undefined ? {} : { limit: parseLimit(f.limit) }),
          },
          flags,
        );
        return 0;
      case "render":
        if (a1 !== "nix")
          throw new KcoreError("InvalidArgument", "usage: kctl render nix --node NAME");
        await renderNix(need(f.node, "--node"), flags);
        return 0;
      case "console":
        if (a1 === undefined || resolveKind(a1) !== "VM")
          throw new KcoreError("InvalidArgument", "usage: kctl console vm NAME");
        await consoleVm(need(a2, "NAME"), flags);
        return 0;
      default:
        throw new KcoreError(
          "InvalidArgument",
          `unknown command ${JSON.stringify(verb)}${a3 === undefined ? "" : ""}; see kctl --help`,
        );
    }
  } catch (e) {
    out.error(e instanceof Error ? (e.message.split("\n")[0] ?? "") : String(e));
    return 1;
  }
}

function parseLimit(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 10_000)
    throw new KcoreError(
      "InvalidArgument",
      `--limit: expected a whole number from 1 to 10000, got ${JSON.stringify(v)}`,
    );
  return n;
}

function parseTail(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < -1)
    throw new KcoreError(
      "InvalidArgument",
      `--tail: expected a whole number, got ${JSON.stringify(v)}`,
    );
  return n;
}
