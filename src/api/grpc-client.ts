import type { DescService } from "@bufbuild/protobuf";
import {
  makeGenericClientConstructor,
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ServiceError,
} from "@grpc/grpc-js";
import { grpcServiceDefinition, type ReqInit, type Res } from "./grpc-service.js";
import { fromGrpcError } from "./grpc-errors.js";

export interface CallOpts {
  readonly signal?: AbortSignal;
  /** Milliseconds from now. */
  readonly timeoutMs?: number;
}

type UnaryCall<M> = (req: ReqInit<M>, opts?: CallOpts) => Promise<Res<M>>;
type StreamCall<M> = (req: ReqInit<M>, opts?: CallOpts) => AsyncIterable<Res<M>>;

/** An open bidirectional stream: write requests, iterate responses. */
export interface BidiCall<M> extends AsyncIterable<Res<M>> {
  write(req: ReqInit<M>): void;
  /** No more requests. */
  end(): void;
}

/** A typed client: unary methods return promises, server streams are async iterables. */
export type ServiceClient<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends { methodKind: "unary" }
    ? UnaryCall<S["method"][K]>
    : S["method"][K] extends { methodKind: "server_streaming" }
      ? StreamCall<S["method"][K]>
      : S["method"][K] extends { methodKind: "bidi_streaming" }
        ? (opts?: CallOpts) => BidiCall<S["method"][K]>
        : never;
} & { close(): void };

/** Limits every client shares: one message at most 16 MiB, matching the servers. */
export const CLIENT_OPTIONS = {
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  // Server identity is checked by CN (src/api/tls.ts), not host name; a fixed TLS server name
  // also avoids sending an IP address as SNI, which RFC 6066 forbids.
  "grpc.ssl_target_name_override": "kcore",
  "grpc.default_authority": "kcore",
} as const;

type RawUnary = (
  req: unknown,
  options: CallOptions,
  cb: (e: ServiceError | null, res?: unknown) => void,
) => { cancel(): void };
type RawStream = (req: unknown, options: CallOptions) => ClientReadableStream<unknown>;
type RawBidi = (options: CallOptions) => ClientDuplexStream<unknown, unknown>;

/** Creates a typed client of `service` at `address` (host:port), over the given credentials. */
export function createClient<S extends DescService>(
  service: S,
  address: string,
  creds: ChannelCredentials,
  channel?: Client,
): ServiceClient<S> {
  const Ctor = makeGenericClientConstructor(grpcServiceDefinition(service), service.typeName);
  const raw = channel
    ? new Ctor(address, creds, { channelOverride: channel.getChannel() })
    : new Ctor(address, creds, CLIENT_OPTIONS);
  const rawMethods = raw as unknown as Record<string, RawUnary | RawStream | RawBidi>;
  const out: Record<string, unknown> = {
    close: () => {
      raw.close();
    },
  };
  for (const m of service.methods) {
    const fn = rawMethods[m.localName];
    if (fn === undefined) throw new Error(`client has no ${m.localName}`);
    const options = (opts?: CallOpts): CallOptions =>
      opts?.timeoutMs === undefined ? {} : { deadline: new Date(Date.now() + opts.timeoutMs) };
    if (m.methodKind === "unary") {
      out[m.localName] = (req: unknown, opts?: CallOpts) =>
        new Promise((resolve, reject) => {
          const cb = (e: ServiceError | null, res?: unknown): void => {
            if (e) reject(fromGrpcError(e));
            else resolve(res);
          };
          const call = (fn as RawUnary).call(raw, req, options(opts), cb);
          opts?.signal?.addEventListener(
            "abort",
            () => {
              call.cancel();
            },
            { once: true },
          );
        });
    } else if (m.methodKind === "server_streaming") {
      out[m.localName] = (req: unknown, opts?: CallOpts) => ({
        async *[Symbol.asyncIterator]() {
          const call = (fn as RawStream).call(raw, req, options(opts));
          const onAbort = (): void => {
            call.cancel();
          };
          opts?.signal?.addEventListener("abort", onAbort, { once: true });
          try {
            for await (const msg of call) yield msg;
          } catch (e) {
            if (opts?.signal?.aborted === true) return;
            throw fromGrpcError(e);
          } finally {
            opts?.signal?.removeEventListener("abort", onAbort);
            call.cancel();
          }
        },
      });
    } else if (m.methodKind === "bidi_streaming") {
      out[m.localName] = (opts?: CallOpts) => {
        const call = (fn as RawBidi).call(raw, options(opts));
        const onAbort = (): void => {
          call.cancel();
        };
        opts?.signal?.addEventListener("abort", onAbort, { once: true });
        return {
          write: (req: unknown) => call.write(req),
          end: () => call.end(),
          async *[Symbol.asyncIterator]() {
            try {
              for await (const msg of call) yield msg;
            } catch (e) {
              if (opts?.signal?.aborted === true) return;
              throw fromGrpcError(e);
            } finally {
              opts?.signal?.removeEventListener("abort", onAbort);
              call.cancel();
            }
          },
        };
      };
    }
  }
  return out as ServiceClient<S>;
}
