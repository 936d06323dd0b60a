/** Crash-loop backoff, as the kubelet does it: 10 s doubling to 5 min, reset after 10 min of healthy running. */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 10_000,
  maxMs: 300_000,
  resetAfterMs: 600_000,
};

/**
 * Delay before restart number `restart` (1 for the first restart) given how long the last run
 * lasted. A run of at least `resetAfterMs` counts as healthy and starts the schedule again.
 */
export function backoffDelay(policy: BackoffPolicy, consecutiveFailures: number): number {
  if (consecutiveFailures <= 0) return 0;
  const exponent = Math.min(consecutiveFailures - 1, 30);
  return Math.min(policy.initialMs * 2 ** exponent, policy.maxMs);
}

/** The failure streak after a run that lasted `ranMs`: reset to 1 after a healthy run. */
export function nextStreak(policy: BackoffPolicy, previousStreak: number, ranMs: number): number {
  return ranMs >= policy.resetAfterMs ? 1 : previousStreak + 1;
}
