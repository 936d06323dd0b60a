import type { ServiceImpl } from "../../api/gate.js";
import type { ModuleService } from "../../gen/kcore/v1/module_pb.js";
import type { ControllerContext } from "../context.js";

export function moduleService(c: ControllerContext): ServiceImpl<typeof ModuleService> {
  return {
    uploadModule(req) {
      const { sha256, size } = c.blobs.put(req.content, req.sha256);
      c.logger.info({ sha256, size }, "stored module");
      return Promise.resolve({ sha256, sizeBytes: BigInt(size) });
    },
    fetchModule(req) {
      return Promise.resolve({ content: c.blobs.get(req.sha256) });
    },
  };
}
