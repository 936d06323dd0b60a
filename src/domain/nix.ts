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
  return Object.freeze({ [NIX_TEXT]: text });
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

/** A double-quoted Nix string literal that evaluates to exactly `s`. */
export function nixStringLiteral(s: string): string {
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

function render(v: NixValue, indent: string): string {
  if (isNix(v)) return v[NIX_TEXT];
  if (v === null) return "null";
  if (typeof v === "string") return nixStringLiteral(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v))
      throw new NixRenderError(`a number for Nix must be a whole number, got ${String(v)}`);
    return v < 0 ? `(${String(v)})` : String(v);
  }
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    const items = (v as readonly NixValue[]).map((x) => {
      const r = render(x, inner);
      // Gate output may be an application (`f x`): inside a list it must stay one element.
      return isNix(x) ? `(${r})` : r;
    });
    return items.length === 0
      ? "[ ]"
      : `[\n${items.map((i) => `${inner}${i}\n`).join("")}${indent}]`;
  }
  const entries = Object.entries(v as { readonly [name: string]: NixValue | undefined }).filter(
    (e): e is [string, NixValue] => e[1] !== undefined,
  );
  return entries.length === 0
    ? "{ }"
    : `{\n${entries.map(([k, x]) => `${inner}${nixAttrName(k)} = ${render(x, inner)};\n`).join("")}${indent}}`;
}

/** A Nix literal for a value (strings escaped, attribute names quoted as needed). */
export function nixValue(v: NixValue): Nix {
  return mark(render(v, ""));
}

/**
 * The tagged template: `nix\`{ x = ${value}; }\``. Literal parts are code; each interpolated
 * value becomes a Nix literal (or is spliced as is when it is gate output itself).
 */
export function nix(strings: TemplateStringsArray, ...values: readonly NixValue[]): Nix {
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    out += render(v, "") + (strings[i + 1] ?? "");
  });
  return mark(out);
}
