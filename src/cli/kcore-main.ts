import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { KcoreError } from "../domain/errors.js";
import { runAgent, initAgent } from "./run-agent.js";
import { runController } from "./run-controller.js";
import { runUp } from "./run-up.js";
import { KCORE_VERSION } from "../version.js";

const USAGE = `kcore: control plane for bare-metal machines

  kcore up [--data-dir DIR] [--controller-port N] [--agent-port N]
      an all-in-one local cluster: controller + one agent, PKI and kctl context created if missing
  kcore controller [--data-dir DIR] [--listen HOST:PORT]
  kcore agent --controller HOST:PORT [--data-dir DIR] [--listen HOST:PORT] [--advertise HOST:PORT]
              [--node-name NAME] [--labels k=v,...] [--max-workloads N] [--warm-pool N]
              [--restart-backoff-initial 10s] [--restart-backoff-max 5m] [--resync-interval 30s]
  kcore agent init --node-name NAME [--data-dir DIR]
      creates the node's key and a certificate signing request (sign it with kctl certificate sign)
  kcore version`;

const OPTIONS = {
  "data-dir": { type: "string" },
  listen: { type: "string" },
  advertise: { type: "string" },
  controller: { type: "string" },
  "node-name": { type: "string" },
  labels: { type: "string" },
  "max-workloads": { type: "string" },
  "warm-pool": { type: "string" },
  "restart-backoff-initial": { type: "string" },
  "restart-backoff-max": { type: "string" },
  "resync-interval": { type: "string" },
  "heartbeat-interval": { type: "string" },
  "controller-port": { type: "string" },
  "agent-port": { type: "string" },
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

async function main(argv: readonly string[]): Promise<number> {
  try {
    const { values: f, positionals: pos } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    const [cmd, sub] = pos;
    if (f.help === true || cmd === undefined) {
      process.stdout.write(`${USAGE}\n`);
      return cmd === undefined && f.help !== true ? 2 : 0;
    }
    switch (cmd) {
      case "up":
        return await runUp(f);
      case "controller":
        return await runController(f);
      case "agent":
        return sub === "init" ? await initAgent(f) : await runAgent(f);
      case "version":
        process.stdout.write(`kcore v${KCORE_VERSION}\n`);
        return 0;
      default:
        throw new KcoreError(
          "InvalidArgument",
          `unknown command ${JSON.stringify(cmd)}; see kcore --help`,
        );
    }
  } catch (e) {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

// Exit explicitly: pollers and client channels of a stopped daemon must not keep it alive.
process.exit(await main(process.argv.slice(2)));
