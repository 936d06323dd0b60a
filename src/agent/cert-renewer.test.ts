import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pino } from "pino";
import type { TlsMaterial } from "../api/tls.js";
import { CERT_FILES, certsDir } from "../pki/cert-files.js";
import { ensureCa, ensureNodeCert, readIntermediate } from "../pki/pki-files.js";
import { certInfo, generateKeyPair, readCsr, signLeaf } from "../pki/pki.js";
import { CertRenewer } from "./cert-renewer.js";
import type { Clock } from "./clock.js";

const DAY = 86_400_000;

test("with the clock moved forward past the threshold, the node certificate is renewed with a new key", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kcore-renew-"));
  const { root, issuer } = await ensureCa(dir);
  await ensureNodeCert(dir, issuer, "n1");
  const certs = certsDir(dir);
  const read = (): TlsMaterial => ({
    caPem: root.certPem,
    certPem: readFileSync(join(certs, CERT_FILES.nodeCert), "utf8"),
    keyPem: readFileSync(join(certs, CERT_FILES.nodeKey), "utf8"),
  });
  let current = read();
  const first = certInfo(current.certPem);
  let now = first.notBefore.getTime() + DAY;
  const clock: Clock = { now: () => now, setTimeout: () => () => undefined };
  const asked: string[] = [];
  const renewed: TlsMaterial[] = [];
  const renewer = new CertRenewer({
    dataDir: dir,
    clock,
    logger: pino({ level: "silent" }),
    renewBeforeMs: 30 * DAY,
    current: () => current,
    sign: async (csrPem) => {
      const { commonName, publicKey } = await readCsr(csrPem);
      asked.push(commonName);
      const cert = await signLeaf(readIntermediate(dir), publicKey, {
        commonName,
        usage: "server-and-client",
      });
      return { certificatePem: cert.certPem, caCertificatePem: root.certPem };
    },
    renewed: (tls) => {
      renewed.push(tls);
      current = tls;
    },
  });

  await renewer.check();
  assert.deepEqual(asked, [], "a day into a year: nothing to do");

  now = first.notAfter.getTime() - 31 * DAY;
  await renewer.check();
  assert.deepEqual(asked, [], "31 days left, threshold 30: not yet");

  now = first.notAfter.getTime() - 29 * DAY;
  await renewer.check();
  assert.deepEqual(asked, ["kcore-node-n1"]);
  assert.equal(renewed.length, 1);
  const onDisk = read();
  assert.equal(onDisk.certPem, renewed[0]?.certPem);
  assert.equal(onDisk.keyPem, renewed[0]?.keyPem);
  assert.notEqual(onDisk.keyPem, "", "a key was written");
  assert.notEqual(certInfo(onDisk.certPem).serial, first.serial);
  assert.equal(statSync(join(certs, CERT_FILES.nodeKey)).mode & 0o777, 0o600);
  renewer.close();
});

test("a failed renewal leaves the current certificate and key in place", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kcore-renew-"));
  const { root, issuer } = await ensureCa(dir);
  await ensureNodeCert(dir, issuer, "n2");
  const certs = certsDir(dir);
  const before = readFileSync(join(certs, CERT_FILES.nodeKey), "utf8");
  const certPem = readFileSync(join(certs, CERT_FILES.nodeCert), "utf8");
  const renewer = new CertRenewer({
    dataDir: dir,
    clock: { now: () => certInfo(certPem).notAfter.getTime(), setTimeout: () => () => undefined },
    logger: pino({ level: "silent" }),
    current: () => ({ caPem: root.certPem, certPem, keyPem: before }),
    sign: () => Promise.reject(new Error("controller unreachable")),
    renewed: () => {
      assert.fail("must not be called");
    },
  });
  await renewer.check();
  assert.equal(readFileSync(join(certs, CERT_FILES.nodeKey), "utf8"), before);
  assert.equal(readFileSync(join(certs, CERT_FILES.nodeCert), "utf8"), certPem);
  renewer.close();
});

test("a certificate for another key or name is refused: the node keeps its pair", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kcore-renew-"));
  const { root, issuer } = await ensureCa(dir);
  await ensureNodeCert(dir, issuer, "n3");
  const certs = certsDir(dir);
  const keyPem = readFileSync(join(certs, CERT_FILES.nodeKey), "utf8");
  const certPem = readFileSync(join(certs, CERT_FILES.nodeCert), "utf8");
  // A controller answering with a certificate of its own choosing (another key, another node).
  const other = await signLeaf(issuer, (await generateKeyPair()).publicKey, {
    commonName: "kcore-node-evil",
    usage: "server-and-client",
  });
  const renewer = new CertRenewer({
    dataDir: dir,
    clock: { now: () => certInfo(certPem).notAfter.getTime(), setTimeout: () => () => undefined },
    logger: pino({ level: "silent" }),
    current: () => ({ caPem: root.certPem, certPem, keyPem }),
    sign: () => Promise.resolve({ certificatePem: other.certPem, caCertificatePem: root.certPem }),
    renewed: () => {
      assert.fail("must not be called");
    },
  });
  await renewer.check();
  assert.equal(readFileSync(join(certs, CERT_FILES.nodeKey), "utf8"), keyPem);
  assert.equal(readFileSync(join(certs, CERT_FILES.nodeCert), "utf8"), certPem);
  renewer.close();
});
