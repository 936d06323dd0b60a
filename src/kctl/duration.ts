import { KcoreError } from "../domain/errors.js";

/** Parses "90s", "5m", "1h", "30d", "500ms" or plain seconds into milliseconds. */
export function parseDuration(field: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value);
  if (!m)
    throw new KcoreError(
      "InvalidArgument",
      `${field}: invalid duration ${JSON.stringify(value)} (e.g. 30s, 5m, 1h, 30d, 500ms)`,
    );
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const scale =
    unit === "ms"
      ? 1
      : unit === "s"
        ? 1000
        : unit === "m"
          ? 60_000
          : unit === "h"
            ? 3_600_000
            : 86_400_000;
  return Math.round(n * scale);
}
