/**
 * One WebAssembly module's process. Started detached by the agent, it outlives the agent: it
 * writes its own logs and records its own exit, so nothing is lost while no agent is running.
 * Usage: node runner-main.js <spec.json>
 */
import { appendFileSync, openSync, readFileSync } from "node:fs";
import { WASI } from "node:wasi";
import { capMemory, WASM_PAGE_BYTES } from "../domain/wasm-memory-cap.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { LogWriter, type LogStream } from "./log-writer.js";
import { guardReadOnly, type WasiImports } from "./readonly-guard.js";
import { TRAP_EXIT_CODE, type RunnerExit, type RunnerSpec } from "./runner-spec.js";

const ERRNO_SUCCESS = 0;
const ERRNO_FAULT = 21;

function main(specPath: string): number {
  const spec = JSON.parse(readFileSync(specPath, "utf8")) as RunnerSpec;
  // What `ps` shows for this module (a warm runner's command line says nothing about it).
  process.title = `kcore-wasm ${spec.workload} ${specPath}`;
  for (const procs of spec.cgroupProcs) appendFileSync(procs, `${process.pid}\n`);
  // A stray SIGTERM must not end the module: only the agent decides, with SIGKILL at the end of
  // the grace period (see wasm-launcher.ts). Node cannot ignore a signal outright; a no-op
  // handler is the closest.
  process.on("SIGTERM", () => undefined);
  const startedAt = new Date().toISOString();
  const log = new LogWriter(spec.logPath, spec.maxLogBytes);
  const finish = (exit: Omit<RunnerExit, "startedAt" | "finishedAt">): number => {
    log.close();
    const record: RunnerExit = { ...exit, startedAt, finishedAt: new Date().toISOString() };
    // Atomic, not fsynced: it must survive this process, and a machine crash ends the module anyway.
    writeFileAtomic(spec.exitPath, JSON.stringify(record), 0o644, { fsync: false });
    return exit.exitCode;
  };

  let bytes: Uint8Array = readFileSync(spec.modulePath);
  let limitPages: number | undefined;
  if (spec.memoryLimitBytes !== undefined) {
    const capped = capMemory(bytes, spec.memoryLimitBytes);
    switch (capped.kind) {
      case "capped":
        bytes = capped.bytes;
        limitPages = capped.maxPages;
        break;
      case "no-memory":
        break;
      case "too-small":
        log.write(
          "stderr",
          Buffer.from(
            `kcore: module needs ${capped.minPages * 64} KiB of memory at start, above its limit of ${capped.limitPages * 64} KiB\n`,
          ),
        );
        return finish({
          exitCode: 137,
          reason: "OOMKilled",
          message: "initial memory exceeds resources.limits.memory",
        });
      case "invalid":
        log.write("stderr", Buffer.from(`kcore: invalid module: ${capped.message}\n`));
        return finish({
          exitCode: 1,
          reason: "Error",
          message: `invalid module: ${capped.message}`,
        });
    }
  }

  const devNull = openSync("/dev/null", "r+");
  const preopens: Record<string, string> = {};
  const readOnlyFds: number[] = [];
  spec.preopens.forEach((p, i) => {
    preopens[p.guest] = p.host;
    if (p.readOnly) readOnlyFds.push(3 + i); // node:wasi numbers preopens from fd 3 in order
  });
  const wasi = new WASI({
    version: "preview1",
    args: [spec.workload, ...spec.args],
    env: spec.env,
    preopens,
    stdin: devNull,
    stdout: devNull,
    stderr: devNull,
    returnOnExit: true,
  });
  // Filled in once the instance exists; WASI calls only happen after that.
  const exported: { memory?: WebAssembly.Memory } = {};
  const mem = (): WebAssembly.Memory => {
    if (!exported.memory) throw new Error("module has no memory export");
    return exported.memory;
  };
  const base = (wasi.getImportObject() as { wasi_snapshot_preview1: unknown })
    .wasi_snapshot_preview1 as WasiImports;
  const guarded = guardReadOnly(base, readOnlyFds, mem);
  const streams: Record<number, LogStream> = { 1: "stdout", 2: "stderr" };
  const imports: WasiImports = {
    ...guarded,
    fd_write: (fd: number, iovs: number, iovsLen: number, nwritten: number): number => {
      const stream = streams[fd];
      if (stream === undefined)
        return (guarded.fd_write as unknown as (...a: number[]) => number)(
          fd,
          iovs,
          iovsLen,
          nwritten,
        );
      try {
        const view = new DataView(mem().buffer);
        let total = 0;
        for (let i = 0; i < iovsLen; i++) {
          const ptr = view.getUint32(iovs + i * 8, true);
          const len = view.getUint32(iovs + i * 8 + 4, true);
          log.write(stream, new Uint8Array(mem().buffer, ptr, len));
          total += len;
        }
        view.setUint32(nwritten, total, true);
        return ERRNO_SUCCESS;
      } catch {
        return ERRNO_FAULT;
      }
    },
  };

  let instance: WebAssembly.Instance;
  try {
    const module = new WebAssembly.Module(bytes);
    instance = new WebAssembly.Instance(module, { wasi_snapshot_preview1: imports });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log.write("stderr", Buffer.from(`kcore: cannot instantiate module: ${message}\n`));
    return finish({
      exitCode: 1,
      reason: "Error",
      message: `cannot instantiate module: ${message}`,
    });
  }
  if (instance.exports.memory instanceof WebAssembly.Memory)
    exported.memory = instance.exports.memory;
  // memory.grow failing is invisible from JavaScript, so a failure is attributed to the limit when
  // the module's memory had reached it, within the last 1/16 (an allocator asks for more than a page).
  const atLimit = (): boolean => {
    if (limitPages === undefined || exported.memory === undefined) return false;
    const pages = exported.memory.buffer.byteLength / WASM_PAGE_BYTES;
    return pages >= limitPages - Math.max(1, Math.ceil(limitPages / 16));
  };
  try {
    const code = wasi.start(instance);
    if (code !== 0 && atLimit())
      return finish({
        exitCode: code,
        reason: "OOMKilled",
        message: "module exceeded resources.limits.memory",
      });
    return finish({ exitCode: code, reason: code === 0 ? "Completed" : "Error", message: "" });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (atLimit()) {
      log.write(
        "stderr",
        Buffer.from(`kcore: module stopped: memory limit reached (${message})\n`),
      );
      return finish({
        exitCode: TRAP_EXIT_CODE,
        reason: "OOMKilled",
        message: "module exceeded resources.limits.memory",
      });
    }
    log.write("stderr", Buffer.from(`kcore: module trapped: ${message}\n`));
    return finish({ exitCode: TRAP_EXIT_CODE, reason: "Error", message: `trap: ${message}` });
  }
}

/**
 * `--warm`: started ahead of need by the agent's warm pool, with an IPC channel. It says it is
 * ready, waits for one spec path, then cuts the channel (so that it outlives the agent) and runs
 * it. If the agent goes away first, the channel closes and an idle runner exits.
 */
function warm(): void {
  const send = process.send?.bind(process);
  if (!send) {
    process.stderr.write("runner-main.js --warm needs an IPC channel\n");
    process.exit(2);
  }
  let assigned = false;
  process.on("disconnect", () => {
    if (!assigned) process.exit(0);
  });
  process.on("message", (msg: unknown) => {
    const spec = (msg as { spec?: unknown } | null)?.spec;
    if (assigned || typeof spec !== "string") return;
    assigned = true;
    process.disconnect();
    process.exitCode = main(spec) & 0xff;
  });
  send({ ready: true });
}

const arg = process.argv[2];
if (arg === "--warm") warm();
else if (arg === undefined) {
  process.stderr.write("usage: runner-main.js <spec.json> | --warm\n");
  process.exit(2);
} else process.exitCode = main(arg) & 0xff;
