/**
 * Limits every gated call is held to: a request size per method, a rate per identity, a number
 * of open streams per identity, and a deadline for unary calls. One place, so that a new method
 * gets the defaults and a test can list them.
 */

import { KcoreError, RateLimitedError } from "../domain/errors.js";
import { requestSize } from "./grpc-service.js";

const MiB = 1024 * 1024;

/** Most bytes a request message may have, by method; everything else gets the default. */
export const MAX_REQUEST_BYTES: Readonly<Record<string, number>> = {
  "/kcore.v1.ModuleService/UploadModule": 16 * MiB,
  "/kcore.v1.WasmWorkloadService/ApplyWasmWorkload": 4 * MiB,
  "/kcore.v1.VmService/ApplyVm": 4 * MiB,
  "/kcore.v1.AgentService/ReportWorkloadStatus": 8 * MiB,
  "/kcore.v1.AgentService/ReportVmStatus": 8 * MiB,
};
export const DEFAULT_MAX_REQUEST_BYTES = 1 * MiB;

export function maxRequestBytes(method: string): number {
  return Object.hasOwn(MAX_REQUEST_BYTES, method)
    ? (MAX_REQUEST_BYTES[method] ?? DEFAULT_MAX_REQUEST_BYTES)
    : DEFAULT_MAX_REQUEST_BYTES;
}

export interface LimitSettings {
  /** Calls per second per identity, sustained. */
  readonly ratePerSecond: number;
  /** Calls an identity may make at once above the rate. */
  readonly burst: number;
  /** Streaming calls one identity may have open. */
  readonly maxStreams: number;
  /** A unary call without a deadline gets this one. */
  readonly defaultDeadlineMs: number;
  /** No unary call runs longer than this, whatever deadline it asked for. */
  readonly maxDeadlineMs: number;
}

export const DEFAULT_LIMITS: LimitSettings = {
  ratePerSecond: 2000,
  burst: 4000,
  maxStreams: 128,
  defaultDeadlineMs: 30_000,
  maxDeadlineMs: 300_000,
};

/**
 * Token buckets by identity: each holds up to `burst` calls and refills at `ratePerSecond`.
 * A refused call learns how long until one call is allowed again.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(ratePerSecond: number, burst: number, now: () => number = () => performance.now()) {
    this.#rate = ratePerSecond;
    this.#burst = Math.max(1, burst);
    this.#now = now;
  }

  /** Takes one call for `key`: 0 when allowed, else the milliseconds until it would be. */
  take(key: string): number {
    const now = this.#now();
    const b = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) * this.#rate) / 1000);
    b.at = now;
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / this.#rate);
  }

  /** Forgets buckets that have refilled (bounded memory with many identities). */
  sweep(): void {
    const now = this.#now();
    for (const [k, b] of this.#buckets)
      if (b.tokens + ((now - b.at) * this.#rate) / 1000 >= this.#burst) this.#buckets.delete(k);
  }
}

/** Open streaming calls by identity. */
export class StreamCounter {
  readonly #max: number;
  readonly #open = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Counts one more stream for `key`, or returns false when it has the most it may. */
  open(key: string): boolean {
    const n = this.#open.get(key) ?? 0;
    if (n >= this.#max) return false;
    this.#open.set(key, n + 1);
    return true;
  }

  close(key: string): void {
    const n = (this.#open.get(key) ?? 1) - 1;
    if (n <= 0) this.#open.delete(key);
    else this.#open.set(key, n);
  }
}

/** The limits' state for one server. */
export interface GateLimits {
  readonly settings: LimitSettings;
  readonly rate: RateLimiter;
  readonly streams: StreamCounter;
}

export function gateLimits(settings: LimitSettings = DEFAULT_LIMITS): GateLimits {
  return {
    settings,
    rate: new RateLimiter(settings.ratePerSecond, settings.burst),
    streams: new StreamCounter(settings.maxStreams),
  };
}

/** The request-size and rate limits, checked once the caller is known and allowed. */
export function checkLimits(
  method: string,
  who: string,
  request: unknown,
  limits: GateLimits | undefined,
): void {
  const size = requestSize(request);
  const max = maxRequestBytes(method);
  if (size > max)
    throw new KcoreError(
      "ResourceExhausted",
      `request of ${size} bytes is larger than the ${max}-byte limit of ${method}`,
    );
  if (!limits) return;
  const wait = limits.rate.take(who);
  if (wait > 0)
    throw new RateLimitedError(
      `rate limit: ${who} may make ${limits.settings.ratePerSecond} calls/s (burst ${limits.settings.burst}); retry after ${wait} ms`,
      wait,
    );
}
