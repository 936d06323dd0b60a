import { existsSync } from "node:fs";
import { join } from "node:path";
import { Controller } from "../controller/controller.js";
import { KcoreError } from "../domain/errors.js";
import { CERT_FILES, certsDir } from "../pki/cert-files.js";
import { DEFAULT_NODE_CERT_TTL_MS } from "../controller/node-certs.js";
import { defaultDataDir } from "../util/data-dir.js";
import { DEFAULT_LIMITS, type LimitSettings } from "../api/limits.js";
import { durationFlag, intFlag, untilSignal } from "./daemon.js";
import type { KcoreFlags } from "./flags.js";
import { createLogger } from "./logger.js";

export async function runController(f: KcoreFlags): Promise<number> {
  const dataDir = f["data-dir"] ?? defaultDataDir();
  if (!existsSync(join(certsDir(dataDir), CERT_FILES.controllerCert))) {
    throw new KcoreError(
      "FailedPrecondition",
      `no controller certificate in ${certsDir(dataDir)}: run 'kctl create cluster --controller HOST:PORT --data-dir ${dataDir}' first`,
    );
  }
  const logger = createLogger(f["log-level"], "kcore-controller");
  const joinListen = f["join-listen"] ?? "0.0.0.0:9443";
  const controller = new Controller({
    dataDir,
    listen: f.listen ?? "0.0.0.0:9090",
    logger,
    limits: limitFlags(f),
    ...(joinListen === "off" ? {} : { joinListen }),
    requireApproval: f["require-approval"] ?? false,
    nodeCertTtlMs: nodeCertTtl(f["node-cert-ttl"]),
  });
  await controller.start();
  // SIGHUP: serve with the certificate files as they are now (after replacing them by hand).
  process.on("SIGHUP", () => {
    controller.reload().then(
      () => {
        logger.info("reloaded certificates (SIGHUP)");
      },
      (e: unknown) => {
        logger.error({ err: e }, "reload failed; still serving with the previous certificates");
      },
    );
  });
  return untilSignal(() => controller.stop());
}

/** `--node-cert-ttl DUR`: at least 30 s (agents renew with a third of it left), at most 10 years. */
export function nodeCertTtl(value: string | undefined): number {
  const ms = durationFlag("node-cert-ttl", value, DEFAULT_NODE_CERT_TTL_MS);
  if (ms < 30_000 || ms > 3650 * 86_400_000)
    throw new KcoreError(
      "InvalidArgument",
      `--node-cert-ttl: ${JSON.stringify(value)} must be between 30s and 3650d`,
    );
  return ms;
}

/** `--rate-limit N --rate-burst N --max-streams N --default-deadline D --max-deadline D`. */
export function limitFlags(f: KcoreFlags): LimitSettings {
  const d = DEFAULT_LIMITS;
  const ratePerSecond = intFlag("rate-limit", f["rate-limit"], d.ratePerSecond, 1, 1_000_000);
  return {
    ratePerSecond,
    burst: intFlag("rate-burst", f["rate-burst"], Math.max(d.burst, ratePerSecond), 1, 1_000_000),
    maxStreams: intFlag("max-streams", f["max-streams"], d.maxStreams, 1, 100_000),
    defaultDeadlineMs: durationFlag("default-deadline", f["default-deadline"], d.defaultDeadlineMs),
    maxDeadlineMs: durationFlag("max-deadline", f["max-deadline"], d.maxDeadlineMs),
  };
}
