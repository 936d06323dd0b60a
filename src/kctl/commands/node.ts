import { KcoreError } from "../../domain/errors.js";
import { AccessService } from "../../gen/kcore/v1/access_pb.js";
import { NodeService } from "../../gen/kcore/v1/node_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import { parseDuration } from "../duration.js";
import { out } from "../output.js";

export const NODE_USAGE =
  "usage: kctl node approve|reject|cordon|uncordon|drain|revoke NAME | kctl node token create [--ttl 1h]";

type NodeVerb = "approve" | "reject" | "cordon" | "uncordon" | "drain" | "revoke";

const DONE: Readonly<Record<NodeVerb, string>> = {
  approve: "approved",
  reject: "rejected (its certificates are revoked)",
  cordon: "cordoned",
  uncordon: "uncordoned",
  drain: "drained",
  revoke: "certificates revoked",
};

function nodeVerb(v: string | undefined): NodeVerb {
  if (
    v === "approve" ||
    v === "reject" ||
    v === "cordon" ||
    v === "uncordon" ||
    v === "drain" ||
    v === "revoke"
  )
    return v;
  throw new KcoreError("InvalidArgument", NODE_USAGE);
}

/** `kctl node VERB NAME`. */
export async function nodeCommand(
  verb: string | undefined,
  name: string,
  flags: GlobalFlags,
): Promise<void> {
  const v = nodeVerb(verb);
  if (v === "revoke") {
    const c = connect(AccessService, flags);
    try {
      const res = await c.revoke({ target: { case: "nodeName", value: name } });
      out.line(
        res.serials.length === 0
          ? `node/${name}: no valid certificates to revoke`
          : `node/${name} ${DONE.revoke}: ${res.serials.join(", ")}`,
      );
    } finally {
      c.close();
    }
    return;
  }
  const c = connect(NodeService, flags);
  try {
    const req = { name };
    switch (v) {
      case "approve":
        await c.approveNode(req);
        break;
      case "reject":
        await c.rejectNode(req);
        break;
      case "cordon":
        await c.cordonNode(req);
        break;
      case "uncordon":
        await c.uncordonNode(req);
        break;
      case "drain": {
        const res = await c.drainNode(req);
        for (const e of res.evicted) out.line(`${e} evicted`);
        for (const r of res.remaining)
          out.note(`${r} stays on node/${name}: VMs are not moved (their disks are on the node)`);
        break;
      }
    }
    out.line(`node/${name} ${DONE[v]}`);
  } finally {
    c.close();
  }
}

/** `kctl node token create [--ttl 1h]`: prints a one-time bootstrap token on stdout. */
export async function createJoinToken(ttl: string | undefined, flags: GlobalFlags): Promise<void> {
  const ttlMs = ttl === undefined ? 0 : parseDuration("--ttl", ttl);
  if (ttl !== undefined && ttlMs < 1000)
    throw new KcoreError("InvalidArgument", `--ttl: at least 1s, got ${JSON.stringify(ttl)}`);
  const c = connect(AccessService, flags);
  try {
    const res = await c.createJoinToken({ ttlSeconds: BigInt(Math.round(ttlMs / 1000)) });
    out.line(res.token);
    out.note(
      `one node may join with it until ${res.expiresAt}: kcore agent --join HOST:JOIN-PORT --token <token>`,
    );
  } finally {
    c.close();
  }
}
