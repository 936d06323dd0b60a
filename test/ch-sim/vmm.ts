/**
 * The simulated VMM: Cloud Hypervisor's VM states and the status codes and error bodies of its
 * API at v53+ (BEHAVIOUR.md §2, §3, §4). Routes and request schemas come from the OpenAPI spec.
 */
import type { Route } from "./spec.js";
import type { SimRequest, SimResponse } from "./http.js";

export type VmState = "Created" | "Running" | "Paused";

export interface VmmHooks {
  /** An event for the event monitor: `source`, `event`, optional string properties. */
  event(source: string, event: string, properties?: Record<string, string>): void;
  /** A VM configuration was accepted: the serial socket is bound now. Throws if it cannot be. */
  created(config: Record<string, unknown>): void;
  /** The guest was booted (serial output starts) or torn down. */
  booted(config: Record<string, unknown>): void;
  tornDown(): void;
  /** The VMM process must exit after answering. */
  exit(): void;
}

export interface VmmOptions {
  readonly noShutdown: boolean;
  /** Test faults: calls that never answer, calls during which the VMM dies. */
  readonly hangOn: ReadonlySet<string>;
  readonly dieOn: ReadonlySet<string>;
}

const apiError = (status: number, ...chain: string[]): SimResponse => ({
  status,
  body: ["Error from API", ...chain],
});

/** Fields of VmConfig that are `Option`s in CH: shown as null when absent (BEHAVIOUR.md §2). */
const OPTIONAL_FIELDS = [
  "rate_limit_groups",
  "disks",
  "net",
  "rng",
  "balloon",
  "fs",
  "generic_vhost_user",
  "pmem",
  "serial",
  "console",
  "debug_console",
  "devices",
  "user_devices",
  "vdpa",
  "vsock",
  "numa",
  "tpm",
  "landlock_rules",
  "platform",
  "pvpanic",
  "iommu",
  "watchdog",
  "sgx_epc",
  "pci_segments",
];

function normalise(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  out.cpus ??= { boot_vcpus: 1, max_vcpus: 1 };
  out.memory ??= { size: 512 * 1024 * 1024 };
  for (const f of OPTIONAL_FIELDS) out[f] ??= null;
  return out;
}

export class Vmm {
  readonly #routes: ReadonlyMap<string, Route>;
  readonly #hooks: VmmHooks;
  readonly #opts: VmmOptions;
  #config: Record<string, unknown> | undefined;
  #state: VmState = "Created";
  #hung = false;
  #nextDevice = 0;

  constructor(routes: ReadonlyMap<string, Route>, hooks: VmmHooks, opts: VmmOptions) {
    this.#routes = routes;
    this.#hooks = hooks;
    this.#opts = opts;
  }

  get state(): VmState | undefined {
    return this.#config === undefined ? undefined : this.#state;
  }

