/** Stable error codes; mapped to gRPC status codes in one table (src/api/grpc-errors.ts). */
export type ErrorCode =
  | "InvalidArgument"
  | "NotFound"
  | "AlreadyExists"
  | "FailedPrecondition"
  | "PermissionDenied"
  | "Unauthenticated"
  | "ResourceExhausted"
  | "Unavailable"
  | "DeadlineExceeded"
  | "Internal";

/** The one base error of kcore: a stable code, a message for humans, the cause kept. */
export class KcoreError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "KcoreError";
  }
}

/** Bad input: names the field path and the offending value. */
export class InvalidFieldError extends KcoreError {
  readonly field: string;
  constructor(field: string, message: string) {
    super("InvalidArgument", `${field}: ${message}`);
    this.field = field;
    this.name = "InvalidFieldError";
  }
}

export class NotFoundError extends KcoreError {
  constructor(kind: string, name: string) {
    super("NotFound", `${kind} '${name}' not found`);
    this.name = "NotFoundError";
  }
}

export class PermissionDeniedError extends KcoreError {
  constructor(message: string) {
    super("PermissionDenied", message);
    this.name = "PermissionDeniedError";
  }
}

/** Renders a user-supplied value for an error message: quoted, truncated, control characters escaped. */
export function showValue(value: unknown): string {
  const text = (JSON.stringify(value) as string | undefined) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Too many calls: `retryAfterMs` says when one would be accepted. */
export class RateLimitedError extends KcoreError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super("ResourceExhausted", message);
    this.retryAfterMs = retryAfterMs;
    this.name = "RateLimitedError";
  }
}
