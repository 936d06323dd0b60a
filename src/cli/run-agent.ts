import { existsSync, mkdirSync } from "node:fs";
import { selectHypervisor } from "../vm/select.js";
import type { HypervisorDriver } from "../vm/driver.js";
import type { Realizer } from "../agent/agent.js";
import { join } from "node:path";
import { Agent } from "../agent/agent.js";
import { DEFAULT_BACKOFF } from "../domain/backoff.js";
import { KcoreError } from "../domain/errors.js";
import { NODE_CN_PREFIX } from "../domain/identity.js";
import { parseLabels, parseName } from "../domain/names.js";
import { CERT_FILES, certsDir, loadTls } from "../pki/cert-files.js";
import { recoverPair } from "../pki/pki-files.js";
import { joinCluster, savedControllerAddress } from "../agent/join.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { defaultDataDir, defaultRunDir } from "../util/data-dir.js";
import { durationFlag, intFlag, labelsFlag, numberFlag, untilSignal } from "./daemon.js";
import { defaultNodeName, type KcoreFlags } from "./flags.js";
import { createLogger } from "./logger.js";

/** Agent options from flags, shared by `kcore agent` and `kcore up`. */
export async function agentTuning(f: KcoreFlags): Promise<{
  backoff: typeof DEFAULT_BACKOFF;
  resyncMs: number;
  heartbeatMs: number;
  maxWorkloads: number;
  warmPool: number;
  cpuAllocationRatio: number;
  hypervisor: HypervisorDriver;
  runDir: string;
  vmStopTimeoutMs: number;
  vmPollMs: number;
  realizer: Realizer;
}> {
  const runDir = f["run-dir"] ?? defaultRunDir();
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const realizer = realizerFlags(f);
  let hypervisor = f.hypervisor ?? "auto";
  if (realizer.kind === "nixos") {
    if (hypervisor !== "auto" && hypervisor !== "cloud-hypervisor")
      throw new KcoreError(
        "InvalidArgument",
        `--hypervisor: ${JSON.stringify(hypervisor)} cannot be used with the nixos realizer, whose units run cloud-hypervisor`,
      );
    hypervisor = "cloud-hypervisor";
  }
  return {
    realizer,
    hypervisor: await selectHypervisor({
      hypervisor,
      accel: f.accel ?? "auto",
      chCommand: commandFlag(f["cloud-hypervisor"], "cloud-hypervisor"),
    }),
    runDir,
    vmStopTimeoutMs: durationFlag("vm-stop-timeout", f["vm-stop-timeout"], 30_000),
    vmPollMs: durationFlag("vm-poll-interval", f["vm-poll-interval"], 1000),
    backoff: {
      ...DEFAULT_BACKOFF,
      initialMs: durationFlag(
        "restart-backoff-initial",
        f["restart-backoff-initial"],
        DEFAULT_BACKOFF.initialMs,
      ),
      maxMs: durationFlag("restart-backoff-max", f["restart-backoff-max"], DEFAULT_BACKOFF.maxMs),
    },
    resyncMs: durationFlag("resync-interval", f["resync-interval"], 30_000),
    heartbeatMs: durationFlag("heartbeat-interval", f["heartbeat-interval"], 10_000),
    maxWorkloads: intFlag("max-workloads", f["max-workloads"], 500, 1, 100_000),
    warmPool: intFlag("warm-pool", f["warm-pool"], 2, 0, 64),
    cpuAllocationRatio: numberFlag("cpu-allocation-ratio", f["cpu-allocation-ratio"], 1, 0.1, 64),
  };
}

/** Command words of a flag like `--nixos-rebuild "sudo nixos-rebuild"`. */
function commandFlag(value: string | undefined, fallback: string): string[] {
  return (value ?? fallback).split(/\s+/).filter((x) => x !== "");
}

