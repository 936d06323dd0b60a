/**
 * HTTP/1.x as Cloud Hypervisor's micro-http speaks it on the API socket (BEHAVIOUR.md §4):
 * Content-Length-only bodies, exact response framing with an empty reason phrase, keep-alive,
 * parse errors as a non-array JSON body.
 */
import type { Socket } from "node:net";

export interface SimRequest {
  readonly method: string;
  /** The path after `/api/v1/`, e.g. `vm.info`; `undefined` for a path outside the API. */
  readonly endpoint: string | undefined;
  readonly body: Buffer | undefined;
}

export interface SimResponse {
  readonly status: number;
  /** Serialised as JSON; absent for 204 and for an empty 200 (vmm.shutdown). */
  readonly body?: unknown;
}

export const MAX_BODY_BYTES = 4 * 1024 * 1024;
const METHODS = new Set(["GET", "PUT", "PATCH", "DELETE"]);

/** Bytes of one response, framed exactly as CH frames them. */
export function frame(res: SimResponse, extraHeaders: readonly string[] = []): Buffer {
  const lines = [
    `HTTP/1.1 ${res.status} `,
    "Server: Cloud Hypervisor API",
    "Connection: keep-alive",
    ...extraHeaders,
  ];
  if (res.status === 204) return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`);
  const body = res.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(res.body));
  lines.push("Content-Type: application/json", `Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`), body]);
}

function parseError(message: string): SimResponse {
  return {
    status: 400,
    body: { error: `${message}\nAll previous unanswered requests will be dropped.` },
  };
}

type Parsed =
  | { readonly kind: "request"; readonly req: SimRequest; readonly used: number }
  | { readonly kind: "error"; readonly res: SimResponse }
  | { readonly kind: "incomplete"; readonly expectContinue: boolean };

/** Parses one request from the front of `buf`. */
export function parseRequest(buf: Buffer): Parsed {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return { kind: "incomplete", expectContinue: false };
  const head = buf.subarray(0, end).toString("latin1").split("\r\n");
  const [method = "", target = "", version = ""] = (head[0] ?? "").split(" ");
  if (!METHODS.has(method))
    return { kind: "error", res: parseError(`Invalid HTTP method: ${method}`) };
  if (!/^HTTP\/1\.[01]$/.test(version))
    return { kind: "error", res: parseError("Invalid HTTP version") };
  let length = 0;
  let chunked = false;
  let expectContinue = false;
  for (const line of head.slice(1)) {
    const colon = line.indexOf(":");
    if (colon < 0) return { kind: "error", res: parseError("Invalid header") };
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      if (!/^\d+$/.test(value)) return { kind: "error", res: parseError("Invalid content length") };
      length = Number(value);
    } else if (name === "transfer-encoding" && value.toLowerCase() === "chunked") {
      chunked = true; // recognised, never de-chunked: the body is taken as empty
    } else if (name === "expect" && value.toLowerCase() === "100-continue") {
      expectContinue = true;
    }
  }
  if (chunked) length = 0;
  if (length > MAX_BODY_BYTES)
    return { kind: "error", res: parseError("Request payload too large") };
  const total = end + 4 + length;
  if (buf.length < total) return { kind: "incomplete", expectContinue };
  if ((method === "GET" || method === "DELETE") && length > 0)
    return { kind: "error", res: parseError("GET and DELETE requests cannot have a body") };
  const path = target.replace(/^http:\/\/[^/]*/, "");
  const endpoint = path.startsWith("/api/v1/") ? path.slice("/api/v1/".length) : undefined;
  return {
    kind: "request",
    req: { method, endpoint, body: length > 0 ? buf.subarray(end + 4, total) : undefined },
    used: total,
  };
}

/** Serves one connection, one request after another, like the VMM thread. */
export function serveConnection(
  socket: Socket,
  handle: (req: SimRequest) => Promise<SimResponse | "hang">,
): void {
  let buf = Buffer.alloc(0);
  let busy = false;
  let continued = false;
  const pump = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      for (;;) {
        const p = parseRequest(buf);
        if (p.kind === "incomplete") {
          if (p.expectContinue && !continued) {
            continued = true;
            socket.write("HTTP/1.1 100 \r\n\r\n");
          }
          return;
        }
        if (p.kind === "error") {
          buf = Buffer.alloc(0);
          socket.write(frame(p.res));
          return;
        }
        buf = buf.subarray(p.used);
        continued = false;
        const res = await handle(p.req);
        if (res === "hang") return; // a VMM stuck in a call: never answers
        if (!socket.destroyed) socket.write(frame(res));
      }
    } finally {
      busy = false;
    }
  };
  socket.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    void pump();
  });
  socket.on("error", () => undefined);
}
