import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";

/** Which cgroup interface this host offers, if any. */
export type Cgroups =
  | { readonly kind: "v2"; readonly root: string }
  | { readonly kind: "v1"; readonly cpuRoot: string; readonly memoryRoot: string }
  | { readonly kind: "none"; readonly reason: string };

/** Memory a module's process needs beyond its module's linear memory (Node itself). */
export const PROCESS_OVERHEAD_BYTES = 160 * 1024 * 1024;

/** Finds a writable cgroup hierarchy and creates kcore's parent group in it. */
export function detectCgroups(logger: Logger, base = "/sys/fs/cgroup"): Cgroups {
  try {
    if (existsSync(join(base, "cgroup.controllers"))) {
      const root = join(base, "kcore");
      mkdirSync(root, { recursive: true });
      try {
        writeFileSync(join(base, "cgroup.subtree_control"), "+cpu +memory");
        writeFileSync(join(root, "cgroup.subtree_control"), "+cpu +memory");
      } catch (e) {
        logger.warn({ err: e }, "cannot enable cgroup v2 cpu and memory controllers");
      }
      return { kind: "v2", root };
    }
    if (existsSync(join(base, "memory")) && existsSync(join(base, "cpu"))) {
      const cpuRoot = join(base, "cpu", "kcore");
      const memoryRoot = join(base, "memory", "kcore");
      mkdirSync(cpuRoot, { recursive: true });
      mkdirSync(memoryRoot, { recursive: true });
      return { kind: "v1", cpuRoot, memoryRoot };
    }
    return { kind: "none", reason: `no cgroup hierarchy under ${base}` };
  } catch (e) {
    return { kind: "none", reason: e instanceof Error ? e.message : String(e) };
  }
}

export interface GroupLimits {
  readonly memoryBytes?: number;
  readonly cpuMillis?: number;
}

/** Creates the group of one workload run and returns the cgroup.procs files to join. */
export function createGroup(cg: Cgroups, id: string, limits: GroupLimits): string[] {
  const periodUs = 100_000;
  switch (cg.kind) {
    case "none":
      return [];
    case "v2": {
      const dir = join(cg.root, id);
      mkdirSync(dir, { recursive: true });
      if (limits.memoryBytes !== undefined)
        writeFileSync(join(dir, "memory.max"), String(limits.memoryBytes + PROCESS_OVERHEAD_BYTES));
      if (limits.cpuMillis !== undefined)
        writeFileSync(
          join(dir, "cpu.max"),
          `${Math.max(1000, (limits.cpuMillis * periodUs) / 1000)} ${periodUs}`,
        );
      return [join(dir, "cgroup.procs")];
    }
    case "v1": {
      const cpu = join(cg.cpuRoot, id);
      const mem = join(cg.memoryRoot, id);
      mkdirSync(cpu, { recursive: true });
      mkdirSync(mem, { recursive: true });
      if (limits.memoryBytes !== undefined)
        writeFileSync(
          join(mem, "memory.limit_in_bytes"),
          String(limits.memoryBytes + PROCESS_OVERHEAD_BYTES),
        );
      if (limits.cpuMillis !== undefined) {
        writeFileSync(join(cpu, "cpu.cfs_period_us"), String(periodUs));
        writeFileSync(
          join(cpu, "cpu.cfs_quota_us"),
          String(Math.max(1000, (limits.cpuMillis * periodUs) / 1000)),
        );
      }
      return [join(cpu, "cgroup.procs"), join(mem, "cgroup.procs")];
    }
  }
}

/** True when the kernel's OOM killer killed a process of the group. */
export function wasOomKilled(cg: Cgroups, id: string): boolean {
  const count = (file: string): number => {
    try {
      return Number(/^oom_kill (\d+)$/m.exec(readFileSync(file, "utf8"))?.[1] ?? "0");
    } catch {
      return 0;
    }
  };
  switch (cg.kind) {
    case "none":
      return false;
    case "v2":
      return count(join(cg.root, id, "memory.events")) > 0;
    case "v1":
      return count(join(cg.memoryRoot, id, "memory.oom_control")) > 0;
  }
}

/** Removes a run's group once its processes are gone. */
export function removeGroup(cg: Cgroups, id: string): void {
  const dirs =
    cg.kind === "v2"
      ? [join(cg.root, id)]
      : cg.kind === "v1"
        ? [join(cg.cpuRoot, id), join(cg.memoryRoot, id)]
        : [];
  for (const d of dirs) {
    try {
      rmdirSync(d);
    } catch {
      // still busy or already gone: removed on a later pass
    }
  }
}
