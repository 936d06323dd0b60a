import { Metadata, status as Status, type ServiceError } from "@grpc/grpc-js";
import { KcoreError, RateLimitedError, type ErrorCode } from "../domain/errors.js";

/** The one mapping from kcore error codes to gRPC status codes. */
export const GRPC_CODE = {
  InvalidArgument: Status.INVALID_ARGUMENT,
  NotFound: Status.NOT_FOUND,
  AlreadyExists: Status.ALREADY_EXISTS,
  FailedPrecondition: Status.FAILED_PRECONDITION,
  PermissionDenied: Status.PERMISSION_DENIED,
  Unauthenticated: Status.UNAUTHENTICATED,
  ResourceExhausted: Status.RESOURCE_EXHAUSTED,
  Unavailable: Status.UNAVAILABLE,
  DeadlineExceeded: Status.DEADLINE_EXCEEDED,
  Internal: Status.INTERNAL,
} as const satisfies Record<ErrorCode, Status>;

const FROM_GRPC = new Map<number, ErrorCode>(
  Object.entries(GRPC_CODE).map(([k, v]) => [v, k as ErrorCode]),
);

/** What a server sends for an error: known errors keep their message; others become INTERNAL. */
export function toGrpcStatus(error: unknown): {
  code: Status;
  details: string;
  known: boolean;
  metadata?: Metadata;
} {
  if (error instanceof RateLimitedError) {
    // The retry hint, machine-readable, as well as in the message.
    const metadata = new Metadata();
    metadata.set("retry-after-ms", String(error.retryAfterMs));
    return { code: GRPC_CODE[error.code], details: error.message, known: true, metadata };
  }
  if (error instanceof KcoreError)
    return { code: GRPC_CODE[error.code], details: error.message, known: true };
  return { code: Status.INTERNAL, details: "internal error", known: false };
}

/** Turns a gRPC client error back into a KcoreError with the server's message. */
export function fromGrpcError(error: unknown): KcoreError {
  if (error instanceof KcoreError) return error;
  const e = error as Partial<ServiceError>;
  if (typeof e.code === "number") {
    const code =
      FROM_GRPC.get(e.code) ?? (e.code === Status.DEADLINE_EXCEEDED ? "Unavailable" : "Internal");
    const details = e.details !== undefined && e.details !== "" ? e.details : String(e.message);
    const retry = Number(e.metadata?.get("retry-after-ms")[0] ?? Number.NaN);
    if (code === "ResourceExhausted" && Number.isInteger(retry) && retry > 0)
      return new RateLimitedError(details, retry);
    return new KcoreError(code, details, { cause: error });
  }
  return new KcoreError("Internal", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
