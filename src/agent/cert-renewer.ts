import type { Logger } from "pino";
import type { TlsMaterial } from "../api/tls.js";
import { renewalCheckInterval, renewalDue } from "../domain/renewal.js";
import { CERT_FILES, certsDir } from "../pki/cert-files.js";
import { replacePair } from "../pki/pki-files.js";
import type { Clock } from "./clock.js";

export interface CertRenewerOptions {
  readonly dataDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Renew when this little time is left; a third of the lifetime when absent. */
  readonly renewBeforeMs?: number;
  /** The current material (the node's certificate and key, and the root CA). */
  readonly current: () => TlsMaterial;
  /** Asks the controller to sign a CSR for the node's own name. */
  readonly sign: (csrPem: string) => Promise<{ certificatePem: string; caCertificatePem: string }>;
  /** Called with the new material once it is on disk. */
  readonly renewed: (tls: TlsMaterial) => void;
}

/**
 * Keeps the node's certificate valid: before it expires, a new key is made here, the controller
 * signs a CSR for it, and the pair replaces the old one on disk and in the agent's connections.
 * Workloads are not touched.
 */
export class CertRenewer {
  readonly #o: CertRenewerOptions;
  #cancel: (() => void) | undefined;
  #closed = false;
  #running: Promise<void> | undefined;

  constructor(o: CertRenewerOptions) {
    this.#o = o;
  }

  start(): void {
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    this.#cancel?.();
  }

  async #validity(): Promise<{ notBefore: number; notAfter: number; commonName: string }> {
    const { certInfo } = await import("../pki/pki.js");
    const i = certInfo(this.#o.current().certPem);
    return {
      notBefore: i.notBefore.getTime(),
      notAfter: i.notAfter.getTime(),
      commonName: i.commonName,
    };
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#validity().then(
      (v) => {
        this.#after(renewalCheckInterval(v));
      },
      (e: unknown) => {
        // An unreadable certificate is looked at again in a minute, not a crash.
        this.#o.logger.warn(
          { err: e instanceof Error ? e.message : String(e) },
          "cannot read the node certificate",
        );
        this.#after(60_000);
      },
    );
  }

  #after(ms: number): void {
    if (this.#closed) return;
    this.#cancel = this.#o.clock.setTimeout(() => {
      void this.check().finally(() => {
        this.#schedule();
      });
    }, ms);
  }

  /** Renews if due; resolves when done (one renewal at a time). */
  check(): Promise<void> {
    this.#running ??= this.#check().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #check(): Promise<void> {
    const log = this.#o.logger;
    try {
      const v = await this.#validity();
      if (!renewalDue(v, this.#o.clock.now(), this.#o.renewBeforeMs)) return;
      const { createCsr, certInfo, certFitsKey } = await import("../pki/pki.js");
      const { csrPem, keyPem } = await createCsr(v.commonName);
      const res = await this.#o.sign(csrPem);
      if (!certFitsKey(res.certificatePem, keyPem, v.commonName))
        throw new Error(
          `the controller returned a certificate that is not for ${v.commonName} and the new key`,
        );
      const dir = certsDir(this.#o.dataDir);
      replacePair(dir, CERT_FILES.nodeCert, CERT_FILES.nodeKey, {
        certPem: res.certificatePem,
        keyPem,
      });
      const tls = { caPem: this.#o.current().caPem, certPem: res.certificatePem, keyPem };
      this.#o.renewed(tls);
      const next = certInfo(res.certificatePem);
      log.info(
        { serial: next.serial, notAfter: next.notAfter.toISOString() },
        "renewed the node certificate",
      );
    } catch (e) {
      log.warn(
        { err: e instanceof Error ? e.message : String(e) },
        "certificate renewal failed; retrying",
      );
    }
  }
}
