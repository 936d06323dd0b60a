import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { KcoreError } from "../domain/errors.js";
import { gateHostDirectory, gatePath } from "./path-gate.js";

test("any accepted path lies inside the root; anything else is refused", () => {
  const root = mkdtempSync(join(tmpdir(), "kcore-gate-"));
  try {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 8 }),
            fc.constantFrom("..", ".", "", "a/b", "x\0y", "/etc"),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        (parts) => {
          try {
            const p = gatePath(root, parts);
            assert.ok(p.startsWith(`${root}/`) || p === root, p);
          } catch (e) {
            assert.ok(e instanceof KcoreError);
          }
        },
      ),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a symlink that points out of the root is refused", () => {
  const root = mkdtempSync(join(tmpdir(), "kcore-gate-"));
  try {
    mkdirSync(join(root, "workloads"));
    symlinkSync("/etc", join(root, "workloads", "evil"));
    assert.throws(() => gatePath(root, ["workloads", "evil"]), /resolves to "\/etc", outside/);
    assert.throws(() => gatePath(root, ["workloads", "evil", "passwd"]), /outside/);
    assert.equal(
      gatePath(root, ["workloads", "ok"], { mkdir: true }),
      join(root, "workloads", "ok"),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a hostPath into the agent's data directory is refused, even through a symlink", () => {
  const base = mkdtempSync(join(tmpdir(), "kcore-gate-"));
  try {
    const data = join(base, "data");
    mkdirSync(join(data, "certs"), { recursive: true });
    mkdirSync(join(base, "share"));
    symlinkSync(join(data, "certs"), join(base, "link"));
    assert.throws(
      () => gateHostDirectory(join(data, "certs"), [data]),
      /overlaps the kcore data directory/,
    );
    assert.throws(() => gateHostDirectory(join(base, "link"), [data]), /overlaps/);
    assert.throws(() => gateHostDirectory("/", [data]), /overlaps/);
    assert.throws(() => gateHostDirectory(join(base, "missing"), [data]), /does not exist/);
    assert.equal(gateHostDirectory(join(base, "share"), [data]), join(base, "share"));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
