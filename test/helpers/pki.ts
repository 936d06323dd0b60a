import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import type { TlsMaterial } from "../../src/api/tls.js";
import { normalSerial } from "../../src/pki/serial.js";
import { REPO } from "./fixtures.js";
import { run, waitFor, type RunResult, type TestCluster } from "./cluster.js";

const KCTL = join(REPO, "bin", "kctl");

/** The serial of the certificate a server presents now (a fresh handshake). */
export function servedSerial(port: number, tls: TlsMaterial): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: "127.0.0.1",
      port,
      ca: tls.caPem,
      cert: tls.certPem,
      key: tls.keyPem,
      ALPNProtocols: ["h2"],
      checkServerIdentity: () => undefined,
    });
    s.once("secureConnect", () => {
      resolve(normalSerial(s.getPeerCertificate().serialNumber));
      s.destroy();
    });
    s.once("error", reject);
  });
}

export function fileMode(path: string): number {
  return statSync(path).mode & 0o777;
}

export interface CertRow {
  serial: string;
  commonName: string;
  revokedAt: string;
  issuerSerial: string;
}

/** The controller's certificate registry, as `kctl certificate list -o json` prints it. */
export async function certRegistry(c: TestCluster): Promise<CertRow[]> {
  return (JSON.parse(await c.ok("certificate", "list", "-o", "json")) as { items: CertRow[] })
    .items;
}

/** kctl with another identity: its own config file, holding one context. */
export interface KctlAs {
  readonly file: string;
  readonly kctl: (...args: string[]) => Promise<RunResult>;
}

function kctlWith(c: TestCluster, file: string, context?: string): KctlAs {
  return {
    file,
    kctl: (...args) =>
      run(KCTL, [...(context === undefined ? [] : ["--context", context]), ...args], {
        env: { ...c.env, KCTL_CONFIG: file },
      }),
  };
}

/** `kctl create user NAME --role viewer` into a config file of its own. */
export async function viewer(c: TestCluster, name: string): Promise<KctlAs> {
  const file = join(c.dir, `${name}-config`);
  await c.ok("create", "user", name, "--role", "viewer", "--out", file);
  return kctlWith(c, file, name);
}

/** `kcore admin-credentials` on the controller's data directory; the serial it printed. */
export async function recoveredAdmin(
  c: TestCluster,
  name: string,
): Promise<KctlAs & { serial: string }> {
  const file = join(c.dir, `${name}-admin-config`);
  const r = await run(join(REPO, "bin", "kcore"), [
    "admin-credentials",
    "--name",
    name,
    "--controller",
    `127.0.0.1:${c.controllerPort}`,
    "--out",
    file,
    "--data-dir",
    c.controllerDir,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const serial = /certificate ([0-9a-f]+)/.exec(r.stdout)?.[1];
  assert.ok(serial !== undefined, r.stdout);
  return { ...kctlWith(c, file), serial };
}

/**
 * `kctl get wasm --watch` as `who`, once it lists `expect`. `ended(ms)` is its exit code, or
 * "open" if it is still running after `ms` (it is then killed).
 */
export async function openWatch(
  c: TestCluster,
  who: KctlAs,
  context: string,
  expect: string,
): Promise<{ ended: (ms: number) => Promise<number | "open">; stderr: () => string }> {
  const watch = spawn(KCTL, ["--context", context, "get", "wasm", "--watch"], {
    env: { ...process.env, ...c.env, KCTL_CONFIG: who.file },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  watch.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  watch.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number>((resolve) => {
    watch.once("exit", (code) => {
      resolve(code ?? -1);
    });
  });
  await waitFor(`the watch to list ${expect}`, () => out.includes(expect));
  return {
    ended: async (ms) => {
      const r = await Promise.race([
        exited,
        new Promise<"open">((resolve) => {
          setTimeout(() => {
            resolve("open");
          }, ms);
        }),
      ]);
      if (r === "open") watch.kill("SIGKILL");
      return r;
    },
    stderr: () => err,
  };
}
