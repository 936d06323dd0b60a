import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { webcrypto } from "node:crypto";
import type { Logger } from "pino";
import type { Peers } from "../api/peers.js";
import { ReloadableServerCredentials, type TlsMaterial } from "../api/tls.js";
import { KcoreError } from "../domain/errors.js";
import { CERT_FILES, certsDir, readPem, RETIRED_DIR } from "../pki/cert-files.js";
import { ensureIntermediate, readIntermediate, writePair } from "../pki/pki-files.js";
import {
  certInfo,
  certNames,
  createIntermediate,
  issue,
  signCrl,
  signLeaf,
  type CertKeyPair,
  type IssuedCert,
  type IssueOptions,
} from "../pki/pki.js";
import type { CertRecord, CertStore } from "../store/cert-store.js";

export type RotateTarget = "intermediate" | "controller";

/** What agents need to refuse revoked callers: the CRLs, the serials, and a version to poll. */
export interface Revocations {
  readonly version: string;
  readonly crlPems: readonly string[];
  readonly serials: readonly string[];
}

/**
 * The controller's side of the cluster PKI: it signs with the intermediate, keeps the
 * certificate registry, serves with CRLs built from it, and replaces its own material
 * (rotation, SIGHUP) without restarting. Keys are read from the data directory when used.
 */
export class ClusterPki {
  readonly #dataDir: string;
  readonly #certs: CertStore;
  readonly #peers: Peers;
  readonly #logger: Logger;
  readonly #now: () => Date;
  #credentials: ReloadableServerCredentials | undefined;
  #joinCredentials: ReloadableServerCredentials | undefined;
  #revocations: Revocations = { version: "", crlPems: [], serials: [] };
  #reloading: Promise<void> = Promise.resolve();
  #tls: TlsMaterial | undefined;
  /** Called with the controller's new client material after a reload (agent channels). */
  onReload: (tls: TlsMaterial) => void = () => undefined;

  constructor(opts: {
    dataDir: string;
    certs: CertStore;
    peers: Peers;
    logger: Logger;
    now: () => Date;
  }) {
    this.#dataDir = opts.dataDir;
    this.#certs = opts.certs;
    this.#peers = opts.peers;
    this.#logger = opts.logger;
    this.#now = opts.now;
  }

  get #dir(): string {
    return certsDir(this.#dataDir);
  }

