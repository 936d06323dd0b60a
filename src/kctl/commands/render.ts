import { NodeService } from "../../gen/kcore/v1/node_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import { out } from "../output.js";

/** `kctl render nix --node NAME`: the node's VMs as the NixOS module its agent writes. */
export async function renderNix(node: string, flags: GlobalFlags): Promise<void> {
  const c = connect(NodeService, flags);
  try {
    const r = await c.renderNix({ name: node });
    await out.write(r.text);
  } finally {
    c.close();
  }
}
