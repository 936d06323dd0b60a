import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { KcoreError } from "../domain/errors.js";
import { recoverPair, replacePair } from "./pki-files.js";
import { createCsr, normalSerial, readCsr } from "./pki.js";

test("any text as a CSR is a clean INVALID_ARGUMENT or a checked request, never a crash", async () => {
  const { csrPem } = await createCsr("kcore-node-n1");
  const body = csrPem.split("\n").slice(1, -2).join("");
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 2000 }),
        // Damaged real requests: one character of the base64 body changed.
        fc
          .tuple(fc.nat(body.length - 1), fc.constantFrom(...Array.from("ABCxyz019+/=")))
          .map(
            ([i, ch]) =>
              `-----BEGIN CERTIFICATE REQUEST-----\n${body.slice(0, i)}${ch}${body.slice(i + 1)}\n-----END CERTIFICATE REQUEST-----\n`,
          ),
      ),
      async (text) => {
        try {
          const r = await readCsr(text);
          assert.equal(typeof r.commonName, "string");
        } catch (e) {
          assert.ok(e instanceof KcoreError, String(e));
          assert.equal(e.code, "InvalidArgument");
          assert.match(e.message, /^csrPem: /);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test("serials have one spelling whatever the case and leading zeros", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9a-fA-F]{1,40}$/), fc.nat(5), (hex, zeros) => {
      const n = normalSerial(`${"0".repeat(zeros)}${hex}`);
      assert.equal(n, normalSerial(hex.toUpperCase()));
      assert.match(n, /^(0|[1-9a-f][0-9a-f]*)$/);
      assert.equal(BigInt(`0x${n}`), BigInt(`0x${hex}`));
    }),
  );
});

test("a key and certificate replacement cut short is finished at the next start, never mixed", () => {
  const dir = mkdtempSync(join(tmpdir(), "kcore-pair-"));
  replacePair(dir, "n.crt", "n.key", { certPem: "cert-1", keyPem: "key-1" });
  // Cut after both new files were written and the key renamed, before the certificate was.
  writeFileSync(join(dir, "n.crt.new"), "cert-2");
  writeFileSync(join(dir, "n.key"), "key-2");
  recoverPair(dir, "n.crt", "n.key");
  assert.equal(readFileSync(join(dir, "n.crt"), "utf8"), "cert-2");
  assert.equal(readFileSync(join(dir, "n.key"), "utf8"), "key-2");
  // Cut after only the new key was written: the old pair stays.
  writeFileSync(join(dir, "n.key.new"), "key-3");
  recoverPair(dir, "n.crt", "n.key");
  assert.equal(readFileSync(join(dir, "n.crt"), "utf8"), "cert-2");
  assert.equal(readFileSync(join(dir, "n.key"), "utf8"), "key-2");
  replacePair(dir, "n.crt", "n.key", { certPem: "cert-4", keyPem: "key-4" });
  assert.equal(readFileSync(join(dir, "n.key"), "utf8"), "key-4");
  assert.equal(existsSync(join(dir, "n.key.new")), false);
});
