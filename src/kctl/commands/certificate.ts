import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KcoreError } from "../../domain/errors.js";
import { NodeService } from "../../gen/kcore/v1/node_pb.js";
import { CERT_FILES } from "../../pki/cert-files.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { connect, type GlobalFlags } from "../connect.js";
import { out } from "../output.js";

/**
 * `kctl certificate sign --csr FILE --out-dir DIR`: has the cluster CA sign a node's request
 * (made on the node by `kcore agent init`); writes node.crt and ca.crt into DIR.
 */
export async function signNodeCsr(
  csrPath: string,
  outDir: string,
  flags: GlobalFlags,
): Promise<void> {
  let csrPem: string;
  try {
    csrPem = readFileSync(csrPath, "utf8");
  } catch {
    throw new KcoreError("InvalidArgument", `--csr: cannot read ${csrPath}`);
  }
  const c = connect(NodeService, flags);
  try {
    const res = await c.signNodeCertificate({ csrPem });
    writeFileAtomic(join(outDir, CERT_FILES.nodeCert), res.certificatePem, 0o644);
    writeFileAtomic(join(outDir, CERT_FILES.caCert), res.caCertificatePem, 0o644);
    out.line(`wrote ${join(outDir, CERT_FILES.nodeCert)} and ${join(outDir, CERT_FILES.caCert)}`);
  } finally {
    c.close();
  }
}
