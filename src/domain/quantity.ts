import { InvalidFieldError, showValue } from "./errors.js";

const BINARY: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
};
const DECIMAL: Readonly<Record<string, number>> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
};
const QUANTITY = /^(\d+)(?:\.(\d+))?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P|m)?$/;

/** Largest byte count accepted: 2^53 - 1, so that every value is an exact JS number. */
export const MAX_BYTES = Number.MAX_SAFE_INTEGER;

function exact(
  field: string,
  value: string,
  whole: string,
  fraction: string,
  scale: number,
): number {
  // Work in integers: whole * scale + fraction * scale / 10^len, which must be integral.
  const denominator = 10n ** BigInt(fraction.length);
  const numerator =
    (BigInt(whole) * denominator + BigInt(fraction === "" ? "0" : fraction)) * BigInt(scale);
  if (numerator % denominator !== 0n) {
    throw new InvalidFieldError(
      field,
      `invalid quantity ${showValue(value)}: not a whole number of units`,
    );
  }
  const result = numerator / denominator;
  if (result > BigInt(MAX_BYTES)) {
    throw new InvalidFieldError(field, `invalid quantity ${showValue(value)}: too large`);
  }
  return Number(result);
}

/** Parses a memory quantity ("64Mi", "1G", "1048576") into bytes. */
export function parseMemory(field: string, value: string): number {
  const m = QUANTITY.exec(value);
  const unit = m?.[3] ?? "";
  const scale = BINARY[unit] ?? DECIMAL[unit];
  if (!m || scale === undefined) {
    throw new InvalidFieldError(
      field,
      `invalid memory quantity ${showValue(value)}: expected a number with an optional suffix Ki, Mi, Gi, Ti, k, M, G, T (e.g. "64Mi")`,
    );
  }
  return exact(field, value, m[1] ?? "0", m[2] ?? "", scale);
}

/** Parses a CPU quantity ("500m", "2", "0.5") into milli-CPUs. */
export function parseCpu(field: string, value: string): number {
  const m = QUANTITY.exec(value);
  const unit = m?.[3] ?? "";
  if (!m || (unit !== "" && unit !== "m")) {
    throw new InvalidFieldError(
      field,
      `invalid cpu quantity ${showValue(value)}: expected cores ("2", "0.5") or millicores ("500m")`,
    );
  }
  return exact(field, value, m[1] ?? "0", m[2] ?? "", unit === "m" ? 1 : 1000);
}

/** Formats bytes with the largest binary suffix that divides them exactly ("64Mi"). */
export function formatMemory(bytes: number): string {
  for (const unit of ["Pi", "Ti", "Gi", "Mi", "Ki"] as const) {
    const scale = BINARY[unit] ?? 1;
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return String(bytes);
}

/** Formats milli-CPUs as cores when whole ("2"), else millicores ("500m"). */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}
