import { toBinary, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Server, type ServerCredentials } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import type { Logger } from "pino";
import { HealthCheckResponse_ServingStatus, Health } from "../gen/grpc/health/v1/health_pb.js";
import { file_kcore_v1_access } from "../gen/kcore/v1/access_pb.js";
import { file_kcore_v1_agent } from "../gen/kcore/v1/agent_pb.js";
import { file_kcore_v1_module } from "../gen/kcore/v1/module_pb.js";
import { file_kcore_v1_node } from "../gen/kcore/v1/node_pb.js";
import { file_kcore_v1_wasm_workload } from "../gen/kcore/v1/wasm_workload_pb.js";
import { addGatedService, gateRawHandler, untilAborted, type GateOptions } from "./gate.js";

/** Largest message any daemon accepts (module uploads are the largest). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export const SERVER_OPTIONS = {
  "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  "grpc.max_concurrent_streams": 256,
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_ping_interval_without_data_ms": 10_000,
} as const;

function allFiles(files: readonly DescFile[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (f: DescFile): void => {
    if (seen.has(f.name)) return;
    seen.set(f.name, f);
    f.dependencies.forEach(visit);
  };
  files.forEach(visit);
  return [...seen.values()];
}

/** Adds grpc.health.v1 and server reflection (v1 and v1alpha) for the kcore.v1 API. */
export function addStandardServices(server: Server, gate: GateOptions): void {
  addGatedService(
    server,
    Health,
    {
      check: () => Promise.resolve({ status: HealthCheckResponse_ServingStatus.SERVING }),
      watch: async (_req, ctx, send) => {
        send({ status: HealthCheckResponse_ServingStatus.SERVING });
        await untilAborted(ctx.signal);
      },
    },
    gate,
  );
  const files = allFiles([
    file_kcore_v1_access,
    file_kcore_v1_agent,
    file_kcore_v1_module,
    file_kcore_v1_node,
    file_kcore_v1_wasm_workload,
  ]);
  const fileDescriptorProtos = files.map((f) =>
    Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)),
  );
  const reflection = new ReflectionService({
    "kcore.v1": { format: "Protocol Buffer 3 DescriptorProto", type: {}, fileDescriptorProtos },
  });
  // Reflection handlers are registered through the gate as well: wrap addService.
  reflection.addToServer(gatedServerShim(server, gate));
}

/**
 * Reflection registers its own handlers; this shim passes them through the same authorisation
 * check as every other method before they run.
 */
function gatedServerShim(server: Server, gate: GateOptions): Pick<Server, "addService"> {
  return {
    addService(service, implementation) {
      const wrapped: typeof implementation = {};
      for (const [name, handler] of Object.entries(implementation)) {
        const path = service[name]?.path ?? name;
        wrapped[name] = gateRawHandler(path, handler, gate);
      }
      server.addService(service, wrapped);
    },
  };
}

/** Binds a server to `address` and resolves with the port actually bound. */
export function bind(server: Server, address: string, creds: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => {
      if (err) reject(err);
      else resolve(port);
    });
  });
}

export function newServer(): Server {
  return new Server(SERVER_OPTIONS);
}

export function shutdown(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

export type { Logger };
