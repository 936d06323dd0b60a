/** The anchor of the module-start benchmark: plain Node running a WASI module, nothing else. */
import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";

const [path, ...args] = process.argv.slice(2);
if (path === undefined) throw new Error("usage: plain-wasi.js MODULE [ARGS...]");
const wasi = new WASI({ version: "preview1", args: [path, ...args], env: {}, returnOnExit: true });
const instance = new WebAssembly.Instance(
  new WebAssembly.Module(readFileSync(path)),
  wasi.getImportObject() as Record<string, Record<string, unknown>>,
);
process.exitCode = wasi.start(instance);
