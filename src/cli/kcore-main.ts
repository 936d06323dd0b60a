import { parseArgs } from "node:util";
import { KcoreError } from "../domain/errors.js";
import { OPTIONS } from "./flags.js";
import { KCORE_VERSION } from "../version.js";

const USAGE = `kcore: control plane for bare-metal machines

  kcore up [--data-dir DIR] [--controller-port N] [--agent-port N]
      an all-in-one local cluster: controller + one agent, PKI and kctl context created if missing
  kcore controller [--data-dir DIR] [--listen HOST:PORT] [--join-listen HOST:PORT|off]
              [--require-approval] [--node-cert-ttl 365d] [--rate-limit N] [--rate-burst N]
              [--max-streams N] [--default-deadline 30s] [--max-deadline 5m]
      SIGHUP reloads the certificates and revocations from the data directory
  kcore agent --join HOST:JOIN-PORT --token TOKEN [--node-name NAME] [--data-dir DIR] ...
      joins with a token from 'kctl node token create' (first start), then runs as below
  kcore agent [--controller HOST:PORT] [--data-dir DIR] [--listen HOST:PORT] [--advertise HOST:PORT]
              [--renew-before DURATION]
              [--node-name NAME] [--labels k=v,...] [--max-workloads N] [--warm-pool N]
              [--restart-backoff-initial 10s] [--restart-backoff-max 5m] [--resync-interval 30s]
              [--hypervisor cloud-hypervisor|qemu|auto] [--accel kvm|tcg|auto] [--run-dir DIR]
              [--cloud-hypervisor CMD] [--vm-stop-timeout 30s] [--vm-poll-interval 1s]
              [--cpu-allocation-ratio 1]
  kcore agent init --node-name NAME [--data-dir DIR]
      creates the node's key and a certificate signing request (sign it with kctl certificate sign)
  kcore admin-credentials --name NAME --controller HOST:PORT --out FILE [--data-dir DIR]
      recovery: a new admin kctl config from the CA on the controller's machine
  kcore version`;

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
      // Each command loads only what it needs: a daemon's memory is what it imports.
      case "up":
        return await (await import("./run-up.js")).runUp(f);
      case "controller":
        return await (await import("./run-controller.js")).runController(f);
      case "agent": {
        const agent = await import("./run-agent.js");
        return sub === "init" ? await agent.initAgent(f) : await agent.runAgent(f);
      }
      case "admin-credentials":
        return await (await import("./admin-credentials.js")).adminCredentials(f);
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
