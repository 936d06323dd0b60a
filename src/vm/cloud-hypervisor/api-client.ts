import { connect } from "node:net";
import { KcoreError } from "../../domain/errors.js";

/** Largest response body accepted from the VMM. */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export interface ChResponse {
  readonly status: number;
  /** Parsed JSON, or undefined for an empty body. */
  readonly body: unknown;
}

/** A failed Cloud Hypervisor call: the HTTP status and CH's error chain, outermost first. */
export class CloudHypervisorError extends KcoreError {
  readonly status: number;
  readonly chain: readonly string[];
  constructor(endpoint: string, status: number, chain: readonly string[]) {
    super(
      status === 404 ? "NotFound" : status === 400 ? "InvalidArgument" : "FailedPrecondition",
      `cloud-hypervisor ${endpoint}: HTTP ${status}: ${chain.join(": ") || "(no details)"}`,
    );
    this.status = status;
    this.chain = chain;
    this.name = "CloudHypervisorError";
  }
}

/** CH's error bodies: a JSON array of strings (v47+), `{error}` for parse errors, else text. */
export function errorChain(body: Buffer): string[] {
  const text = body.toString("utf8");
  try {
    const v: unknown = JSON.parse(text);
    if (Array.isArray(v)) return v.map(String);
    if (v !== null && typeof v === "object" && typeof (v as { error?: unknown }).error === "string")
      return [(v as { error: string }).error.split("\n")[0] ?? ""];
  } catch {
    // plain text (CH before v47)
  }
  return text === "" ? [] : [text.trim()];
}

/**
 * One call to Cloud Hypervisor's REST API on its Unix socket: HTTP/1.1 with a Content-Length
 * body, a timeout, and every status handled (2xx returns, anything else throws
 * CloudHypervisorError). One connection per call, so a stuck call never blocks the next.
 */
export function chCall(
  socketPath: string,
  method: "GET" | "PUT",
  endpoint: string,
  body: unknown,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<ChResponse> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const head = [
    `${method} /api/v1/${endpoint} HTTP/1.1`,
    "Host: localhost",
    "Accept: application/json",
  ];
  if (payload) head.push("Content-Type: application/json", `Content-Length: ${payload.length}`);
  const request = Buffer.concat([
    Buffer.from(`${head.join("\r\n")}\r\n\r\n`),
    payload ?? Buffer.alloc(0),
  ]);
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      f();
    };
    const timer = setTimeout(() => {
      finish(() => {
        reject(
          new KcoreError(
            "Unavailable",
            `cloud-hypervisor ${endpoint}: no answer within ${opts.timeoutMs} ms`,
          ),
        );
      });
    }, opts.timeoutMs);
    const onAbort = (): void => {
      finish(() => {
        reject(new KcoreError("Unavailable", `cloud-hypervisor ${endpoint}: cancelled`));
      });
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => socket.write(request));
    socket.on("error", (e: NodeJS.ErrnoException) => {
      finish(() => {
        reject(
          new KcoreError(
            "Unavailable",
            `cloud-hypervisor ${endpoint}: cannot reach the API socket ${socketPath}: ${e.code ?? e.message}`,
            { cause: e },
          ),
        );
      });
    });
    socket.on("close", () => {
      finish(() => {
        reject(
          new KcoreError(
            "Unavailable",
            `cloud-hypervisor ${endpoint}: the VMM closed the connection without answering`,
          ),
        );
      });
    });
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > MAX_RESPONSE_BYTES) {
        finish(() => {
          reject(
            new KcoreError(
              "Internal",
              `cloud-hypervisor ${endpoint}: response larger than ${MAX_RESPONSE_BYTES} bytes`,
            ),
          );
        });
        return;
      }
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? NaN);
        if (!Number.isInteger(status)) {
          finish(() => {
            reject(
              new KcoreError(
                "Internal",
                `cloud-hypervisor ${endpoint}: malformed response ${JSON.stringify(lines[0] ?? "")}`,
              ),
            );
          });
          return;
        }
        if (status === 100) {
          buf = buf.subarray(end + 4);
          continue;
        } // an interim answer
        const lengthLine = lines.find((l) => /^content-length:/i.test(l));
        const length =
          lengthLine === undefined
            ? 0
            : Number(lengthLine.slice(lengthLine.indexOf(":") + 1).trim());
        if (buf.length < end + 4 + length) return;
        const raw = buf.subarray(end + 4, end + 4 + length);
        if (status >= 200 && status < 300) {
          let parsed: unknown;
          try {
            parsed = raw.length === 0 ? undefined : JSON.parse(raw.toString("utf8"));
          } catch {
            finish(() => {
              reject(
                new KcoreError(
                  "Internal",
                  `cloud-hypervisor ${endpoint}: HTTP ${status} with a body that is not JSON`,
                ),
              );
            });
            return;
          }
          finish(() => {
            resolve({ status, body: parsed });
          });
        } else {
          finish(() => {
            reject(new CloudHypervisorError(endpoint, status, errorChain(raw)));
          });
        }
        return;
      }
    });
  });
}
