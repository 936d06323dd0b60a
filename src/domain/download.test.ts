import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { InvalidFieldError } from "./errors.js";
import { parseVerifiedDownload } from "./download.js";

const SHA = "c".repeat(64);

test("only https URLs with a lowercase sha256 pass the download gate", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.webUrl(), fc.string()),
      fc.oneof(fc.constant(SHA), fc.string()),
      (url, sha) => {
        try {
          const d = parseVerifiedDownload("spec.disks[0]", url, sha);
          assert.ok(d.url.startsWith("https://"));
          assert.match(d.sha256, /^[0-9a-f]{64}$/);
        } catch (e) {
          assert.ok(
            e instanceof InvalidFieldError && e.field.startsWith("spec.disks[0]."),
            String(e),
          );
        }
      },
    ),
  );
  assert.throws(
    () => parseVerifiedDownload("m", "http://x.invalid/a", SHA),
    /^InvalidFieldError: m\.url: URL "http:\/\/x\.invalid\/a" must use https:\/\/$/,
  );
  assert.throws(
    () => parseVerifiedDownload("m", "https://x.invalid/a", undefined),
    /m\.sha256: required with url/,
  );
});
