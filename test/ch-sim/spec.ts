/** The routes and request schemas of Cloud Hypervisor's API, read from its OpenAPI description. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import { parse } from "yaml";

export interface Route {
  readonly method: "GET" | "PUT";
  /** Validates the JSON body; undefined when the endpoint takes no body. */
  readonly validate: ValidateFunction | undefined;
  readonly bodyRequired: boolean;
  /** Status codes the spec documents for the endpoint. */
  readonly documented: readonly number[];
}

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        requestBody?: {
          required?: boolean;
          content?: Record<string, { schema?: { $ref?: string } }>;
        };
        responses?: Record<string, unknown>;
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
}

/** The spec vendored beside this file (an unmodified copy; see its header for origin and licence). */
export const SPEC_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "..",
  "test",
  "ch-sim",
  "cloud-hypervisor.yaml",
);

export function loadRoutes(path = SPEC_PATH): { routes: Map<string, Route>; spec: OpenApi } {
  const spec = parse(readFileSync(path, "utf8")) as OpenApi;
  // OpenAPI 3.0 schemas: `nullable` and formats such as int64 are keywords of the dialect.
  const ajv = new Ajv({ strict: false, allErrors: false, logger: false });
  // Integer formats as serde reads them: out of range is a 400, like a wrong type.
  const ranges: Record<string, [number, number]> = {
    int8: [-128, 127],
    uint8: [0, 255],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-(2 ** 31), 2 ** 31 - 1],
    uint32: [0, 2 ** 32 - 1],
    int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    uint64: [0, Number.MAX_SAFE_INTEGER],
  };
  for (const [name, [lo, hi]] of Object.entries(ranges)) {
    ajv.addFormat(name, {
      type: "number",
      validate: (n: number) => Number.isInteger(n) && n >= lo && n <= hi,
    });
  }
  ajv.addSchema({ components: spec.components }, "spec");
  const routes = new Map<string, Route>();
  for (const [p, ops] of Object.entries(spec.paths)) {
    for (const [m, op] of Object.entries(ops)) {
      const ref = op.requestBody?.content?.["application/json"]?.schema?.$ref;
      routes.set(p.replace(/^\//, ""), {
        method: m.toUpperCase() as "GET" | "PUT",
        validate: ref === undefined ? undefined : ajv.compile({ $ref: `spec${ref}` }),
        bodyRequired: op.requestBody?.required === true,
        documented: Object.keys(op.responses ?? {}).map(Number),
      });
    }
  }
  return { routes, spec };
}
