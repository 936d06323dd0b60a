import { KcoreError } from "../domain/errors.js";
import { parseDuration } from "../kctl/duration.js";

/** Waits for SIGINT or SIGTERM, then runs `stop`; a second signal exits at once. */
export function untilSignal(stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write(`\nkcore: ${sig}: shutting down (running workloads keep running)\n`);
      stop().then(
        () => {
          resolve(0);
        },
        () => {
          resolve(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

export function durationFlag(name: string, value: string | undefined, fallbackMs: number): number {
  return value === undefined ? fallbackMs : parseDuration(`--${name}`, value);
}

/** Plain decimal notation only: no hex, exponents, blanks or an empty value. */
const DECIMAL = /^-?\d+(\.\d+)?$/;

function boundedNumber(
  name: string,
  value: string,
  min: number,
  max: number,
  whole: boolean,
): number {
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max) || (whole && !Number.isInteger(n)))
    throw new KcoreError(
      "InvalidArgument",
      `--${name}: expected ${whole ? "a whole number" : "a number"} from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  return n;
}

/** A decimal number flag within [min, max], or `fallback` when absent. */
export function numberFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  return value === undefined ? fallback : boundedNumber(name, value, min, max, false);
}

/** A whole-number flag within [min, max], or `fallback` when absent. */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  return value === undefined ? fallback : boundedNumber(name, value, min, max, true);
}

export function labelsFlag(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined || value === "") return out;
  for (const pair of value.split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0)
      throw new KcoreError(
        "InvalidArgument",
        `--labels: expected k=v[,k=v], got ${JSON.stringify(pair)}`,
      );
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
