import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { InvalidFieldError } from "./errors.js";
import { parseAbsolutePath } from "./paths.js";

test("accepted paths are absolute, normalised and free of NUL and dot segments", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      try {
        const p = parseAbsolutePath("f", s);
        assert.ok(p.startsWith("/"));
        assert.ok(!p.includes("\0"));
        assert.ok(
          !p
            .split("/")
            .slice(1)
            .some((seg) => seg === "" || seg === "." || seg === "..") || p === "/",
        );
      } catch (e) {
        assert.ok(e instanceof InvalidFieldError && e.field === "f");
      }
    }),
  );
});

test("traversal, relative paths and NUL are refused", () => {
  for (const bad of [
    "",
    "data",
    "./data",
    "/a/../../etc",
    "/a/./b",
    "/a//b",
    "/a\0b",
    `/${"x".repeat(5000)}`,
  ]) {
    assert.throws(
      () => parseAbsolutePath("spec.volumes[0].mountPath", bad),
      /spec\.volumes\[0\]\.mountPath: invalid path/,
      JSON.stringify(bad),
    );
  }
  assert.equal(parseAbsolutePath("f", "/data/"), "/data");
});
