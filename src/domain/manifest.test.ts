import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { KcoreError } from "./errors.js";
import { parseManifests } from "./manifest.js";
import { parseWasmWorkloadSpec } from "./wasm-workload.js";

const SHA = "a".repeat(64);

function doc(spec: unknown, name = "hello"): string {
  return stringify({ apiVersion: "kcore.dev/v1", kind: "WasmWorkload", metadata: { name }, spec });
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof KcoreError, `expected KcoreError, got ${String(e)}`);
    return e.message;
  }
  assert.fail("expected an error");
}

test("parses several documents from one file, skipping empty ones", () => {
  const text = `${doc({ module: { path: "a.wasm" } }, "a")}---\n---\n${doc({ module: { sha256: SHA } }, "b")}`;
  const docs = parseManifests(text, "app.yaml");
  assert.deepEqual(
    docs.map((d) => d.name),
    ["a", "b"],
  );
  const first = docs[0];
  assert.equal(first?.kind === "WasmWorkload" ? first.spec.module.path : undefined, "a.wasm");
});

test("errors name the document and the field path", () => {
  assert.match(
    errorOf(() => parseManifests(doc({ module: { sha256: SHA }, restartPolicy: 3 }), "w.yaml")),
    /^w\.yaml: spec\.restartPolicy: /,
  );
  assert.match(
    errorOf(() =>
      parseManifests(
        doc({ module: { sha256: SHA }, volumes: [{ name: "v", mountPath: "/d", hostPath: 7 }] }),
        "w.yaml",
      ),
    ),
    /spec\.volumes\[0\]\.hostPath/,
  );
  assert.match(
    errorOf(() => parseManifests(doc({ module: { sha256: SHA }, nodeSelectr: {} }), "w.yaml")),
    /spec.*nodeSelectr/,
  );
  assert.match(
    errorOf(() => parseManifests(doc({ module: { sha256: SHA } }, "Bad_Name"), "w.yaml")),
    /w\.yaml: metadata\.name: invalid name "Bad_Name"/,
  );
  assert.match(
    errorOf(() =>
      parseManifests(
        `${doc({ module: { sha256: SHA } })}---\nkind: Nope\napiVersion: kcore.dev/v1\nmetadata: {name: x}\n`,
        "w.yaml",
      ),
    ),
    /^w\.yaml#2: kind: unsupported kind "Nope"/,
  );
  assert.match(
    errorOf(() => parseManifests("a: [", "w.yaml")),
    /^w\.yaml: invalid YAML/,
  );
});

test("semantic errors name the field and value", () => {
  const spec = (s: object) => parseWasmWorkloadSpec("spec", { module: { sha256: SHA }, ...s });
  assert.match(
    errorOf(() => spec({ restartPolicy: "Sometimes" })),
    /spec\.restartPolicy: invalid value "Sometimes": expected one of Always, OnFailure, Never/,
  );
  assert.match(
    errorOf(() => spec({ resources: { limits: { memory: "lots" } } })),
    /spec\.resources\.limits\.memory: invalid memory quantity "lots"/,
  );
  assert.match(
    errorOf(() => spec({ volumes: [{ name: "v", mountPath: "../x", emptyDir: {} }] })),
    /spec\.volumes\[0\]\.mountPath: invalid path "\.\.\/x": must be absolute/,
  );
  assert.match(
    errorOf(() => spec({ volumes: [{ name: "v", mountPath: "/a/../b", emptyDir: {} }] })),
    /segment "\.\." is not allowed/,
  );
  assert.match(
    errorOf(() =>
      spec({
        volumes: [
          { name: "v", mountPath: "/a", emptyDir: {} },
          { name: "v", mountPath: "/b", emptyDir: {} },
        ],
      }),
    ),
    /spec\.volumes\[1\]\.name: duplicate volume name "v"/,
  );
  assert.match(
    errorOf(() => spec({ env: { "1BAD": "x" } })),
    /spec\.env\.1BAD: invalid environment variable name/,
  );
  assert.match(
    errorOf(() =>
      parseWasmWorkloadSpec("spec", {
        module: { url: "http://example.invalid/m.wasm", sha256: SHA },
      }),
    ),
    /spec\.module\.url: URL "http:\/\/example\.invalid\/m\.wasm" must use https:\/\//,
  );
  assert.match(
    errorOf(() => parseWasmWorkloadSpec("spec", { module: {} })),
    /spec\.module: one of path, sha256/,
  );
});

