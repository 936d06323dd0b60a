import { main } from "../kctl/main.js";

process.exitCode = await main(process.argv.slice(2));
