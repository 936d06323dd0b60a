/** Builds examples/*.wat into examples/build/*.wasm with the wabt npm package (no system tools). */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const src = join(root, "examples");
const out = join(src, "build");
mkdirSync(out, { recursive: true });
const wabt = await wabtInit();
for (const file of readdirSync(src).filter((f) => f.endsWith(".wat"))) {
  const mod = wabt.parseWat(file, readFileSync(join(src, file), "utf8"));
  mod.validate();
  const { buffer } = mod.toBinary({});
  writeFileSync(join(out, file.replace(/\.wat$/, ".wasm")), buffer);
  mod.destroy();
}
