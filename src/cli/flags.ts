import { hostname } from "node:os";
import type { parseArgs } from "node:util";

/** Flags of every kcore command. */
export const OPTIONS = {
  "data-dir": { type: "string" },
  listen: { type: "string" },
  advertise: { type: "string" },
  controller: { type: "string" },
  "node-name": { type: "string" },
  labels: { type: "string" },
  "max-workloads": { type: "string" },
  "warm-pool": { type: "string" },
  "cpu-allocation-ratio": { type: "string" },
  hypervisor: { type: "string" },
  accel: { type: "string" },
  "run-dir": { type: "string" },
  "cloud-hypervisor": { type: "string" },
  realizer: { type: "string" },
  "nixos-config": { type: "string" },
  "nixos-rebuild": { type: "string" },
  "vm-stop-timeout": { type: "string" },
  "vm-poll-interval": { type: "string" },
  "restart-backoff-initial": { type: "string" },
  "restart-backoff-max": { type: "string" },
  "resync-interval": { type: "string" },
  "heartbeat-interval": { type: "string" },
  "controller-port": { type: "string" },
  "rate-limit": { type: "string" },
  "rate-burst": { type: "string" },
  "max-streams": { type: "string" },
  "default-deadline": { type: "string" },
  "max-deadline": { type: "string" },
  "agent-port": { type: "string" },
  "join-listen": { type: "string" },
  "require-approval": { type: "boolean" },
  "node-cert-ttl": { type: "string" },
  join: { type: "string" },
  token: { type: "string" },
  "renew-before": { type: "string" },
  name: { type: "string" },
  out: { type: "string" },
  "log-level": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export type KcoreFlags = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>["values"];

/** A DNS label from this machine's host name, for the default node name. */
export function defaultNodeName(): string {
  const n =
    hostname()
      .toLowerCase()
      .split(".")[0]
      ?.replace(/[^a-z0-9-]/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 63) ?? "";
  return n === "" ? "node" : n;
}
