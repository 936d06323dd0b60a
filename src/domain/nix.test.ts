import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { nix, nixAttr, nixJoin, nixText, nixValue, NixRenderError, type Nix } from "./nix.js";

const dir = mkdtempSync(join(tmpdir(), "kcore-nix-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Evaluates Nix source with the real evaluator: the value as JSON, and what it printed. */
function evaluate(source: Nix): { value: unknown; stderr: string } {
  const file = join(dir, "expr.nix");
  writeFileSync(file, nixText(source));
  const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", file], {
    encoding: "utf8",
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`nix-instantiate failed: ${r.stderr}\n${nixText(source)}`);
  return { value: JSON.parse(r.stdout), stderr: r.stderr };
}

/** Strings built to break out of a Nix string: every special sequence, mixed with anything. */
const FRAGMENTS = [
  '"',
  "\\",
  "${",
  "$${",
  "$$",
  "$",
  "''",
  "''${",
  "'''",
  "''\\",
  "{",
  "}",
  "\n",
  "\r",
  "\t",
  "\\n",
  "\\${",
  "#",
  "/*",
  "*/",
  ";",
  "=",
  '${builtins.trace "INJECTED" "x"}',
  '" + (builtins.trace "INJECTED" "") + "',
  "é",
  "😀",
  "\u2028",
  "\x7f",
  "\x01",
];
const hostile = fc.oneof(
  fc.string({ unit: "binary" }).map((s) => s.replaceAll("\0", "")),
  fc
    .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 3 })), { maxLength: 12 })
    .map((xs) => xs.join("").replaceAll("\0", "")),
);

test("nix: any string, as a value or as an attribute name, evaluates to exactly itself and runs nothing", () => {
  let cases = 0;
  fc.assert(
    fc.property(fc.array(hostile, { minLength: 40, maxLength: 60 }), (strings) => {
      const names = Object.fromEntries(strings.map((s, i) => [s, i]));
      const spliced = nixJoin(
        Object.entries(names).map(([k, i]) => nix`${nixAttr(k)} = ${i};`),
        " ",
      );
      const { value, stderr } = evaluate(
        nix`{ values = ${strings}; names = ${names}; spliced = { ${spliced} }; inFunction = (x: x) ${strings[0] ?? ""}; }`,
      );
      assert.deepEqual(value, {
        values: strings,
        names,
        spliced: names,
        inFunction: strings[0] ?? "",
      });
      assert.equal(stderr, "", "evaluation printed something: code ran");
      cases += strings.length;
    }),
    { numRuns: 12 },
  );
  assert.ok(cases >= 400, `only ${cases} strings checked`);
});

test("nix: numbers, booleans, null, lists and nested attribute sets keep their values", () => {
  const data = {
    cpus: 4,
    offset: -3,
    big: Number.MAX_SAFE_INTEGER,
    on: true,
    off: false,
    none: null,
    empty: [],
    emptySet: {},
    nested: { "a.b": { "with space": ["x", 1, [true]] }, rec: "kw", in: "kw" },
  };
  assert.deepEqual(evaluate(nixValue(data)).value, data);
  // An undefined field is left out, not rendered as null.
  assert.deepEqual(evaluate(nixValue({ a: 1, b: undefined })).value, { a: 1 });
});

test("nix: only gate output is spliced as code; look-alike data stays data", () => {
  const code = nix`builtins.add 1 2`;
  // Where a template splices it is the template author's choice; inside lists it stays one element.
  assert.deepEqual(evaluate(nix`[ (${code}) ${[code]} ]`).value, [3, [3]]);
  // JSON cannot forge gate output: it is an attribute set, rendered as data.
  const forged = JSON.parse('{"text": "builtins.abort \\"x\\""}') as Record<string, string>;
  assert.deepEqual(evaluate(nixValue(forged)).value, forged);
  assert.deepEqual(evaluate(nix`${'builtins.abort "x"'}`).value, 'builtins.abort "x"');
});

test("nix: values Nix cannot hold are refused, not mangled", () => {
  assert.throws(() => nixValue("a\0b"), NixRenderError);
  assert.throws(() => nixValue({ "a\0": 1 }), NixRenderError);
  assert.throws(() => nixValue("\uD800"), /lone surrogate/);
  assert.throws(() => nixValue(1.5), /whole number/);
  assert.throws(() => nixValue(Number.NaN), /whole number/);
  assert.throws(() => nixValue(2 ** 60), /whole number/);
});

test("nix: the same input renders the same bytes", () => {
  fc.assert(
    fc.property(fc.dictionary(hostile, hostile), (d) => {
      assert.equal(nixText(nixValue(d)), nixText(nixValue({ ...d })));
    }),
  );
});