test("defaults: Always, 30 s grace, no limits", () => {
  const s = parseWasmWorkloadSpec("spec", { module: { sha256: SHA } });
  assert.equal(s.restartPolicy, "Always");
  assert.equal(s.terminationGracePeriodSeconds, 30);
  assert.deepEqual(s.limits, {});
});

const envName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/);
const safeText = fc.string({ maxLength: 40 }).filter((s) => !s.includes("\0"));

test("any valid spec written as YAML parses back to the same values", () => {
  fc.assert(
    fc.property(
      fc.record({
        args: fc.array(safeText, { maxLength: 5 }),
        env: fc.dictionary(envName, safeText, { maxKeys: 5 }),
        restartPolicy: fc.constantFrom("Always", "OnFailure", "Never"),
        terminationGracePeriodSeconds: fc.integer({ min: 0, max: 86_400 }),
        memMi: fc.integer({ min: 1, max: 4096 }),
      }),
      (r) => {
        const raw = {
          module: { sha256: SHA },
          args: r.args,
          env: r.env,
          restartPolicy: r.restartPolicy,
          terminationGracePeriodSeconds: r.terminationGracePeriodSeconds,
          resources: { limits: { memory: `${r.memMi}Mi` } },
        };
        const [d] = parseManifests(doc(raw), "p.yaml");
        assert.ok(d?.kind === "WasmWorkload");
        const spec = parseWasmWorkloadSpec("spec", d.spec);
        assert.deepEqual(spec.args, r.args);
        assert.deepEqual(
          { ...spec.env },
          Object.fromEntries(Object.entries(r.env).sort(([a], [b]) => (a < b ? -1 : 1))),
        );
        assert.equal(spec.restartPolicy, r.restartPolicy);
        assert.equal(spec.limits.memoryBytes, r.memMi * 1024 * 1024);
      },
    ),
  );
});

test("arbitrary YAML never crashes the parser: it parses or gives a KcoreError", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      try {
        parseManifests(
          stringify({
            apiVersion: "kcore.dev/v1",
            kind: "WasmWorkload",
            metadata: { name: "x" },
            spec: v,
          }),
          "f.yaml",
        );
      } catch (e) {
        assert.ok(e instanceof KcoreError, String(e));
      }
    }),
  );
});

test("VM and SshKey documents are read with their field paths", () => {
  const text = [
    "apiVersion: kcore.dev/v1",
    "kind: VM",
    "metadata: { name: web }",
    "spec:",
    "  cpus: 2",
    "  memory: 256Mi",
    "  boot: { kernel: /boot/vmlinuz, cmdline: console=ttyS0 }",
    "  disks: [{ name: root, url: https://images.example/debian.qcow2, sha256: " +
      "a".repeat(64) +
      ", format: qcow2 }]",
    "---",
    "apiVersion: kcore.dev/v1",
    "kind: SshKey",
    "metadata: { name: me }",
    "spec: { publicKey: ssh-ed25519 AAAA }",
    "",
  ].join("\n");
  const docs = parseManifests(text, "vm.yaml");
  assert.deepEqual(
    docs.map((d) => [d.kind, d.name]),
    [
      ["VM", "web"],
      ["SshKey", "me"],
    ],
  );
  assert.throws(
    () => parseManifests(text.replace("cpus: 2", "cpu: 2"), "vm.yaml"),
    /vm\.yaml#1: spec\.cpu: /,
  );
});
