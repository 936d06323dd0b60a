/**
 * A Cloud Hypervisor simulator for the driver's contract tests, where the real VMM cannot run:
 * the same command line (the subset kcore uses), the same API socket lifecycle, HTTP framing,
 * states, status codes, event monitor format and serial socket semantics (BEHAVIOUR.md).
 *
 * Usage: main.js --api-socket path=SOCK [--event-monitor path=FILE] [--no-shutdown]
 *        [--sim-hang-on ENDPOINT,...] [--sim-die-on ENDPOINT,...] [--sim-guest-panic-after MS]
 *        [VM options: --kernel/--firmware, --initramfs, --cmdline, --cpus, --memory, --disk,
 *         --serial, --console, --net, --pvpanic: the VM is created and booted at start-up]
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { vmConfigFromArgs } from "./cli-config.js";
import { frame, serveConnection } from "./http.js";
import { loadRoutes } from "./spec.js";
import { Vmm } from "./vmm.js";

const MAX_CONNECTIONS = 10;
const SERIAL_RING_BYTES = 64 * 1024;

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

function pathOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /(?:^|,)path=([^,]+)/.exec(value);
  return m?.[1] ?? (value.includes("=") ? undefined : value);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const args = process.argv.slice(2);
const apiSocket = pathOf(flag(args, "--api-socket"));
if (apiSocket === undefined) {
  process.stderr.write("Error: --api-socket path=... is required\n");
  process.exit(1);
}
const eventPath = pathOf(flag(args, "--event-monitor"));
const list = (v: string | undefined): Set<string> =>
  new Set((v ?? "").split(",").filter((x) => x !== ""));
const started = process.hrtime.bigint();
const panicFlag = flag(args, "--sim-guest-panic-after");
const panicAfterMs = panicFlag === undefined ? undefined : Number(panicFlag);

// v53+: a lock file next to the socket; a stale socket is removed, a live owner is an error.
const lockPath = `${apiSocket}.lock`;
if (existsSync(lockPath)) {
  const owner = Number(readFileSync(lockPath, "utf8"));
  if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) {
    process.stderr.write(`Error: API socket ${apiSocket} is in use by process ${owner}\n`);
    process.exit(1);
  }
}
writeFileSync(lockPath, String(process.pid));
if (existsSync(apiSocket)) unlinkSync(apiSocket);

const eventFd = eventPath === undefined ? undefined : openSync(eventPath, "w");
function event(source: string, name: string, properties?: Record<string, string>): void {
  if (eventFd === undefined) return;
  const ns = process.hrtime.bigint() - started;
  const e = {
    timestamp: { secs: Number(ns / 1_000_000_000n), nanos: Number(ns % 1_000_000_000n) },
    source,
    event: name,
    properties: properties ?? null,
  };
  writeSync(eventFd, `${JSON.stringify(e, null, 2)}\n\n`);
}

// The serial port: CH listens, serves one client, keeps output in a ring while none is attached.
let serialServer: Server | undefined;
let serialPath: string | undefined;
let serialClient: Socket | undefined;
let serialRing = Buffer.alloc(0);
function serialOut(text: string): void {
  const b = Buffer.from(text);
  if (serialClient && !serialClient.destroyed) serialClient.write(b);
  else serialRing = Buffer.concat([serialRing, b]).subarray(-SERIAL_RING_BYTES);
}
function closeSerial(): void {
  serialClient?.destroy();
  serialClient = undefined;
  serialServer?.close();
  serialServer = undefined;
  if (serialPath !== undefined && existsSync(serialPath)) unlinkSync(serialPath);
  serialPath = undefined;
  serialRing = Buffer.alloc(0);
}

function exit(): void {
  setImmediate(() => {
    closeSerial();
    server.close();
    if (existsSync(apiSocket ?? "")) unlinkSync(apiSocket ?? "");
    if (existsSync(lockPath)) unlinkSync(lockPath);
    if (eventFd !== undefined) closeSync(eventFd);
    process.exit(0);
  });
}

const vmm = new Vmm(
  loadRoutes().routes,
  {
    event,
    created(config) {
      const serial = config.serial as { mode?: string; socket?: string } | null | undefined;
      if (serial?.mode !== "Socket" || serial.socket === undefined) return;
      if (existsSync(serial.socket))
        throw new Error(`Error binding serial socket ${serial.socket}: Address in use`);
      if (!existsSync(dirname(serial.socket)))
        throw new Error(`Error binding serial socket ${serial.socket}: No such file or directory`);
      serialPath = serial.socket;
      serialServer = createServer((client) => {
        serialClient?.destroy(); // a new connection kicks the old one
        serialClient = client;
        if (serialRing.length > 0) client.write(serialRing);
        serialRing = Buffer.alloc(0);
        client.on("data", (d: Buffer) => {
          serialOut(d.toString("latin1").replace(/\r/g, "\r\n"));
        }); // the guest's tty echoes
        client.on("error", () => undefined);
      });
      serialServer.on("error", (e) => {
        process.stderr.write(`serial socket: ${e.message}\n`);
      });
      serialServer.on("error", (e) => {
        process.stderr.write(`serial socket: ${e.message}\n`);
      });
      serialServer.listen(serial.socket);
    },
    booted(config) {
      const payload = config.payload as { cmdline?: string } | undefined;
      serialOut(
        `[    0.000000] Linux version 6.1.0-sim (kcore cloud-hypervisor simulator)\r\n[    0.000000] Command line: ${payload?.cmdline ?? ""}\r\nRun /init as init process\r\nkcore-sim login: `,
      );
      // A guest kernel panic reaches the event monitor only through a pvpanic device.
      if (panicAfterMs !== undefined && config.pvpanic === true)
        setTimeout(() => {
          if (vmm.state !== "Running") return;
          serialOut("\r\nKernel panic - not syncing: simulated\r\n");
          event("guest", "panic", { event: "Panicked" });
        }, panicAfterMs);
    },
    tornDown() {
      closeSerial();
    },
    exit,
  },
  {
    noShutdown: args.includes("--no-shutdown"),
    hangOn: list(flag(args, "--sim-hang-on")),
    dieOn: list(flag(args, "--sim-die-on")),
  },
);

let connections = 0;
const server = createServer((socket) => {
  if (connections >= MAX_CONNECTIONS) {
    socket.end(
      frame({ status: 503, body: { error: "Too many open connections" } }, ["Connection: close"]),
    );
    return;
  }
  connections += 1;
  socket.on("close", () => {
    connections -= 1;
  });
  serveConnection(socket, (req) => vmm.handle(req));
});
server.listen(apiSocket, () => {
  event("vmm", "starting");
  void bootFromCommandLine();
});

/** With a payload on the command line, CH creates and boots that VM itself (as a unit runs it). */
async function bootFromCommandLine(): Promise<void> {
  let config: Record<string, unknown> | undefined;
  try {
    config = vmConfigFromArgs(args);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  if (config === undefined) return;
  for (const [endpoint, body] of [
    ["vm.create", Buffer.from(JSON.stringify(config))],
    ["vm.boot", undefined],
  ] as const) {
    const res = await vmm.handle({ method: "PUT", endpoint, body });
    if (res !== "hang" && res.status >= 300) {
      process.stderr.write(`Error booting VM: ${JSON.stringify(res.body)}\n`);
      process.exit(1);
    }
  }
}
process.on("SIGTERM", () => {
  exit();
});
