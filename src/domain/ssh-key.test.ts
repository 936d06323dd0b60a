import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseSshKeySpec } from "./ssh-key.js";

test("SshKey: one OpenSSH public key line whose blob matches its type", () => {
  const blob = Buffer.concat([
    Buffer.from([0, 0, 0, 11]),
    Buffer.from("ssh-ed25519"),
    Buffer.from([0, 0, 0, 32]),
    Buffer.alloc(32, 7),
  ]).toString("base64");
  assert.equal(
    parseSshKeySpec("spec", { publicKey: `ssh-ed25519 ${blob} a@b` }).publicKey,
    `ssh-ed25519 ${blob} a@b`,
  );
  assert.throws(
    () => parseSshKeySpec("spec", { publicKey: `ssh-rsa ${blob}` }),
    /spec\.publicKey.*not a base64 ssh-rsa key/,
  );
  assert.throws(
    () => parseSshKeySpec("spec", { publicKey: `ssh-ed25519 ${blob}\nevil` }),
    /spec\.publicKey/,
  );
  fc.assert(
    fc.property(fc.string(), (s) => {
      try {
        parseSshKeySpec("spec", { publicKey: s });
      } catch (e) {
        assert.match(String(e), /spec\.publicKey/);
      }
    }),
  );
});
