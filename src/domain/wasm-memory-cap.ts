/**
 * Caps a WebAssembly module's linear memory by rewriting the maximum in its memory section, so
 * that `memory.grow` past the limit fails inside the module. Pure: bytes in, bytes out.
 */

export const WASM_PAGE_BYTES = 65_536;

export type CapResult =
  | {
      readonly kind: "capped";
      readonly bytes: Uint8Array;
      readonly maxPages: number;
      readonly minPages: number;
    }
  | { readonly kind: "too-small"; readonly minPages: number; readonly limitPages: number }
  | { readonly kind: "no-memory"; readonly bytes: Uint8Array }
  | { readonly kind: "invalid"; readonly message: string };

interface Reader {
  readonly b: Uint8Array;
  pos: number;
}

function readU32(r: Reader): number {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    const byte = r.b[r.pos++];
    if (byte === undefined) throw new Error("unexpected end of module");
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return result;
    shift += 7;
  }
  throw new Error("LEB128 value too long");
}

export function encodeU32(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Rewrites every defined 32-bit memory so that its maximum is at most `limitBytes`. */
export function capMemory(module: Uint8Array, limitBytes: number): CapResult {
  const limitPages = Math.floor(limitBytes / WASM_PAGE_BYTES);
  try {
    if (
      module.length < 8 ||
      module[0] !== 0 ||
      module[1] !== 0x61 ||
      module[2] !== 0x73 ||
      module[3] !== 0x6d
    ) {
      return { kind: "invalid", message: "not a WebAssembly module" };
    }
    const r: Reader = { b: module, pos: 8 };
    while (r.pos < module.length) {
      const sectionStart = r.pos;
      const id = module[r.pos++];
      const size = readU32(r);
      const contentStart = r.pos;
      const contentEnd = contentStart + size;
      if (contentEnd > module.length)
        return { kind: "invalid", message: "section runs past the end of the module" };
      if (id !== 5) {
        r.pos = contentEnd;
        continue;
      }
      const count = readU32(r);
      const out: number[] = [...encodeU32(count)];
      let minPages = 0;
      let maxPages = 0;
      for (let i = 0; i < count; i++) {
        const flags = module[r.pos++] ?? 0;
        if (flags > 3) return { kind: "invalid", message: "64-bit memories are not supported" };
        const min = readU32(r);
        const max = (flags & 1) !== 0 ? readU32(r) : undefined;
        if (min > limitPages) return { kind: "too-small", minPages: min, limitPages };
        const newMax = Math.min(max ?? limitPages, limitPages);
        out.push(flags | 1, ...encodeU32(min), ...encodeU32(newMax));
        minPages = Math.max(minPages, min);
        maxPages = Math.max(maxPages, newMax);
      }
      if (r.pos !== contentEnd) return { kind: "invalid", message: "malformed memory section" };
      const section = [5, ...encodeU32(out.length), ...out];
      const bytes = new Uint8Array(module.length - (contentEnd - sectionStart) + section.length);
      bytes.set(module.subarray(0, sectionStart), 0);
      bytes.set(section, sectionStart);
      bytes.set(module.subarray(contentEnd), sectionStart + section.length);
      return { kind: "capped", bytes, maxPages, minPages };
    }
    return { kind: "no-memory", bytes: module };
  } catch (e) {
    return { kind: "invalid", message: e instanceof Error ? e.message : String(e) };
  }
}
