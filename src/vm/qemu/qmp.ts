import { connect } from "node:net";
import { KcoreError } from "../../domain/errors.js";

/** Largest QMP reply accepted. */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;

export class QmpError extends KcoreError {
  readonly qmpClass: string;
  constructor(command: string, qmpClass: string, desc: string) {
    super("FailedPrecondition", `qemu ${command}: ${qmpClass}: ${desc}`);
    this.qmpClass = qmpClass;
    this.name = "QmpError";
  }
}

/**
 * Runs QMP commands on QEMU's control socket: reads the greeting, negotiates capabilities,
 * sends each command and waits for its reply (skipping asynchronous events), all within
 * `timeoutMs`. One connection per call, so a wedged call never blocks the next one.
 */
export function qmpExecute(
  socketPath: string,
  commands: readonly { execute: string; arguments?: Record<string, unknown> }[],
  timeoutMs: number,
): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const replies: unknown[] = [];
    let buf = "";
    let greeted = false;
    let sent = -1; // -1: capabilities not yet negotiated
    const label = commands.map((c) => c.execute).join(",");
    const timer = setTimeout(() => {
      fail(new KcoreError("DeadlineExceeded", `qemu ${label}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    const sendNext = (): void => {
      const c = sent < 0 ? { execute: "qmp_capabilities" } : commands[sent];
      if (c === undefined) {
        clearTimeout(timer);
        sock.end();
        resolve(replies);
        return;
      }
      sock.write(`${JSON.stringify(c)}\n`);
    };
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REPLY_BYTES) {
        fail(
          new KcoreError("Internal", `qemu ${label}: reply larger than ${MAX_REPLY_BYTES} bytes`),
        );
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === "") continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          fail(new KcoreError("Internal", `qemu ${label}: not JSON: ${line.slice(0, 200)}`));
          return;
        }
        if ("QMP" in msg && !greeted) {
          greeted = true;
          sendNext();
        } else if ("event" in msg) {
          continue;
        } else if ("return" in msg || "error" in msg) {
          if ("error" in msg) {
            const e = msg.error as { class?: string; desc?: string };
            const cmd = sent < 0 ? "qmp_capabilities" : (commands[sent]?.execute ?? "?");
            fail(new QmpError(cmd, e.class ?? "GenericError", e.desc ?? ""));
            return;
          }
          if (sent >= 0) replies.push(msg.return);
          sent += 1;
          sendNext();
        }
      }
    });
    sock.on("error", (e) => {
      fail(new KcoreError("Unavailable", `qemu ${label}: ${e.message}`));
    });
    sock.on("close", () => {
      // "quit" closes the socket right after its reply; anything earlier is a failure.
      if (sent >= 0 && sent >= commands.length) return;
      const last = commands[commands.length - 1];
      if (last?.execute === "quit" && sent === commands.length - 1) {
        clearTimeout(timer);
        resolve(replies);
        return;
      }
      fail(new KcoreError("Unavailable", `qemu ${label}: connection closed`));
    });
  });
}
