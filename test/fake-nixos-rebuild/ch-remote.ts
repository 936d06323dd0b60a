/**
 * `ch-remote --api-socket SOCK power-button`, the one ch-remote call the NixOS units make, for
 * the fake rebuild's units.
 */
import { request } from "node:http";

const args = process.argv.slice(2);
const i = args.indexOf("--api-socket");
const socketPath = i < 0 ? undefined : args[i + 1];
const command = args.at(-1);
if (socketPath === undefined || command !== "power-button") {
  process.stderr.write("usage: ch-remote --api-socket SOCK power-button\n");
  process.exit(2);
}
const req = request(
  { socketPath, method: "PUT", path: "/api/v1/vm.power-button", headers: { "Content-Length": 0 } },
  (res) => {
    res.resume();
    res.on("end", () => {
      process.exit(res.statusCode !== undefined && res.statusCode < 300 ? 0 : 1);
    });
  },
);
req.on("error", (e) => {
  process.stderr.write(`ch-remote: ${e.message}\n`);
  process.exit(1);
});
req.end();
