/**
 * VM start: API apply → hypervisor process running, → state Running on the watch stream, and
 * → the guest's first userspace console line, against the very same qemu-system-x86_64 command
 * line (read back from /proc) started directly, in the same run. Software emulation (TCG), the
 * test guest (Debian kernel + busybox initramfs, 256 MiB).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createClient } from "../src/api/grpc-client.js";
import { clientCredentials } from "../src/api/tls.js";
import { VmService } from "../src/gen/kcore/v1/vm_pb.js";
import { qmpExecute } from "../src/vm/qemu/qmp.js";
import { TestCluster, waitFor } from "../test/helpers/cluster.js";
import { GUEST_MARKER, testGuest } from "../test/helpers/guest.js";
import { fmt, percentile } from "./lib.js";

const med = (xs: readonly number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

const hasMarker = (log: string): boolean =>
  existsSync(log) && readFileSync(log, "utf8").includes(GUEST_MARKER);

/** The argv of a running process. */
const argvOf = (pid: number): string[] =>
  readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);

/**
 * Runs kcore's qemu command line directly, with every path under the agent's directory moved
 * to a fresh directory: spawn → QMP says running, and → the guest's marker in the serial log.
 */
async function direct(
  argv: readonly string[],
  agentDir: string,
): Promise<{ runningMs: number; markerMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), "kcore-bench-direct-"));
  try {
    const moved = argv.map((a) => a.split(agentDir).join(dir));
    for (const a of moved)
      for (const m of a.matchAll(new RegExp(`${dir}[^,\\s]*`, "g")))
        mkdirSync(dirname(m[0]), { recursive: true });
    const qmp = /unix:([^,]+)/.exec(moved[moved.indexOf("-qmp") + 1] ?? "")?.[1] ?? "";
    const log = /logfile=([^,]+)/.exec(moved.join(" "))?.[1] ?? "";
    const t0 = performance.now();
    const child = spawn(moved[0] ?? "qemu-system-x86_64", moved.slice(1), { stdio: "ignore" });
    const exited = new Promise((r) => child.once("exit", r));
    let runningMs = NaN;
    await waitFor(
      "qemu to run the guest",
      async () => {
        if (!existsSync(qmp)) return false;
        try {
          const [status] = await qmpExecute(qmp, [{ execute: "query-status" }], 1000);
          return (status as { status?: string }).status === "running";
        } catch {
          return false;
        }
      },
      30_000,
      1,
    );
    runningMs = performance.now() - t0;
    await waitFor("the guest's marker", () => hasMarker(log), 120_000, 5);
    const markerMs = performance.now() - t0;
    child.kill("SIGKILL");
    await exited;
    return { runningMs, markerMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function vmStart(runs: number): Promise<string> {
  const guest = testGuest();
  // The default observation interval, as in production (the test helper's is 200 ms).
  const c = await TestCluster.start([{ name: "n1", args: ["--vm-poll-interval", "1s"] }]);
  try {
    const api = createClient(
      VmService,
      `127.0.0.1:${c.controllerPort}`,
      clientCredentials(c.adminTls(), "controller"),
    );
    await waitFor("node ready", async () => (await c.ok("get", "nodes")).includes(" Ready "));
    const running = new Map<string, () => void>();
    const ac = new AbortController();
    const watching = (async () => {
      for await (const e of api.watchVms({}, { signal: ac.signal }))
        if (e.vm?.status?.state === "Running") running.get(e.vm.metadata?.name ?? "")?.();
    })().catch(() => undefined);

    const k = { proc: [] as number[], running: [] as number[], marker: [] as number[] };
    const d = { running: [] as number[], marker: [] as number[] };
    const dir = c.agentDir("n1");
    for (let i = -1; i < runs; i++) {
      const name = `boot-${i + 1}`;
      const isRunning = new Promise<void>((r) => running.set(name, r));
      const t0 = performance.now();
      const res = await api.applyVm({
        vm: {
          metadata: { name },
          spec: {
            cpus: 1,
            memory: "256Mi",
            boot: { kernel: guest.kernel, initrd: guest.initrd, cmdline: "console=ttyS0 quiet" },
          },
        },
      });
      const uid = res.vm?.metadata?.uid ?? "";
      const pid = await waitFor("the hypervisor process", () => c.vmPids()[0], 30_000, 1);
      const procMs = performance.now() - t0;
      await isRunning;
      const runningMs = performance.now() - t0;
      const log = join(dir, "logs", `vm_${name}_${uid}`, "console.log");
      await waitFor("the guest's marker", () => hasMarker(log), 120_000, 5);
      const markerMs = performance.now() - t0;
      const argv = argvOf(pid);
      await api.deleteVm({ name });
      await waitFor("the VM to go", () => c.vmPids().length === 0, 30_000, 20);
      const plain = await direct(argv, dir);
      if (i >= 0) {
        k.proc.push(procMs);
        k.running.push(runningMs);
        k.marker.push(markerMs);
        d.running.push(plain.runningMs);
        d.marker.push(plain.markerMs);
      }
    }
    ac.abort();
    await watching;
    api.close();
    return [
      `VM start: test guest (Debian kernel + busybox initramfs, 1 vCPU, 256 MiB, QEMU TCG), median of ${runs} runs each, kcore (controller and agent as separate processes, gRPC apply) against the same qemu-system-x86_64 command line started directly`,
      "",
      "| measure | kcore ms | direct qemu ms | ratio (kcore/direct) |",
      "|---|---|---|---|",
      `| apply → hypervisor process exists | ${fmt(med(k.proc))} | — | — |`,
      `| apply → Running (watch) vs spawn → QMP status running | ${fmt(med(k.running))} | ${fmt(med(d.running))} | ${fmt(med(k.running) / med(d.running))} |`,
      `| apply → first userspace console line vs spawn → same line | ${fmt(med(k.marker))} | ${fmt(med(d.marker))} | ${fmt(med(k.marker) / med(d.marker))} |`,
    ].join("\n");
  } finally {
    await c.stop();
  }
}
