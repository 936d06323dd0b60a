import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from dist/test). */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/**
 * Compiles a C test module with clang for wasm32-wasi (Debian's clang, lld and wasi-libc), cached
 * by the source's digest.
 */
export function buildCModule(name: string): string {
  const src = join(REPO, "test", "fixtures", `${name}.c`);
  const digest = createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), "kcore-test-modules");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}-${digest}.wasm`);
  if (!existsSync(out)) {
    execFileSync("clang", ["--target=wasm32-wasi", "-O2", "-o", `${out}.tmp`, src], {
      stdio: "pipe",
    });
    execFileSync("mv", [`${out}.tmp`, out]);
  }
  return out;
}

/** A module built from WAT by the project's build (examples/). */
export function exampleModule(name: string): string {
  return join(REPO, "examples", "build", `${name}.wasm`);
}
