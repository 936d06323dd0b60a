import { Agent } from "../agent/agent.js";
import { Controller } from "../controller/controller.js";
import { parseName } from "../domain/names.js";
import { contextFromPems, loadConfig, upsertContext, configPath } from "../kctl/config.js";
import {
  CERT_FILES,
  ensureCa,
  ensureControllerCert,
  ensureNodeCert,
  issueAdmin,
  loadTls,
} from "../pki/pki-files.js";
import { defaultDataDir } from "../util/data-dir.js";
import { intFlag, untilSignal } from "./daemon.js";
import { defaultNodeName, type KcoreFlags } from "./flags.js";
import { createLogger } from "./logger.js";
import { agentTuning } from "./run-agent.js";

export const UP_CONTEXT = "local";

/** `kcore up`: PKI if missing, a controller and one agent in this process, kctl context written. */
export async function runUp(f: KcoreFlags): Promise<number> {
  const dataDir = f["data-dir"] ?? defaultDataDir();
  const controllerPort = intFlag("controller-port", f["controller-port"], 9090, 0, 65535);
  const agentPort = intFlag("agent-port", f["agent-port"], 9091, 0, 65535);
  const logger = createLogger(f["log-level"] ?? "warn", "kcore");
  const nodeName = parseName("--node-name", f["node-name"] ?? defaultNodeName());
  const { root, issuer } = await ensureCa(dataDir);
  await ensureControllerCert(dataDir, issuer);
  await ensureNodeCert(dataDir, issuer, nodeName);

  const controller = new Controller({
    dataDir,
    listen: `127.0.0.1:${controllerPort}`,
    logger,
  });
  const port = await controller.start();
  const address = `127.0.0.1:${port}`;

  const existing = loadConfig().contexts?.[UP_CONTEXT];
  const caData = Buffer.from(root.certPem).toString("base64");
  if (existing?.["ca-data"] === caData) {
    upsertContext(UP_CONTEXT, { ...existing, controller: address });
  } else {
    const admin = await issueAdmin(issuer);
    upsertContext(UP_CONTEXT, contextFromPems(address, root.certPem, admin.certPem, admin.keyPem));
  }

  const agent = new Agent({
    dataDir,
    nodeName,
    controller: address,
    listen: `127.0.0.1:${agentPort}`,
    labels: {},
    tls: loadTls(dataDir, CERT_FILES.nodeCert, CERT_FILES.nodeKey),
    logger,
    ...(await agentTuning(f)),
  });
  await agent.start();

  process.stdout
    .write(`kcore is up: controller on ${address}, node '${nodeName}' on 127.0.0.1:${agent.port}
data: ${dataDir}   kctl context '${UP_CONTEXT}' in ${configPath()}

Try, in another terminal:
  bin/kctl get nodes
  bin/kctl apply -f examples/hello.yaml
  bin/kctl wait wasm hello --for phase=Succeeded
  bin/kctl logs hello
  bin/kctl run ticker --wasm examples/build/ticker.wasm -- 5
  bin/kctl get wasm -o wide

Ctrl-C stops kcore; running workloads keep running and are adopted on the next 'kcore up'.
`);
  return untilSignal(async () => {
    await agent.stop();
    await controller.stop();
  });
}
