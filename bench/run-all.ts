/** Runs every benchmark and prints Markdown for docs/benchmarks.md. Usage: npm run bench [-- NAME...] */
// Daemons log at info, as in production: per-call debug logs would be measured too.
process.env.KCORE_TEST_LOG_LEVEL ??= "info";
import { durableWrite } from "./durable-write.js";
import { density } from "./density.js";
import { moduleStart } from "./module-start.js";

const only = new Set(process.argv.slice(2));
const want = (name: string): boolean => only.size === 0 || only.has(name);

if (want("write")) console.log(`${await durableWrite(Number(process.env.BENCH_WRITES ?? 3000))}\n`);
if (want("start")) console.log(`${await moduleStart(Number(process.env.BENCH_STARTS ?? 20))}\n`);
if (want("density")) console.log(`${await density([10, 100])}\n`);
