import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { KCORE_VERSION } from "../../version.js";
import { resolveContext } from "../config.js";
import { connect, type GlobalFlags } from "../connect.js";
import { out } from "../output.js";

export async function version(flags: GlobalFlags): Promise<void> {
  out.line(`Client Version: v${KCORE_VERSION}`);
  let ctx;
  try {
    ctx = resolveContext(flags.context);
  } catch {
    return;
  }
  const c = connect(Health, flags);
  try {
    const res = await c.check({ service: "" }, { timeoutMs: 5000 });
    out.line(
      `Controller: ${ctx.addresses[0] ?? ""} (${HealthCheckResponse_ServingStatus[res.status]})`,
    );
  } catch (e) {
    out.line(
      `Controller: ${ctx.addresses[0] ?? ""} (unreachable: ${e instanceof Error ? e.message : String(e)})`,
    );
  } finally {
    c.close();
  }
}
