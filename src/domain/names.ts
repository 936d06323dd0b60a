import { InvalidFieldError, showValue } from "./errors.js";

declare const safeName: unique symbol;
/** A DNS label ([a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63): safe in paths, Nix attribute names and logs. */
export type SafeName = string & { readonly [safeName]: true };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** True when `value` is a DNS label of at most 63 characters. */
export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_LABEL.test(value);
}

/** Parses a resource or volume name; the error names `field`. */
export function parseName(field: string, value: unknown): SafeName {
  if (typeof value !== "string" || !isDnsLabel(value)) {
    throw new InvalidFieldError(
      field,
      `invalid name ${showValue(value)}: must be a DNS label ([a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters)`,
    );
  }
  return value as SafeName;
}

declare const sha256Brand: unique symbol;
/** A lowercase 64-hex SHA-256 digest. */
export type Sha256 = string & { readonly [sha256Brand]: true };

export function isSha256(value: string): value is Sha256 {
  return /^[0-9a-f]{64}$/.test(value);
}

export function parseSha256(field: string, value: unknown): Sha256 {
  if (typeof value !== "string" || !isSha256(value)) {
    throw new InvalidFieldError(
      field,
      `invalid sha256 ${showValue(value)}: must be 64 lowercase hex digits`,
    );
  }
  return value;
}

/** Label keys: an optional DNS-subdomain prefix and a name, as in Kubernetes. */
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function parseLabels(
  field: string,
  value: Readonly<Record<string, string>>,
): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(value).sort()) {
    const v = value[key] ?? "";
    if (key.length > 253 || !LABEL_KEY.test(key)) {
      throw new InvalidFieldError(`${field}.${key}`, `invalid label key ${showValue(key)}`);
    }
    if (!LABEL_VALUE.test(v)) {
      throw new InvalidFieldError(`${field}.${key}`, `invalid label value ${showValue(v)}`);
    }
    out[key] = v;
  }
  return out;
}
