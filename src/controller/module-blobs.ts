import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KcoreError, NotFoundError } from "../domain/errors.js";
import { isSha256, type Sha256 } from "../domain/names.js";
import { writeFileAtomic } from "../util/atomic-file.js";

/** Largest module accepted by upload (the gRPC message limit leaves room for framing). */
export const MAX_MODULE_BYTES = 15 * 1024 * 1024;

/** WebAssembly binaries start with "\0asm" and version 1. */
export function looksLikeWasm(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 8 &&
    bytes[0] === 0 &&
    bytes[1] === 0x61 &&
    bytes[2] === 0x73 &&
    bytes[3] === 0x6d &&
    bytes[4] === 1
  );
}

/** Uploaded modules, content-addressed under `<data-dir>/modules/<sha256>.wasm`. */
export class ModuleBlobs {
  readonly #dir: string;
  constructor(dataDir: string) {
    this.#dir = join(dataDir, "modules");
  }

  path(sha256: Sha256): string {
    return join(this.#dir, `${sha256}.wasm`);
  }

  has(sha256: Sha256): boolean {
    return existsSync(this.path(sha256));
  }

  /** Stores a module; idempotent for the same content. */
  put(content: Uint8Array, expected: string): { sha256: Sha256; size: number } {
    if (content.length > MAX_MODULE_BYTES)
      throw new KcoreError(
        "ResourceExhausted",
        `content: module of ${content.length} bytes exceeds the limit of ${MAX_MODULE_BYTES}`,
      );
    if (!looksLikeWasm(content))
      throw new KcoreError(
        "InvalidArgument",
        "content: not a WebAssembly binary module (missing \\0asm header)",
      );
    const sha256 = createHash("sha256").update(content).digest("hex") as Sha256;
    if (expected !== "" && expected !== sha256)
      throw new KcoreError(
        "InvalidArgument",
        `sha256: mismatch (expected ${expected}, got ${sha256})`,
      );
    if (!this.has(sha256)) writeFileAtomic(this.path(sha256), content, 0o644);
    return { sha256, size: content.length };
  }

  get(sha256: string): Buffer {
    if (!isSha256(sha256))
      throw new KcoreError(
        "InvalidArgument",
        `sha256: invalid digest ${JSON.stringify(sha256.slice(0, 80))}`,
      );
    if (!this.has(sha256)) throw new NotFoundError("module", sha256);
    return readFileSync(this.path(sha256));
  }
}