  /** Creates the intermediate if this data directory has none yet, and the server material. */
  async init(): Promise<ReloadableServerCredentials> {
    await ensureIntermediate(this.#dataDir, this.#root());
    const material = await this.#material();
    this.#credentials = new ReloadableServerCredentials(material);
    return this.#credentials;
  }

  /** Credentials for the join port: the controller's certificate, no client certificate asked. */
  joinCredentials(): ReloadableServerCredentials {
    this.#joinCredentials ??= new ReloadableServerCredentials(this.tls, false);
    return this.#joinCredentials;
  }

  /** The controller's own certificate, key and the root, as last loaded. */
  get tls(): TlsMaterial {
    if (!this.#tls) throw new Error("ClusterPki.init() has not run");
    return this.#tls;
  }

  /** The current CRLs and revoked serials, for agents (AgentService/GetRevocations). */
  get revocations(): Revocations {
    return this.#revocations;
  }

  rootPem(): string {
    return readPem(this.#dir, CERT_FILES.caCert);
  }

  #root(): CertKeyPair {
    return { certPem: this.rootPem(), keyPem: readPem(this.#dir, CERT_FILES.caKey) };
  }

  /**
   * Signs a leaf with the current intermediate and records it in the registry; `also` runs in
   * the recording transaction (a failure there discards the certificate).
   */
  async sign(
    publicKey: webcrypto.CryptoKey,
    opts: IssueOptions,
    also?: () => void,
  ): Promise<IssuedCert> {
    const cert = await signLeaf(readIntermediate(this.#dataDir), publicKey, opts);
    await this.#certs.record({ ...cert, notAfter: cert.notAfter.toISOString() }, this.#now(), also);
    return cert;
  }

  /** Registers a certificate a peer presented, if the registry does not know it (signed offline). */
  async remember(peer: { serial: string; commonName: string; notAfter: Date }): Promise<void> {
    if (peer.serial === "") return;
    await this.#certs.record(
      { ...peer, issuerSerial: "", notAfter: peer.notAfter.toISOString() },
      this.#now(),
    );
  }

  list(): CertRecord[] {
    return this.#certs.list();
  }

  /**
   * Revokes, then at once serves with the new CRLs (new handshakes with a revoked certificate
   * fail) and closes the connections open with it. Returns the serials revoked by this call.
   */
  async revoke(target: { serial: string } | { commonName: string }): Promise<string[]> {
    const serials = await this.#certs.revoke(target, this.#now());
    if (serials.length > 0) {
      await this.reload();
      const cut = this.#peers.cut(serials);
      this.#logger.warn({ serials, connectionsClosed: cut }, "certificates revoked");
    }
    return serials;
  }

  /** Re-reads the certificate files and the revocations, and serves with them (also on SIGHUP). */
  reload(): Promise<void> {
    // One at a time, each reading the store when it starts: two revocations at once cannot
    // leave the older CRLs in place.
    const next = this.#reloading.then(async () => {
      const material = await this.#material();
      this.#credentials?.reload(material);
      this.#joinCredentials?.reload(material);
      this.onReload(material);
    });
    this.#reloading = next.catch(() => undefined);
    return next;
  }

  /** Replaces the intermediate or the controller certificate and serves with the new one. */
  async rotate(target: RotateTarget): Promise<IssuedCert> {
    switch (target) {
      case "intermediate": {
        const old = readIntermediate(this.#dataDir);
        const next = await createIntermediate(this.#root());
        // The old intermediate is kept: certificates it signed stay valid until renewed, and a
        // CRL must still be signed for them.
        const retired = join(this.#dir, RETIRED_DIR);
        mkdirSync(retired, { recursive: true, mode: 0o700 });
        const oldSerial = certInfo(old.certPem).serial;
        writePair(retired, `${oldSerial}.crt`, `${oldSerial}.key`, old);
        writePair(this.#dir, CERT_FILES.intermediateCert, CERT_FILES.intermediateKey, next);
        const info = certInfo(next.certPem);
        await this.reload();
        return { ...info, certPem: next.certPem, issuerSerial: certInfo(this.rootPem()).serial };
      }
      case "controller": {
        const current = readPem(this.#dir, CERT_FILES.controllerCert);
        const { commonName } = certInfo(current);
        const pair = await issue(readIntermediate(this.#dataDir), {
          commonName,
          ...certNames(current),
          usage: "server-and-client",
        });
        await this.#certs.record({ ...pair, notAfter: pair.notAfter.toISOString() }, this.#now());
        writePair(this.#dir, CERT_FILES.controllerCert, CERT_FILES.controllerKey, pair);
        await this.reload();
        return pair;
      }
    }
  }

  /** Every CA that may have signed a certificate in use: the root, the intermediate, retired ones. */
  #signers(): CertKeyPair[] {
    const signers = [this.#root(), readIntermediate(this.#dataDir)];
    const retired = join(this.#dir, RETIRED_DIR);
    if (existsSync(retired)) {
      const now = this.#now().getTime();
      for (const f of readdirSync(retired)
        .filter((n) => n.endsWith(".crt"))
        .sort()) {
        const keyFile = f.replace(/\.crt$/, ".key");
        if (!existsSync(join(retired, keyFile))) continue;
        const pair = { certPem: readPem(retired, f), keyPem: readPem(retired, keyFile) };
        if (certInfo(pair.certPem).notAfter.getTime() > now) signers.push(pair);
      }
    }
    return signers;
  }

  async #material(): Promise<TlsMaterial & { crlPems: string[] }> {
    const revoked = this.#certs.revoked();
    const now = this.#now();
    // The TLS library checks a CRL for every CA in a chain, so each signer publishes one (they
    // all list every revoked serial: serials are random and never repeat across CAs).
    const signers = this.#signers();
    const crlPems = await Promise.all(signers.map((s) => signCrl(s, revoked, now)));
    const serials = revoked.map((r) => r.serial);
    this.#peers.setRevoked(serials);
    this.#revocations = {
      // What the CRLs say, not when they were signed: agents refetch only on a real change.
      version: createHash("sha256")
        .update(JSON.stringify([signers.map((s) => certInfo(s.certPem).serial), serials]))
        .digest("hex")
        .slice(0, 16),
      crlPems,
      serials,
    };
    let certPem: string;
    let keyPem: string;
    try {
      certPem = readPem(this.#dir, CERT_FILES.controllerCert);
      keyPem = readPem(this.#dir, CERT_FILES.controllerKey);
    } catch (e) {
      throw new KcoreError(
        "FailedPrecondition",
        `cannot read the controller certificate in ${this.#dir}`,
        {
          cause: e,
        },
      );
    }
    const material = { caPem: this.rootPem(), certPem, keyPem, crlPems };
    this.#tls = material;
    return material;
  }
}
