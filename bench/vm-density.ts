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

/**
 * Over the window: the share of one core a process used (percent), and its median RSS sampled
 * every second (one sample would mostly measure where the garbage collector happens to be).
 */
async function usage(pid: number): Promise<{ cpu: number; rss: number }> {
  const a = cpuSeconds(pid);
  const samples: number[] = [];
  for (let t = 0; t < WINDOW_MS; t += 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    samples.push(rssOf(pid));
  }
  samples.sort((x, y) => x - y);
  return {
    cpu: ((cpuSeconds(pid) - a) / (WINDOW_MS / 1000)) * 100,
    rss: samples[samples.length >> 1] ?? NaN,
  };
}

export async function vmDensity(counts: readonly number[]): Promise<string> {
  const guest = testGuest();
  const c = await TestCluster.start([
    // Idle guests share the two cores; without overcommit two 1-cpu VMs fill the node.
    // Observed at the default interval, as in production (the test helper's is 200 ms).
    { name: "n1", args: ["--cpu-allocation-ratio", "16", "--vm-poll-interval", "1s"] },
  ]);
  try {
    await waitFor("node ready", async () => (await c.ok("get", "nodes")).includes(" Ready "));
    await new Promise((r) => setTimeout(r, 5000));
    const agent = c.daemonPid("n1") ?? NaN;
    const base = await usage(agent);
    const rows = [`| 0 | ${fmt(base.rss / MiB, 1)} | — | ${fmt(base.cpu, 2)} | — | — |`];
    // Marginal cost per guest from the previous row with guests: the row without any is taken
    // soon after start, before the heap settles, so it is shown but not subtracted.
    let prev: { n: number; rss: number; cpu: number } | undefined;
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
      const { rss, cpu } = await usage(agent);
      const qemu = c.vmPids().map(rssOf);
      const qemuAvg = qemu.reduce((a, b) => a + b, 0) / qemu.length;
      const per = (now: number, before: number, prevN: number): number =>
        (now - before) / (n - prevN);
      rows.push(
        `| ${n} | ${fmt(rss / MiB, 1)} | ${prev ? fmt(per(rss, prev.rss, prev.n) / MiB, 2) : "—"} | ${fmt(cpu, 2)} | ${prev ? fmt(per(cpu, prev.cpu, prev.n), 3) : "—"} | ${fmt(qemuAvg / MiB, 1)} |`,
      );
      prev = { n, rss, cpu };
    }
    return [
      `VM density: idle test guests (1 vCPU, 256 MiB, QEMU TCG) on one node; agent RSS (median of one sample a second) and CPU (share of one core) over ${WINDOW_MS / 1000} s once every guest is up, default --vm-poll-interval (1 s), with the hypervisor processes' RSS for scale`,
      "",
      "| guests | agent RSS MiB | agent MiB per added guest | agent CPU % | agent CPU % per added guest | qemu RSS MiB per guest |",
      "|---|---|---|---|---|---|",
      ...rows,
    ].join("\n");
  } finally {
    await c.stop();
  }
}
