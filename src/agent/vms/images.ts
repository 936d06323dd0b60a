import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { HttpsUrl } from "../../domain/download.js";
import { KcoreError } from "../../domain/errors.js";
import type { Sha256 } from "../../domain/names.js";

const run = promisify(execFile);

/** Largest image the node downloads. */
export const MAX_IMAGE_BYTES = 64 * 1024 ** 3;

export type Progress = (done: number, total: number | undefined) => void;

/**
 * Disk images on this node, content-addressed under `<data-dir>/images/<sha256>`. A download
 * streams into a partial file while it is hashed, is verified before it is renamed into place,
 * and is removed if anything goes wrong. Concurrent requests for one digest share one download.
 */
export class ImageCache {
  readonly #dir: string;
  readonly #inflight = new Map<string, { p: Promise<string>; listeners: Set<Progress> }>();

  constructor(dataDir: string) {
    this.#dir = join(dataDir, "images");
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    // Partial files of downloads cut off by a crash.
    for (const f of readdirSync(this.#dir))
      if (f.startsWith(".partial-")) rmSync(join(this.#dir, f), { force: true });
  }

  pathOf(sha256: Sha256): string {
    return join(this.#dir, sha256);
  }

  /** The image's path once it is here and verified. */
  ensure(url: HttpsUrl, sha256: Sha256, progress?: Progress): Promise<string> {
    const path = this.pathOf(sha256);
    if (existsSync(path)) return Promise.resolve(path);
    let entry = this.#inflight.get(sha256);
    if (!entry) {
      const listeners = new Set<Progress>();
      const p = this.#download(url, sha256, path, (d, t) => {
        for (const l of listeners) l(d, t);
      }).finally(() => this.#inflight.delete(sha256));
      entry = { p, listeners };
      this.#inflight.set(sha256, entry);
    }
    if (progress) entry.listeners.add(progress);
    return entry.p;
  }

  async #download(
    url: HttpsUrl,
    sha256: Sha256,
    path: string,
    progress: Progress,
  ): Promise<string> {
    const partial = join(this.#dir, `.partial-${sha256}-${randomBytes(4).toString("hex")}`);
    const fd = openSync(partial, "wx", 0o600);
    let closed = false;
    try {
      const res = await fetch(url, { redirect: "error", signal: AbortSignal.timeout(3_600_000) });
      if (!res.ok || !res.body)
        throw new KcoreError("Unavailable", `GET ${url}: HTTP ${res.status}`);
      const length = Number(res.headers.get("content-length") ?? NaN);
      const total = Number.isFinite(length) ? length : undefined;
      if (total !== undefined && total > MAX_IMAGE_BYTES)
        throw new KcoreError(
          "ResourceExhausted",
          `GET ${url}: ${total} bytes is larger than ${MAX_IMAGE_BYTES}`,
        );
      const hash = createHash("sha256");
      let done = 0;
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        done += chunk.length;
        if (done > MAX_IMAGE_BYTES)
          throw new KcoreError(
            "ResourceExhausted",
            `GET ${url}: larger than ${MAX_IMAGE_BYTES} bytes`,
          );
        hash.update(chunk);
        writeSync(fd, chunk);
        progress(done, total);
      }
      if (total !== undefined && done !== total)
        throw new KcoreError("Unavailable", `GET ${url}: got ${done} of ${total} bytes`);
      const actual = hash.digest("hex");
      if (actual !== sha256)
        throw new KcoreError(
          "FailedPrecondition",
          `image ${url}: sha256 mismatch (expected ${sha256}, got ${actual})`,
        );
      fsyncSync(fd);
      closeSync(fd);
      closed = true;
      renameSync(partial, path);
      return path;
    } catch (e) {
      if (e instanceof KcoreError) throw e;
      throw new KcoreError(
        "Unavailable",
        `GET ${url}: ${e instanceof Error ? e.message : String(e)}`,
        {
          cause: e,
        },
      );
    } finally {
      if (!closed) closeSync(fd);
      rmSync(partial, { force: true });
    }
  }
}

/**
 * Creates a VM's own copy-on-write disk over a base image with `qemu-img`, so that many VMs can
 * start from one image and the image itself is never written. `sizeBytes` grows the overlay.
 */
export async function createOverlay(
  base: string,
  baseFormat: "raw" | "qcow2",
  overlay: string,
  sizeBytes?: number,
): Promise<void> {
  const tmp = `${overlay}.tmp`;
  rmSync(tmp, { force: true });
  const args = ["create", "-q", "-f", "qcow2", "-b", base, "-F", baseFormat, tmp];
  if (sizeBytes !== undefined) args.push(String(sizeBytes));
  try {
    await run("qemu-img", args, { timeout: 60_000 });
  } catch (e) {
    rmSync(tmp, { force: true });
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new KcoreError(
      "FailedPrecondition",
      `qemu-img create over ${base}: ${stderr ?? String(e)}`,
    );
  }
  renameSync(tmp, overlay);
}
