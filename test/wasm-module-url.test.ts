import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildCModule } from "./helpers/fixtures.js";
import { TestCluster } from "./helpers/cluster.js";
import { HttpsFiles } from "./helpers/https-files.js";
import { workload } from "./helpers/manifests.js";

describe("WebAssembly modules from https URLs", () => {
  let c: TestCluster;
  let files: HttpsFiles;
  let filesDir: string;
  let module: Buffer;
  let digest: string;

  before(async () => {
    module = readFileSync(buildCModule("probe"));
    digest = createHash("sha256").update(module).digest("hex");
    filesDir = mkdtempSync(join(tmpdir(), "kcore-files-"));
    files = await HttpsFiles.start(filesDir);
    c = await TestCluster.start([{ name: "n1", env: { NODE_EXTRA_CA_CERTS: files.caFile } }]);
  });
  after(async () => {
    await c.stop();
    await files.close();
    rmSync(filesDir, { recursive: true, force: true });
  });

  const apply = async (...docs: string[]): Promise<void> => {
    const r = await c.kctlInput(docs.join("---\n"), "apply", "-f", "-");
    assert.equal(r.code, 0, r.stderr);
  };
  const waitPhase = async (name: string, phase: string): Promise<Record<string, unknown>> => {
    const r = await c.kctl("wait", "wasm", name, "--for", `phase=${phase}`, "--timeout", "60s");
    const status = (await c.json("get", "wasm", name)).status;
    assert.equal(r.code, 0, `${r.stderr} ${JSON.stringify(status)}`);
    return status;
  };

  test("a module fetched by URL and verified runs; two workloads share one download", async () => {
    const url = files.serve("/probe.wasm", module);
    const spec = (word: string) => ({
      module: { url, sha256: digest },
      args: ["print", word],
      restartPolicy: "Never",
    });
    await apply(workload("from-url-a", spec("first")), workload("from-url-b", spec("second")));
    await waitPhase("from-url-a", "Succeeded");
    await waitPhase("from-url-b", "Succeeded");
    assert.equal(await c.ok("logs", "from-url-a"), "first\n");
    assert.equal(await c.ok("logs", "from-url-b"), "second\n");
    assert.equal(files.requests("/probe.wasm"), 1);
    const cached = join(c.agentDir("n1"), "modules", `${digest}.wasm`);
    assert.deepEqual(readFileSync(cached), module);
  });

  test("a module whose bytes do not match sha256 never runs, and the message names both digests", async () => {
    const other = Buffer.concat([module, Buffer.from([0])]);
    const wrong = createHash("sha256").update(other).digest("hex");
    const url = files.serve("/tampered.wasm", other);
    // The served bytes are not the ones the manifest pins.
    await apply(
      workload("tampered", {
        module: { url, sha256: digest.replace(/^../, "00") },
        restartPolicy: "Never",
      }),
    );
    const s = await waitPhase("tampered", "Failed");
    assert.equal(s.reason, "InvalidModule");
    assert.match(
      String(s.message),
      new RegExp(`sha256 mismatch \\(expected 00[0-9a-f]{62}, got ${wrong}\\)`),
    );
    assert.equal(existsSync(join(c.agentDir("n1"), "modules", `${wrong}.wasm`)), false);
  });
});
