import { stringify } from "yaml";
import { exampleModule } from "./fixtures.js";

/** A WasmWorkload manifest. */
export function workload(
  name: string,
  spec: Record<string, unknown>,
  labels: Record<string, string> = {},
): string {
  return stringify({
    apiVersion: "kcore.dev/v1",
    kind: "WasmWorkload",
    metadata: { name, labels },
    spec,
  });
}

/** A VM manifest. */
export function vm(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: "kcore.dev/v1", kind: "VM", metadata: { name }, spec });
}

/** A small VM booting the test guest (one cpu, 256 MiB), with more spec fields in `extra`. */
export function guestVm(
  name: string,
  guest: { kernel: string; initrd: string },
  extra: Record<string, unknown> = {},
  cmdline = "console=ttyS0",
): string {
  return vm(name, {
    cpus: 1,
    memory: "256Mi",
    boot: { kernel: guest.kernel, initrd: guest.initrd, cmdline },
    ...extra,
  });
}

/** A WasmWorkload that ticks until stopped (examples/ticker.c with 0), stopped within 2 s. */
export function forever(name: string): string {
  return workload(name, {
    module: { path: exampleModule("ticker") },
    args: ["0"],
    terminationGracePeriodSeconds: 2,
  });
}
