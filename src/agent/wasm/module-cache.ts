import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Sha256 } from "../../domain/names.js";
import type { ModuleRef } from "../../domain/wasm-workload.js";
import { assertNever } from "../../domain/assert-never.js";
import { writeFileAtomic } from "../../util/atomic-file.js";

/** Largest module the node downloads. */
export const MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024;

export type FetchResult =
  | { readonly ok: true; readonly path: string }
  | {
      readonly ok: false;
      readonly reason: "ModuleNotFound" | "InvalidModule";
      readonly message: string;
    };

/**
 * Modules on this node, content-addressed under `<data-dir>/modules`. A module is verified
 * against its sha256 before it is placed (atomically); concurrent requests for one digest share
 * one download.
 */
export class ModuleCache {
  readonly #dir: string;
  readonly #fetchUploaded: (sha256: Sha256) => Promise<Uint8Array>;
  readonly #inflight = new Map<string, Promise<FetchResult>>();

  constructor(dataDir: string, fetchUploaded: (sha256: Sha256) => Promise<Uint8Array>) {
    this.#dir = join(dataDir, "modules");
    this.#fetchUploaded = fetchUploaded;
  }

  pathOf(sha256: Sha256): string {
    return join(this.#dir, `${sha256}.wasm`);
  }

  ensure(ref: ModuleRef): Promise<FetchResult> {
    switch (ref.kind) {
      case "image":
        return Promise.resolve({
          ok: false,
          reason: "ModuleNotFound",
          message: `OCI image modules are not supported: ${ref.image}`,
        });
      case "uploaded":
        return this.#ensure(ref.sha256, () => this.#fetchUploaded(ref.sha256));
      case "url":
        return this.#ensure(ref.sha256, () => download(ref.url));
      default:
        return assertNever(ref, "module reference");
    }
  }

  #ensure(sha256: Sha256, get: () => Promise<Uint8Array>): Promise<FetchResult> {
    const path = this.pathOf(sha256);
    if (existsSync(path)) return Promise.resolve({ ok: true, path });
    let p = this.#inflight.get(sha256);
    if (!p) {
      p = (async (): Promise<FetchResult> => {
        try {
          const bytes = await get();
          const actual = createHash("sha256").update(bytes).digest("hex");
          if (actual !== sha256)
            return {
              ok: false,
              reason: "InvalidModule",
              message: `module sha256 mismatch (expected ${sha256}, got ${actual})`,
            };
          writeFileAtomic(path, bytes, 0o644);
          return { ok: true, path };
        } catch (e) {
          return {
            ok: false,
            reason: "ModuleNotFound",
            message: `cannot fetch module ${sha256}: ${e instanceof Error ? e.message : String(e)}`,
          };
        } finally {
          this.#inflight.delete(sha256);
        }
      })();
      this.#inflight.set(sha256, p);
    }
    return p;
  }

  /** Reads a cached module (for tests and diagnostics). */
  read(sha256: Sha256): Buffer {
    return readFileSync(this.pathOf(sha256));
  }
}

async function download(url: string): Promise<Uint8Array> {
  if (!url.startsWith("https://")) throw new Error(`refusing non-https URL ${url}`);
  const res = await fetch(url, { redirect: "error", signal: AbortSignal.timeout(120_000) });
  if (!res.ok || !res.body) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > MAX_DOWNLOAD_BYTES)
      throw new Error(`GET ${url}: larger than ${MAX_DOWNLOAD_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
