/**
 * The one gate for Nix text. Nix source is produced only by the `nix` tagged template: its
 * literal parts are written in this code base, and every interpolated value is turned into a
 * Nix literal that evaluates to exactly that value (strings are escaped, attribute names are
 * quoted when they are not plain identifiers, never rewritten). Only a value that came out of
 * this gate (`Nix`) is spliced in as code; nothing else can carry that mark, not even JSON.
 */
import { KcoreError } from "./errors.js";

const NIX_TEXT: unique symbol = Symbol("nix text");

/** Nix source text produced by the gate. */
export interface Nix {
  readonly [NIX_TEXT]: string;
}

/** What can be interpolated: data, rendered as Nix literals, or Nix from the gate itself. */
export type NixValue =
  | string
  | number
  | boolean
  | null
  | Nix
  | readonly NixValue[]
  | { readonly [name: string]: NixValue | undefined };

/** A value that cannot be represented in Nix (a NUL byte, a fractional number, ...). */
export class NixRenderError extends KcoreError {
  constructor(message: string) {
    super("InvalidArgument", message);
    this.name = "NixRenderError";
  }
}

function isNix(v: unknown): v is Nix {
  return typeof v === "object" && v !== null && NIX_TEXT in v;
}

function mark(text: string): Nix {
  // Not frozen (freezing costs more than the rest of rendering): the key is a symbol private to
  // this module, so no code outside it can read or write it, and no input can carry it.
  return { [NIX_TEXT]: text };
}

/** The source text of gate output, to write to a file. */
export function nixText(n: Nix): string {
  return n[NIX_TEXT];
}

const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  '"': '\\"',
  // Every `$` is escaped, so neither `${` nor `$${` can ever start an interpolation.
  $: "\\$",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** Nothing to escape, no NUL, no surrogate (lone or paired: the slow check decides). */
const PLAIN = /^[^\\"$\n\r\t\0\uD800-\uDFFF]*$/;

/** A double-quoted Nix string literal that evaluates to exactly `s`. */
export function nixStringLiteral(s: string): string {
  // Most strings (names, paths, numbers as text) need no escape at all.
  if (PLAIN.test(s)) return `"${s}"`;
  if (s.includes("\0")) throw new NixRenderError("a string for Nix cannot contain a NUL byte");
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s))
    throw new NixRenderError("a string for Nix must be valid Unicode (lone surrogate)");
  return `"${s.replace(/[\\"$\n\r\t]/g, (c) => ESCAPES[c] ?? c)}"`;
}

const KEYWORDS = new Set([
  "assert",
  "else",
  "if",
  "in",
  "inherit",
  "let",
  "or",
  "rec",
  "then",
  "with",
]);

/** An attribute name: bare when it is a plain identifier, else a quoted string; never changed. */
export function nixAttrName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) && !KEYWORDS.has(name)
    ? name
    : nixStringLiteral(name);
}

function nixNumber(v: number): string {
  if (!Number.isSafeInteger(v))
    throw new NixRenderError(`a number for Nix must be a whole number, got ${String(v)}`);
  return v < 0 ? `(${String(v)})` : String(v);
}

/** Appends the Nix literal for `v` to `out` (one buffer for the whole value). */
function render(v: NixValue, indent: string, out: string[]): void {
  if (isNix(v)) out.push(v[NIX_TEXT]);
  else if (v === null) out.push("null");
  else if (typeof v === "string") out.push(nixStringLiteral(v));
  else if (typeof v === "boolean") out.push(v ? "true" : "false");
  else if (typeof v === "number") out.push(nixNumber(v));
  else if (Array.isArray(v)) {
    const items = v as readonly NixValue[];
    if (items.length === 0) {
      out.push("[ ]");
      return;
    }
    const inner = `${indent}  `;
    out.push("[\n");
    for (const x of items) {
      out.push(inner);
      // Gate output may be an application (`f x`): inside a list it must stay one element.
      if (isNix(x)) out.push("(", x[NIX_TEXT], ")");
      else render(x, inner, out);
      out.push("\n");
    }
    out.push(indent, "]");
  } else {
    const attrs = v as { readonly [name: string]: NixValue | undefined };
    const inner = `${indent}  `;
    const start = out.length;
    out.push("{\n");
    let any = false;
    for (const k in attrs) {
      const x = attrs[k];
      if (x === undefined || !Object.hasOwn(attrs, k)) continue;
      any = true;
      out.push(inner, nixAttrName(k), " = ");
      render(x, inner, out);
      out.push(";\n");
    }
    if (any) out.push(indent, "}");
    else out.splice(start, out.length - start, "{ }");
  }
}

function renderToString(v: NixValue): string {
  // Scalars are most of what templates interpolate: no buffer for them.
  if (typeof v === "string") return nixStringLiteral(v);
  if (typeof v === "number") return nixNumber(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (v === null) return "null";
  if (isNix(v)) return v[NIX_TEXT];
  const out: string[] = [];
  render(v, "", out);
  return out.join("");
}

/** An attribute name as gate output, to splice before `=` in a template. */
export function nixAttr(name: string): Nix {
  return mark(nixAttrName(name));
}

/** Gate outputs one after another, with a fixed separator (never data). */
export function nixJoin(parts: readonly Nix[], separator: "" | " " | "\n"): Nix {
  return mark(parts.map((p) => p[NIX_TEXT]).join(separator));
}

/** A Nix literal for a value (strings escaped, attribute names quoted as needed). */
export function nixValue(v: NixValue): Nix {
  return mark(renderToString(v));
}

/**
 * The tagged template: `nix\`{ x = ${value}; }\``. Literal parts are code; each interpolated
 * value becomes a Nix literal (or is spliced as is when it is gate output itself).
 */
export function nix(strings: TemplateStringsArray, ...values: readonly NixValue[]): Nix {
  // One check for all the template's strings: usually none needs escaping.
  let joined = "";
  for (const v of values) if (typeof v === "string") joined += v;
  const plain = PLAIN.test(joined);
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? null;
    out += (typeof v === "string" && plain ? `"${v}"` : renderToString(v)) + (strings[i + 1] ?? "");
  }
  return mark(out);
}
