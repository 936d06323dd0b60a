import { spawn, type ChildProcess } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveContext } from "../../src/kctl/config.js";
import type { TlsMaterial } from "../../src/api/tls.js";
import { CH_SIM } from "./ch-sim.js";
import { REPO } from "./fixtures.js";

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A free loopback port, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => {
        resolve(typeof addr === "object" && addr ? addr.port : 0);
      });
    });
  });
}

export function run(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd ?? REPO,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const t = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

export async function waitFor<T>(
  what: string,
  f: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface Daemon {
  proc: ChildProcess;
  readonly logPath: string;
}

function startDaemon(
  args: readonly string[],
  logPath: string,
  readyText: string,
  env: NodeJS.ProcessEnv,
): Promise<Daemon> {
  const proc = spawn(join(REPO, "bin", "kcore"), args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = createWriteStream(logPath, { flags: "a" });
  proc.stdout.pipe(log);
  return new Promise((resolve, reject) => {
    let seen = "";
    const t = setTimeout(() => {
      reject(new Error(`daemon ${args.join(" ")} not ready; log: ${seen.slice(-2000)}`));
    }, 30_000);
    proc.stderr.on("data", (d: Buffer) => {
      log.write(d);
      if (!seen.includes(readyText)) {
        seen += d.toString();
        if (seen.includes(readyText)) {
          clearTimeout(t);
          resolve({ proc, logPath });
        }
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(
        new Error(`daemon ${args.join(" ")} exited with ${String(code)}: ${seen.slice(-2000)}`),
      );
    });
  });
}

export interface AgentSpec {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** More agent flags. */
  readonly args?: readonly string[];
  /** More environment for the agent. */
  readonly env?: NodeJS.ProcessEnv;
}

/** A controller and agents as separate processes, with real mTLS, in a temporary directory. */
export class TestCluster {
  readonly dir: string;
  readonly config: string;
  controllerPort = 0;
  /** The controller's join port (nodes joining with a bootstrap token). */
  joinPort = 0;
  readonly controllerDir: string;
  #controller: Daemon | undefined;
  #controllerArgs: readonly string[] = [];
  readonly #agents = new Map<
    string,
    {
      daemon: Daemon | undefined;
      port: number;
      dir: string;
      spec: AgentSpec;
      /** Joined with a bootstrap token instead of a certificate signed beforehand. */
      token?: string;
    }
  >();

  private constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "kcore-it-"));
    this.config = join(this.dir, "kctl-config");
    this.controllerDir = join(this.dir, "controller");
  }

  static async start(
    agents: readonly AgentSpec[],
    opts: { controllerArgs?: readonly string[] } = {},
  ): Promise<TestCluster> {
    const c = new TestCluster();
    c.#controllerArgs = opts.controllerArgs ?? [];
    try {
      c.controllerPort = await freePort();
      c.joinPort = await freePort();
      const created = await c.kctl(
        "create",
        "cluster",
        "--controller",
        `127.0.0.1:${c.controllerPort}`,
        "--data-dir",
        c.controllerDir,
        "--context",
        "test",
      );
      if (created.code !== 0) throw new Error(`create cluster failed: ${created.stderr}`);
      await c.startController();
      for (const a of agents) await c.addAgent(a);
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  get env(): NodeJS.ProcessEnv {
    return {
      KCTL_CONFIG: this.config,
      KCORE_LOG_LEVEL: process.env.KCORE_TEST_LOG_LEVEL ?? "debug",
    };
  }

  kctl(...args: string[]): Promise<RunResult> {
    return run(join(REPO, "bin", "kctl"), args, { env: this.env });
  }

  kctlInput(input: string, ...args: string[]): Promise<RunResult> {
    return run(join(REPO, "bin", "kctl"), args, { env: this.env, input });
  }

  /** Runs kctl and fails with its stderr unless it exits 0. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.kctl(...args);
    if (r.code !== 0) throw new Error(`kctl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  async json(
    ...args: string[]
  ): Promise<Record<string, unknown> & { status: Record<string, unknown> }> {
    return JSON.parse(await this.ok(...args, "-o", "json")) as Record<string, unknown> & {
      status: Record<string, unknown>;
    };
  }

  async startController(): Promise<void> {
    this.#controller = await startDaemon(
      [
        "controller",
        "--data-dir",
        this.controllerDir,
        "--listen",
        `127.0.0.1:${this.controllerPort}`,
        "--join-listen",
        `127.0.0.1:${this.joinPort}`,
        ...this.#controllerArgs,
      ],
      join(this.dir, "controller.log"),
      "controller serving",
      this.env,
    );
  }

  /** Creates the node's key on the node and has the cluster CA sign its request, as docs/nodes.md says. */
  async addAgent(spec: AgentSpec): Promise<void> {
    const dir = join(this.dir, `agent-${spec.name}`);
    const init = await run(join(REPO, "bin", "kcore"), [
      "agent",
      "init",
      "--node-name",
      spec.name,
      "--data-dir",
      dir,
    ]);
    if (init.code !== 0) throw new Error(`agent init failed: ${init.stderr}`);
    await this.ok(
      "certificate",
      "sign",
      "--csr",
      join(dir, "certs", "node.csr"),
      "--out-dir",
      join(dir, "certs"),
    );
    this.#agents.set(spec.name, { daemon: undefined, port: await freePort(), dir, spec });
    await this.startAgent(spec.name);
  }

  /**
   * Starts an agent that joins with a bootstrap token (`kcore agent --join --token`): it makes
   * its own key and gets its certificate from the controller's join port.
   */
  async joinAgent(spec: AgentSpec, token: string): Promise<void> {
    const dir = join(this.dir, `agent-${spec.name}`);
    this.#agents.set(spec.name, { daemon: undefined, port: await freePort(), dir, spec, token });
    await this.startAgent(spec.name);
  }

  /** The flags that make `kcore agent` join this cluster with `token`. */
  joinArgs(token: string): string[] {
    return ["--join", `127.0.0.1:${this.joinPort}`, "--token", token];
  }

  agentDir(name: string): string {
    const a = this.#agents.get(name);
    if (!a) throw new Error(`no agent ${name}`);
    return a.dir;
  }

  async startAgent(name: string): Promise<void> {
    const a = this.#agents.get(name);
    if (!a) throw new Error(`no agent ${name}`);
    const labels = Object.entries(a.spec.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    a.daemon = await startDaemon(
      [
        "agent",
        ...(a.token === undefined
          ? ["--controller", `127.0.0.1:${this.controllerPort}`]
          : this.joinArgs(a.token)),
        "--data-dir",
        a.dir,
        "--listen",
        `127.0.0.1:${a.port}`,
        "--node-name",
        name,
        ...(labels === "" ? [] : ["--labels", labels]),
        "--restart-backoff-initial",
        "1s",
        "--heartbeat-interval",
        "1s",
        "--resync-interval",
        "2s",
        "--hypervisor",
        "qemu",
        "--run-dir",
        join(a.dir, "run"),
        "--vm-poll-interval",
        "200ms",
        "--vm-stop-timeout",
        "3s",
        ...(a.spec.args ?? []),
      ],
      join(this.dir, `agent-${name}.log`),
      '"msg":"registered"',
      { ...this.env, ...a.spec.env },
    );
  }

  /** Kills a daemon without letting it clean up. */
  async kill(which: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const d = which === "controller" ? this.#controller : this.#agents.get(which)?.daemon;
    if (!d) return;
    if (d.proc.exitCode === null && d.proc.signalCode === null) {
      const exited = new Promise((r) => d.proc.once("exit", r));
      d.proc.kill(signal);
      const t = setTimeout(() => d.proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    }
    if (which === "controller") this.#controller = undefined;
    else {
      const a = this.#agents.get(which);
      if (a) a.daemon = undefined;
    }
  }

  /** The kctl admin identity of this cluster's context, for clients made in the test itself. */
  adminTls(): TlsMaterial {
    return resolveContext("test", this.config).tls;
  }

  /** The pid of the controller or of an agent, while it runs. */
  daemonPid(which: string): number | undefined {
    const d = which === "controller" ? this.#controller : this.#agents.get(which)?.daemon;
    return d?.proc.pid;
  }

  /** Pids of hypervisor processes whose files lie under this cluster's directory. */
  vmPids(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        if (/\) Z /.test(stat)) continue;
        const argv = cmd.split("\0");
        const hypervisor = (argv[0] ?? "").startsWith("qemu-system") || argv[1] === CH_SIM;
        if (hypervisor && cmd.includes(this.dir)) pids.push(Number(entry));
      } catch {
        // gone
      }
    }
    return pids;
  }

  /** Pids of module processes whose spec lies under this cluster's directory. */
  modulePids(workloadUid?: string): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        if (/\) Z /.test(stat)) continue;
        if (
          (cmd.includes("runner-main.js") || cmd.startsWith("kcore-wasm ")) &&
          cmd.includes(this.dir) &&
          (workloadUid === undefined || cmd.includes(workloadUid))
        )
          pids.push(Number(entry));
      } catch {
        // the process ended while we looked
      }
    }
    return pids;
  }

  async stop(): Promise<void> {
    for (const name of this.#agents.keys()) await this.kill(name, "SIGKILL");
    await this.kill("controller", "SIGKILL");
    for (const pid of [...this.modulePids(), ...this.vmPids()]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (existsSync(this.dir) && process.env.KCORE_KEEP_TEST_DIRS === undefined)
      rmSync(this.dir, { recursive: true, force: true });
  }
}
