import type { SafeName } from "./names.js";
/** What every resource shares. */

export const API_VERSION = "kcore.dev/v1";

export interface ObjectMeta {
  readonly name: SafeName;
  readonly labels: Readonly<Record<string, string>>;
  readonly uid: string;
  readonly generation: number;
  readonly resourceVersion: number;
  readonly creationTimestamp: string;
}

/** JSON with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([x], [y]) =>
            x < y ? -1 : x > y ? 1 : 0,
          ),
        )
      : v,
  );
}