  handle(req: SimRequest): Promise<SimResponse | "hang"> {
    if (this.#hung) return Promise.resolve("hang");
    const endpoint = req.endpoint;
    const route = endpoint === undefined ? undefined : this.#routes.get(endpoint);
    if (endpoint === undefined || route === undefined)
      return Promise.resolve({ status: 404, body: ["Not Found"] });
    if (this.#opts.hangOn.has(endpoint)) {
      this.#hung = true;
      return Promise.resolve("hang");
    }
    if (this.#opts.dieOn.has(endpoint)) {
      this.#hooks.exit();
      return Promise.resolve("hang");
    }
    if (req.method !== route.method)
      return Promise.resolve(
        apiError(400, `Wrong HTTP method ${req.method} for ${endpoint}: expected ${route.method}`),
      );
    let body: unknown;
    if (route.validate === undefined) {
      if (req.body !== undefined)
        return Promise.resolve(apiError(400, `Unexpected body for ${endpoint}`));
    } else {
      if (req.body === undefined) {
        if (route.bodyRequired)
          return Promise.resolve(apiError(400, `Missing body for ${endpoint}`));
      } else {
        try {
          body = JSON.parse(req.body.toString("utf8"));
        } catch (e) {
          return Promise.resolve(
            apiError(400, "Error parsing JSON", e instanceof Error ? e.message : String(e)),
          );
        }
        if (!route.validate(body)) {
          const first = route.validate.errors?.[0];
          return Promise.resolve(
            apiError(
              400,
              "Error parsing JSON",
              `${first?.instancePath ?? ""} ${first?.message ?? "invalid"}`.trim(),
            ),
          );
        }
      }
    }
    return Promise.resolve(this.#dispatch(endpoint, body));
  }

  #dispatch(endpoint: string, body: unknown): SimResponse {
    const created = this.#config !== undefined;
    const booted = created && this.#state !== "Created";
    switch (endpoint) {
      case "vmm.ping":
        return {
          status: 200,
          body: {
            build_version: "v53.0-sim",
            version: "53.0.0",
            pid: process.pid,
            features: ["kvm"],
          },
        };
      case "vmm.shutdown":
        if (created) this.#teardown(true);
        this.#hooks.event("vmm", "shutdown");
        this.#hooks.exit();
        return { status: 200 };
      case "vm.create":
        if (created) return apiError(500, "The VM could not be created", "VM is already created");
        try {
          this.#hooks.created(body as Record<string, unknown>);
        } catch (e) {
          return apiError(
            500,
            "The VM could not be created",
            e instanceof Error ? e.message : String(e),
          );
        }
        this.#config = body as Record<string, unknown>;
        this.#state = "Created";
        return { status: 204 };
      case "vm.boot":
        if (!created) return apiError(404, "The VM could not be booted", "VM is not created");
        if (booted) return apiError(500, "The VM could not be booted", "VM is already booted");
        this.#hooks.event("vm", "booting");
        this.#state = "Running";
        this.#hooks.booted(this.#config ?? {});
        this.#hooks.event("vm", "booted");
        return { status: 204 };
      case "vm.info":
        if (!created)
          return apiError(404, "The VM information could not be retrieved", "VM is not created");
        return {
          status: 200,
          body: {
            config: normalise(this.#config ?? {}),
            state: this.#state,
            memory_actual_size: booted
              ? ((normalise(this.#config ?? {}).memory as { size?: number }).size ?? 0)
              : 0,
            device_tree: {},
          },
        };
      case "vm.counters":
        if (!booted)
          return apiError(500, "The VM counters could not be retrieved", "VM is not running");
        return { status: 200, body: {} };
      case "vm.shutdown":
        if (!booted) return apiError(500, "The VM could not be shut down", "VM is not running");
        this.#teardown(false);
        return { status: 204 };
      case "vm.reboot":
        if (!booted) return apiError(404, "The VM could not be rebooted", "VM is not running");
        this.#hooks.event("vm", "rebooting");
        this.#hooks.tornDown();
        this.#state = "Running";
        this.#hooks.booted(this.#config ?? {});
        this.#hooks.event("vm", "rebooted");
        return { status: 204 };
      case "vm.power-button":
        if (!booted) return apiError(500, "The VM could not be powered off", "VM is not running");
        // The simulated guest obeys ACPI at once: it powers off.
        setImmediate(() => {
          this.#teardown(!this.#opts.noShutdown);
          if (!this.#opts.noShutdown) {
            this.#hooks.event("vmm", "shutdown");
            this.#hooks.exit();
          }
        });
        return { status: 204 };
      case "vm.pause":
        if (this.#state !== "Running" || !created)
          return apiError(500, "The VM could not be paused", "VM is not running");
        this.#hooks.event("vm", "pausing");
        this.#state = "Paused";
        this.#hooks.event("vm", "paused");
        return { status: 204 };
      case "vm.resume":
        if (this.#state !== "Paused" || !created)
          return apiError(500, "The VM could not be resumed", "VM is not paused");
        this.#hooks.event("vm", "resuming");
        this.#state = "Running";
        this.#hooks.event("vm", "resumed");
        return { status: 204 };
      case "vm.delete":
        if (created) this.#teardown(true);
        return { status: 204 };
      case "vm.resize":
        if (!created) return apiError(404, "The VM could not be resized", "VM is not created");
        return { status: 204 };
      case "vm.remove-device":
        return apiError(404, "The device could not be removed", "Unknown device id");
      default:
        if (endpoint.startsWith("vm.add-")) {
          if (!created) return apiError(404, "The device could not be added", "VM is not created");
          const id = (body as { id?: string } | undefined)?.id ?? `_dev${this.#nextDevice++}`;
          return booted
            ? { status: 200, body: { id, bdf: `0000:00:0${(this.#nextDevice % 8) + 1}.0` } }
            : { status: 204 };
        }
        return apiError(500, `The simulator does not implement ${endpoint}`);
    }
  }

  /** Tears the VM down; `dropConfig` removes the configuration too (delete, VMM exit). */
  #teardown(dropConfig: boolean): void {
    if (this.#config !== undefined && this.#state !== "Created") {
      this.#hooks.event("vm", "shutdown");
      this.#hooks.tornDown();
    }
    this.#state = "Created";
    if (dropConfig && this.#config !== undefined) {
      this.#config = undefined;
      this.#hooks.event("vm", "deleted");
    }
  }
}
