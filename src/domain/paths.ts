import { InvalidFieldError, showValue } from "./errors.js";

declare const absolutePath: unique symbol;
/** A normalised absolute POSIX path: no NUL, no "." or ".." segments, no empty segments. */
export type AbsolutePath = string & { readonly [absolutePath]: true };

/** Longest path accepted anywhere (Linux PATH_MAX). */
export const MAX_PATH_LENGTH = 4096;

/**
 * Parses an absolute path given by a user. This is the string half of the path gate; the
 * file-system half (symlinks, rooting) is src/util/path-gate.ts.
 */
export function parseAbsolutePath(field: string, value: string): AbsolutePath {
  const bad = (why: string): never => {
    throw new InvalidFieldError(field, `invalid path ${showValue(value)}: ${why}`);
  };
  if (value.length === 0) bad("must not be empty");
  if (value.length > MAX_PATH_LENGTH) bad(`longer than ${MAX_PATH_LENGTH} characters`);
  if (value.includes("\0")) bad("contains a NUL character");
  if (!value.startsWith("/")) bad("must be absolute");
  if (value === "/") return value as AbsolutePath;
  const segments = value.slice(1).replace(/\/$/, "").split("/");
  for (const segment of segments) {
    if (segment === "" || segment === "." || segment === "..")
      bad(`segment ${showValue(segment)} is not allowed`);
  }
  return `/${segments.join("/")}` as AbsolutePath;
}
