import type { DescService } from "@bufbuild/protobuf";
import {
  status as Status,
  type Server,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { AUDITED } from "../domain/authz.js";
import { KcoreError, RateLimitedError } from "../domain/errors.js";
import type { Identity } from "../domain/identity.js";
import { auditedCall, codeName, type GateAudit } from "./gate-audit.js";
import { checkLimits, DEFAULT_LIMITS, type GateLimits } from "./limits.js";
import { grpcServiceDefinition, methodPath, type Req, type ResInit } from "./grpc-service.js";
import { toGrpcStatus } from "./grpc-errors.js";
import type { Peers } from "./peers.js";
import { admit, limitKey, peerIdentity, type AnyCall, type Peer } from "./gate-admit.js";

/** What a handler knows about its call: who, and until when. */
export interface CallContext {
  readonly identity: Identity;
  /** The caller's certificate. */
  readonly peer: Peer;
  readonly method: string;
  /** Aborted when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
}

type Unary<M> = (req: Req<M>, ctx: CallContext) => Promise<ResInit<M>>;
type ServerStream<M> = (
  req: Req<M>,
  ctx: CallContext,
  send: (msg: ResInit<M>) => void,
) => Promise<void>;

type BidiStream<M> = (
  requests: AsyncIterable<Req<M>>,
  ctx: CallContext,
  send: (msg: ResInit<M>) => void,
) => Promise<void>;

/** Handlers for every method of a service, typed from its generated descriptor. */
export type ServiceImpl<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends { methodKind: "unary" }
    ? Unary<S["method"][K]>
    : S["method"][K] extends { methodKind: "server_streaming" }
      ? ServerStream<S["method"][K]>
      : S["method"][K] extends { methodKind: "bidi_streaming" }
        ? BidiStream<S["method"][K]>
        : never;
};

/** Most messages a server stream may have queued for a client that does not read. */
export const MAX_STREAM_BACKLOG = 10_000;

/** Resolves when `signal` aborts: the end of a long-lived stream. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener(
      "abort",
      () => {
        resolve();
      },
      { once: true },
    );
  });
}

export type { AuditedCall, GateAudit } from "./gate-audit.js";
export type { Peer } from "./gate-admit.js";
export { gateLimits, type GateLimits } from "./limits.js";

/** Observes every call once it ends (metrics, audit). */
export type CallObserver = (method: string, code: Status, seconds: number) => void;

/** Observes the time a call spent being admitted: identity, revocation, table, limits. */
export type AdmissionObserver = (method: string, seconds: number) => void;

export interface GateOptions {
  readonly logger: Logger;
  readonly observe?: CallObserver;
  readonly observeAdmission?: AdmissionObserver;
  /** Records the calls the table marks as audited. */
  readonly audit?: GateAudit;
  /** Rate, stream and deadline limits, shared by every service of one server. */
  readonly limits?: GateLimits;
  /** Revoked serials, and the connections to close when one is revoked. */
  readonly peers?: Peers;
}

/** Registers a service with every method behind the gate. */
export function addGatedService<S extends DescService>(
  server: Server,
  service: S,
  impl: ServiceImpl<S>,
  opts: GateOptions,
): void {
  const handlers: UntypedServiceImplementation = {};
  const byName = impl as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const m of service.methods) {
    const path = methodPath(service, m.name);
    const fn = byName[m.localName];
    if (fn === undefined) throw new Error(`No handler for ${path}`);
    const fail = (error: unknown): { code: Status; details: string } => {
      const s = toGrpcStatus(error);
      if (!s.known) opts.logger.error({ err: error, method: path }, "call failed");
      return s;
    };
    if (m.methodKind === "unary") {
      handlers[m.localName] = (
        call: ServerUnaryCall<unknown, unknown>,
        callback: sendUnaryData<unknown>,
      ) => {
        const started = process.hrtime.bigint();
        // Created only when a handler asks for it: aborting creates a DOMException, which is
        // costly, and grpc-js reports "cancelled" at the end of most unary calls.
        let ac: AbortController | undefined;
        let cancelled = false;
        call.on("cancelled", () => {
          cancelled = true;
          ac?.abort();
        });
        const done = (code: Status): void =>
          opts.observe?.(path, code, Number(process.hrtime.bigint() - started) / 1e9);
        const audit = opts.audit && AUDITED.has(path) ? opts.audit : undefined;
        let identity: Identity;
        let peer: Peer;
        try {
          peer = admit(path, call, opts.peers);
          identity = peer.identity;
          checkLimits(path, limitKey(identity, call), call.request, opts.limits);
          opts.observeAdmission?.(path, Number(process.hrtime.bigint() - started) / 1e9);
        } catch (e) {
          const s = fail(e);
          // A flood of rate-limited calls is not written to the audit log one by one.
          if (!(e instanceof RateLimitedError))
            audit?.refused(
              auditedCall(path, peerIdentity(call), call.request),
              Status[s.code],
              s.details,
            );
          done(s.code);
          callback(s);
          return;
        }
        // Every unary call ends by its deadline: the client's, capped, or the default.
        let answered = false;
        const settings = opts.limits?.settings ?? DEFAULT_LIMITS;
        const asked = call.getDeadline();
        const askedMs = asked instanceof Date ? asked.getTime() : asked;
        const now = Date.now();
        const deadline = Number.isFinite(askedMs)
          ? Math.min(askedMs, now + settings.maxDeadlineMs)
          : now + settings.defaultDeadlineMs;
        const deadlineTimer = setTimeout(
          () => {
            if (answered) return;
            answered = true;
            cancelled = true;
            ac?.abort();
            done(Status.DEADLINE_EXCEEDED);
            callback({
              code: Status.DEADLINE_EXCEEDED,
              details: `${path} did not finish within its deadline of ${deadline - now} ms`,
            });
          },
          Math.max(0, deadline - now),
        );
        // An async wrapper turns a synchronous throw in a handler into a rejection.
        const ctx: CallContext = {
          identity,
          peer,
          method: path,
          get signal(): AbortSignal {
            ac ??= new AbortController();
            if (cancelled) ac.abort();
            return ac.signal;
          },
        };
        const run = async (): Promise<unknown> => fn(call.request, ctx);
        (audit
          ? audit.record(auditedCall(path, identity, call.request), run, codeName)
          : run()
        ).then(
          (res) => {
            clearTimeout(deadlineTimer);
            if (answered) return;
            answered = true;
            done(Status.OK);
            callback(null, res);
          },
          (e: unknown) => {
            clearTimeout(deadlineTimer);
            if (answered) return;
            answered = true;
            const s = fail(e);
            done(s.code);
            callback(s);
          },
        );
      };
    } else if (m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming") {
      const bidi = m.methodKind === "bidi_streaming";
      handlers[m.localName] = (
        call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
      ) => {
        const started = process.hrtime.bigint();
        const ac = new AbortController();
        call.on("cancelled", () => {
          ac.abort();
        });
        call.on("close", () => {
          ac.abort();
        });
        const done = (code: Status): void =>
          opts.observe?.(path, code, Number(process.hrtime.bigint() - started) / 1e9);
        const audit = opts.audit && AUDITED.has(path) ? opts.audit : undefined;
        const request = bidi ? undefined : (call as ServerWritableStream<unknown, unknown>).request;
        let identity: Identity;
        let peer: Peer;
        try {
          peer = admit(path, call, opts.peers);
          identity = peer.identity;
          checkLimits(path, limitKey(identity, call), request, opts.limits);
          if (opts.limits && !opts.limits.streams.open(limitKey(identity, call)))
            throw new KcoreError(
              "ResourceExhausted",
              `${limitKey(identity, call)} has ${opts.limits.settings.maxStreams} streams open, the most one identity may: close one first`,
            );
        } catch (e) {
          const s = fail(e);
          if (!(e instanceof RateLimitedError))
            audit?.refused(
              auditedCall(path, peerIdentity(call), request),
              Status[s.code],
              s.details,
            );
          done(s.code);
          call.emit("error", s);
          return;
        }
        if (opts.limits) {
          const { streams } = opts.limits;
          const key = limitKey(identity, call);
          ac.signal.addEventListener(
            "abort",
            () => {
              streams.close(key);
            },
            { once: true },
          );
        }
        const send = (msg: unknown): void => {
          if (ac.signal.aborted) return;
          call.write(msg);
          // A client that stops reading must not make the server buffer without bound.
          if (call.writableLength > MAX_STREAM_BACKLOG) {
            const s = {
              code: Status.RESOURCE_EXHAUSTED,
              details: `stream closed: the client left ${MAX_STREAM_BACKLOG} messages unread`,
            };
            call.emit("error", s);
            ac.abort();
          }
        };
        const run = async (): Promise<unknown> =>
          fn(bidi ? call : request, { identity, peer, method: path, signal: ac.signal }, send);
        (audit ? audit.record(auditedCall(path, identity, request), run, codeName) : run()).then(
          () => {
            done(Status.OK);
            if (!ac.signal.aborted) call.end();
            ac.abort(); // the stream is over: its slot is free
          },
          (e: unknown) => {
            const s = fail(e);
            done(s.code);
            if (!ac.signal.aborted) call.emit("error", s);
            ac.abort();
          },
        );
      };
    } else {
      throw new Error(`Unsupported method kind ${m.methodKind} for ${path}`);
    }
  }
  server.addService(grpcServiceDefinition(service), handlers);
}

/**
 * Puts a handler written directly against grpc-js (server reflection) behind the same
 * authorisation check. Only the identity check applies: such handlers have no node field.
 */
export function gateRawHandler(
  path: string,
  handler: unknown,
  opts: GateOptions,
): (call: AnyCall & { emit(e: string, s: unknown): void }, cb?: (e: unknown) => void) => void {
  return (call, cb) => {
    try {
      admit(path, call, opts.peers);
    } catch (e) {
      const s = toGrpcStatus(e);
      opts.observe?.(path, s.code, 0);
      if (cb) cb(s);
      else call.emit("error", s);
      return;
    }
    (handler as (c: unknown, cb?: unknown) => void)(call, cb);
  };
}
