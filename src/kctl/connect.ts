import type { DescService } from "@bufbuild/protobuf";
import { createClient, type ServiceClient } from "../api/grpc-client.js";
import { clientCredentials } from "../api/tls.js";
import { resolveContext } from "./config.js";

/** Global flags every command accepts. */
export interface GlobalFlags {
  readonly context?: string;
}

/** A client of the current context's controller. */
export function connect<S extends DescService>(service: S, flags: GlobalFlags): ServiceClient<S> {
  const ctx = resolveContext(flags.context);
  const address = ctx.addresses[0] ?? "";
  return createClient(service, address, clientCredentials(ctx.tls, "controller"));
}
