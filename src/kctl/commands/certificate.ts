import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KcoreError } from "../../domain/errors.js";
import { NodeService } from "../../gen/kcore/v1/node_pb.js";
import { AccessService } from "../../gen/kcore/v1/access_pb.js";
import { assertNever } from "../../domain/assert-never.js";
import { renderDocuments, table, type OutputFormat } from "../format.js";
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

/** `kctl certificate list [-o ...]`: the controller's certificate registry. */
export async function listCertificates(format: OutputFormat, flags: GlobalFlags): Promise<void> {
  const c = connect(AccessService, flags);
  try {
    const { items } = await c.listCertificates({});
    const docs = items.map((i) => ({
      serial: i.serial,
      commonName: i.commonName,
      issuedAt: i.issuedAt,
      notAfter: i.notAfter,
      revokedAt: i.revokedAt,
      issuerSerial: i.issuerSerial,
    }));
    switch (format) {
      case "json":
      case "yaml":
        out.line(renderDocuments(docs, format, true));
        return;
      case "table":
      case "wide":
        out.line(
          table([
            [
              "SERIAL",
              "IDENTITY",
              "NOT AFTER",
              "STATE",
              ...(format === "wide" ? ["ISSUED", "ISSUER"] : []),
            ],
            ...docs.map((d) => [
              d.serial,
              d.commonName === "" ? "<unknown>" : d.commonName,
              d.notAfter === "" ? "-" : d.notAfter,
              d.revokedAt === "" ? "valid" : `revoked ${d.revokedAt}`,
              ...(format === "wide" ? [d.issuedAt, d.issuerSerial] : []),
            ]),
          ]),
        );
        return;
      default:
        assertNever(format);
    }
  } finally {
    c.close();
  }
}

/** `kctl certificate revoke SERIAL`: refused at once on new handshakes, open connections closed. */
export async function revokeCertificate(serial: string, flags: GlobalFlags): Promise<void> {
  const c = connect(AccessService, flags);
  try {
    const res = await c.revoke({ target: { case: "serial", value: serial } });
    out.line(
      res.serials.length === 0
        ? `certificate ${serial} was already revoked`
        : `certificate ${serial} revoked`,
    );
  } finally {
    c.close();
  }
}

/** `kctl rotate intermediate|controller`: new CA or controller certificate, served at once. */
export async function rotate(target: string, flags: GlobalFlags): Promise<void> {
  const c = connect(AccessService, flags);
  try {
    const res = await c.rotate({ target });
    out.line(`${target} rotated: new certificate ${res.serial}, valid until ${res.notAfter}`);
  } finally {
    c.close();
  }
}
