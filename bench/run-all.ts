/** Runs every benchmark and prints Markdown for docs/benchmarks.md. Usage: npm run bench [-- NAME...] */
// Daemons log at info, as in production: per-call debug logs would be measured too.
process.env.KCORE_TEST_LOG_LEVEL ??= "info";
import { durableWrite } from "./durable-write.js";
import { density } from "./density.js";
import { moduleStart } from "./module-start.js";
import { nixRender } from "./nix-render.js";
import { admissionShare, handshakes } from "./security.js";
import { vmDensity } from "./vm-density.js";
import { vmStart } from "./vm-start.js";

const only = new Set(process.argv.slice(2));
const want = (name: string): boolean => only.size === 0 || only.has(name);

if (want("write")) console.log(`${await durableWrite(Number(process.env.BENCH_WRITES ?? 3000))}\n`);
if (want("start")) console.log(`${await moduleStart(Number(process.env.BENCH_STARTS ?? 20))}\n`);
if (want("density")) console.log(`${await density([10, 100])}\n`);
if (want("vm-start")) console.log(`${await vmStart(Number(process.env.BENCH_VM_STARTS ?? 10))}\n`);
if (want("vm-density")) console.log(`${await vmDensity([1, 5, 20])}\n`);
if (want("handshake"))
  console.log(`${await handshakes(Number(process.env.BENCH_HANDSHAKES ?? 2000))}\n`);
if (want("admission"))
  console.log(`${await admissionShare(Number(process.env.BENCH_WRITES ?? 3000))}\n`);
if (want("nix-render")) console.log(`${nixRender([10, 100, 1000], 11)}\n`);
