/**
 * Density: memory of idle (sleeping) modules at 10 and 100 per node, RSS and PSS per module
 * process, and the idle RSS of the agent and the controller, against a bare `node` process.
 */
import { spawn } from "node:child_process";
import { stringify } from "yaml";
import { memoryOf } from "../src/util/processes.js";
import { buildCModule } from "../test/helpers/fixtures.js";
import { TestCluster, waitFor } from "../test/helpers/cluster.js";
import { fmt, rssOf } from "./lib.js";

const MiB = 1024 * 1024;

async function bareNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 5000)"], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 800));
  const rss = rssOf(child.pid);
  child.kill();
  return rss;
}

export async function density(counts: readonly number[]): Promise<string> {
  const probe = buildCModule("probe");
  const c = await TestCluster.start([{ name: "n1" }]);
  try {
    await waitFor("node ready", async () => (await c.ok("get", "nodes")).includes(" Ready "));
    await new Promise((r) => setTimeout(r, 2000));
    const idle = {
      agent: rssOf(c.daemonPid("n1")),
      controller: rssOf(c.daemonPid("controller")),
      node: await bareNodeRss(),
    };
    const rows: string[] = [];
    let applied = 0;
    for (const n of counts) {
      const docs: string[] = [];
      for (; applied < n; applied++) {
        docs.push(
          stringify({
            apiVersion: "kcore.dev/v1",
            kind: "WasmWorkload",
            metadata: { name: `idle-${applied}` },
            spec: {
              module: { path: probe },
              args: ["sleep", "3600"],
              resources: { limits: { memory: "16Mi" } },
            },
          }),
        );
      }
      const r = await c.kctlInput(docs.join("---\n"), "apply", "-f", "-");
      if (r.code !== 0) throw new Error(r.stderr);
      await waitFor(`${n} modules running`, () => c.modulePids().length >= n, 300_000, 500);
      await new Promise((r2) => setTimeout(r2, 3000));
      const mems = c
        .modulePids()
        .map((p) => memoryOf(p))
        .filter((m): m is { rss: number; pss: number } => m !== undefined);
      const rss = mems.reduce((s, m) => s + m.rss, 0) / mems.length;
      const pss = mems.reduce((s, m) => s + m.pss, 0) / mems.length;
      rows.push(
        `| ${n} | ${fmt(rss / MiB, 1)} | ${fmt(pss / MiB, 1)} | ${fmt(rssOf(c.daemonPid("n1")) / MiB, 1)} |`,
      );
    }
    return [
      "Density: sleeping C modules (16Mi limit each) on one node; per module process, and the agent alongside",
      "",
      "| modules | RSS per module MiB | PSS per module MiB | agent RSS MiB |",
      "|---|---|---|---|",
      ...rows,
      "",
      `Idle daemons: agent ${fmt(idle.agent / MiB, 1)} MiB RSS, controller ${fmt(idle.controller / MiB, 1)} MiB RSS; a bare \`node\` process ${fmt(idle.node / MiB, 1)} MiB (ratios ${fmt(idle.agent / idle.node)} and ${fmt(idle.controller / idle.node)}).`,
    ].join("\n");
  } finally {
    await c.stop();
  }
}
