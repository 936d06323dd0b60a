import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO } from "./fixtures.js";
import type { TestCluster } from "./cluster.js";

/** A `kctl console vm NAME` session driven by a test. */
export interface ConsoleSession {
  /** Everything the console printed so far. */
  output(): string;
  write(input: string): void;
  /** Sends Ctrl-] and resolves with kctl's exit code. */
  detach(): Promise<number | null>;
}

/** Starts `kctl console vm NAME` and gives it a moment to attach. */
export async function attachConsole(c: TestCluster, vm: string): Promise<ConsoleSession> {
  const child = spawn(join(REPO, "bin", "kctl"), ["console", "vm", vm], {
    env: { ...process.env, ...c.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on("exit", r));
  await new Promise((r) => setTimeout(r, 1000));
  return {
    output: () => out,
    write: (input) => child.stdin.write(input),
    detach: () => {
      child.stdin.write(Buffer.from([0x1d]));
      return exited;
    },
  };
}
