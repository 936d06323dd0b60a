/**
 * VM density: the agent's memory and CPU with 0, 1, 5 and 20 idle guests (the test guest under
 * QEMU TCG, 1 vCPU and 256 MiB each), and what each hypervisor process holds, for scale.
 */
import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { TestCluster, waitFor } from "../test/helpers/cluster.js";
import { GUEST_MARKER, testGuest } from "../test/helpers/guest.js";
import { fmt, rssOf } from "./lib.js";

const MiB = 1024 * 1024;
const TICKS_PER_S = 100;
const WINDOW_MS = 10_000;

/** User plus system CPU time of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** The share of one core a process used over the window, in percent. */
async function cpuPercent(pid: number): Promise<number> {
  const a = cpuSeconds(pid);
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  return ((cpuSeconds(pid) - a) / (WINDOW_MS / 1000)) * 100;
}

export async function vmDensity(counts: readonly number[]): Promise<string> {
  const guest = testGuest();
  const c = await TestCluster.start([
    // Idle guests share the two cores; without overcommit two 1-cpu VMs fill the node.
    { name: "n1", args: ["--cpu-allocation-ratio", "16"] },
  ]);
  try {
    await waitFor("node ready", async () => (await c.ok("get", "nodes")).includes(" Ready "));
    await new Promise((r) => setTimeout(r, 2000));
    const agent = c.daemonPid("n1") ?? NaN;
    const base = { rss: rssOf(agent), cpu: await cpuPercent(agent) };
    const rows = [`| 0 | ${fmt(base.rss / MiB, 1)} | — | ${fmt(base.cpu, 2)} | — | — |`];
    let applied = 0;
    for (const n of counts) {
      const docs: string[] = [];
      for (; applied < n; applied++)
        docs.push(
          stringify({
            apiVersion: "kcore.dev/v1",
            kind: "VM",
            metadata: { name: `idle-${applied}` },
            spec: {
              cpus: 1,
              memory: "256Mi",
              boot: { kernel: guest.kernel, initrd: guest.initrd, cmdline: "console=ttyS0 quiet" },
            },
          }),
        );
      const r = await c.kctlInput(docs.join("---\n"), "apply", "-f", "-");
      if (r.code !== 0) throw new Error(r.stderr);
      await waitFor(
        `${n} guests up`,
        async () => {
          const logs = await Promise.all(
            Array.from({ length: n }, (_, i) => c.kctl("logs", `vm/idle-${i}`)),
          );
          return logs.every((l) => l.stdout.includes(GUEST_MARKER));
        },
        600_000,
        2000,
      );
      await new Promise((r) => setTimeout(r, 5000));
      const rss = rssOf(agent);
      const cpu = await cpuPercent(agent);
      const qemu = c.vmPids().map(rssOf);
      const qemuAvg = qemu.reduce((a, b) => a + b, 0) / qemu.length;
      rows.push(
        `| ${n} | ${fmt(rss / MiB, 1)} | ${fmt((rss - base.rss) / n / MiB, 2)} | ${fmt(cpu, 2)} | ${fmt((cpu - base.cpu) / n, 3)} | ${fmt(qemuAvg / MiB, 1)} |`,
      );
    }
    return [
      `VM density: idle test guests (1 vCPU, 256 MiB, QEMU TCG) on one node; agent RSS after 5 s idle and agent CPU over ${WINDOW_MS / 1000} s (share of one core), with the hypervisor processes' RSS for scale`,
      "",
      "| guests | agent RSS MiB | agent MiB per guest (over 0) | agent CPU % | agent CPU % per guest | qemu RSS MiB per guest |",
      "|---|---|---|---|---|---|",
      ...rows,
    ].join("\n");
  } finally {
    await c.stop();
  }
}
