import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createCa, issue } from "../../src/pki/pki.js";

/** How the server answers one path: the file, and whether the next few answers are cut short. */
interface Route {
  body: Buffer;
  /** Answers still to cut off halfway (the connection dies after half the body). */
  cuts: number;
  requests: number;
}

/**
 * An HTTPS file server on 127.0.0.1 with its own CA, for tests of downloads: the CA file goes
 * into a daemon's NODE_EXTRA_CA_CERTS. It counts requests per path and can cut answers off.
 */
export class HttpsFiles {
  readonly #server: Server;
  readonly #routes: Map<string, Route>;
  /** The CA certificate file that makes the server trusted. */
  readonly caFile: string;

  private constructor(server: Server, routes: Map<string, Route>, caFile: string) {
    this.#server = server;
    this.#routes = routes;
    this.caFile = caFile;
  }

  static async start(dir: string): Promise<HttpsFiles> {
    const ca = { ...(await createCa("kcore test file server CA")), chainPem: "" };
    const leaf = await issue(ca, {
      commonName: "127.0.0.1",
      ipAddresses: ["127.0.0.1"],
      usage: "server-and-client",
    });
    const caFile = join(dir, "files-ca.pem");
    writeFileSync(caFile, ca.certPem);
    const routes = new Map<string, Route>();
    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
      const route = routes.get(req.url ?? "");
      if (!route) {
        res.writeHead(404).end();
        return;
      }
      route.requests += 1;
      res.writeHead(200, { "content-length": route.body.length });
      if (route.cuts > 0) {
        route.cuts -= 1;
        res.write(route.body.subarray(0, route.body.length >> 1), () => {
          setTimeout(() => res.destroy(), 50);
        });
        return;
      }
      res.end(route.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new HttpsFiles(server, routes, caFile);
  }

  /** Serves `body` at `path`; the first `cuts` answers end halfway. Returns the https URL. */
  serve(path: string, body: Buffer, cuts = 0): string {
    this.#routes.set(path, { body, cuts, requests: 0 });
    return `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`;
  }

  /** How many requests reached `path`. */
  requests(path: string): number {
    return this.#routes.get(path)?.requests ?? 0;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}