/** `--realizer nixos|direct|auto` (auto: nixos on a NixOS host, which has /etc/NIXOS). */
export function realizerFlags(f: KcoreFlags): Realizer {
  const want = f.realizer ?? "auto";
  if (want !== "auto" && want !== "nixos" && want !== "direct")
    throw new KcoreError(
      "InvalidArgument",
      `--realizer: invalid value ${JSON.stringify(want)}: expected nixos, direct or auto`,
    );
  const kind = want === "auto" ? (existsSync("/etc/NIXOS") ? "nixos" : "direct") : want;
  if (kind === "direct") {
    for (const flag of ["nixos-config", "nixos-rebuild"] as const)
      if (f[flag] !== undefined)
        throw new KcoreError(
          "InvalidArgument",
          `--${flag} needs the nixos realizer; this node uses direct (see --realizer)`,
        );
    return { kind };
  }
  const configFile = f["nixos-config"] ?? "/etc/nixos/kcore-vms.nix";
  if (!configFile.startsWith("/") || !configFile.endsWith(".nix"))
    throw new KcoreError(
      "InvalidArgument",
      `--nixos-config: ${JSON.stringify(configFile)} must be an absolute path to a .nix file`,
    );
  const rebuildCommand = commandFlag(f["nixos-rebuild"], "nixos-rebuild");
  if (rebuildCommand.length === 0)
    throw new KcoreError("InvalidArgument", "--nixos-rebuild: empty command");
  return { kind, configFile, rebuildCommand };
}

export async function runAgent(f: KcoreFlags): Promise<number> {
  const dataDir = f["data-dir"] ?? defaultDataDir();
  const nodeName = parseName("--node-name", f["node-name"] ?? defaultNodeName());
  const logger = createLogger(f["log-level"], "kcore-agent");
  const dir = certsDir(dataDir);
  recoverPair(dir, CERT_FILES.nodeCert, CERT_FILES.nodeKey);
  let joined: string | undefined;
  if (!existsSync(join(dir, CERT_FILES.nodeCert))) {
    if (f.join === undefined || f.token === undefined)
      throw new KcoreError(
        "FailedPrecondition",
        `no node certificate in ${dir}: join with --join HOST:PORT --token TOKEN (from 'kctl node token create'), or run 'kcore agent init' and 'kctl certificate sign' (see docs/nodes.md)`,
      );
    joined = await joinCluster({ dataDir, joinAddress: f.join, token: f.token, nodeName });
    logger.info({ controller: joined }, "joined the cluster");
  }
  const controller = f.controller ?? joined ?? savedControllerAddress(dataDir);
  if (controller === undefined)
    throw new KcoreError("InvalidArgument", "--controller HOST:PORT is required");
  const agent = new Agent({
    dataDir,
    nodeName,
    controller,
    listen: f.listen ?? "0.0.0.0:9091",
    ...(f.advertise === undefined ? {} : { advertise: f.advertise }),
    labels: parseLabels("--labels", labelsFlag(f.labels)),
    tls: loadTls(dataDir, CERT_FILES.nodeCert, CERT_FILES.nodeKey),
    logger,
    ...(f["renew-before"] === undefined
      ? {}
      : { renewBeforeMs: durationFlag("renew-before", f["renew-before"], 0) }),
    ...(await agentTuning(f)),
  });
  await agent.start();
  return untilSignal(() => agent.stop());
}

/** `kcore agent init`: the node's key and CSR, created on the node; the key never leaves it. */
export async function initAgent(f: KcoreFlags): Promise<number> {
  const dataDir = f["data-dir"] ?? defaultDataDir();
  const nodeName = parseName("--node-name", f["node-name"] ?? defaultNodeName());
  const dir = certsDir(dataDir);
  if (existsSync(join(dir, CERT_FILES.nodeKey)))
    throw new KcoreError("AlreadyExists", `${join(dir, CERT_FILES.nodeKey)} already exists`);
  const { createCsr } = await import("../pki/pki.js");
  const { csrPem, keyPem } = await createCsr(`${NODE_CN_PREFIX}${nodeName}`);
  writeFileAtomic(join(dir, CERT_FILES.nodeKey), keyPem, 0o600);
  writeFileAtomic(join(dir, "node.csr"), csrPem, 0o644);
  process.stdout.write(
    `wrote ${join(dir, CERT_FILES.nodeKey)} and ${join(dir, "node.csr")}\nnext, on an admin machine: kctl certificate sign --csr node.csr --out-dir ${dir}\n`,
  );
  return 0;
}
