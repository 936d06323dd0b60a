/**
 * The VM Cloud Hypervisor is given on its command line (as the NixOS units start it): with a
 * `--kernel` or `--firmware`, CH creates and boots that VM at start-up. The subset of options
 * kcore's units use, turned into the `VmConfig` the API would take (BEHAVIOUR.md §1).
 */

/** Values of an option; `--disk a b` takes several, up to the next option. */
function values(args: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== name) continue;
    for (let j = i + 1; j < args.length && !(args[j] ?? "").startsWith("--"); j++)
      out.push(args[j] ?? "");
  }
  return out;
}

/** `key=value,key=value` as CH parses it (values cannot contain commas). */
function keyValues(option: string, text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 1) throw new Error(`Error parsing --${option}: invalid parameter ${part}`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

function size(option: string, text: string | undefined): number {
  const m = /^(\d+)([KMG]?)$/.exec(text ?? "");
  if (!m) throw new Error(`Error parsing --${option}: invalid size ${text ?? ""}`);
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit;
}

/** The VmConfig of the command line, or undefined when it names no payload. */
export function vmConfigFromArgs(args: readonly string[]): Record<string, unknown> | undefined {
  const one = (name: string): string | undefined => values(args, name)[0];
  const kernel = one("--kernel");
  const firmware = one("--firmware");
  if (kernel === undefined && firmware === undefined) return undefined;
  const cpus = keyValues("cpus", one("--cpus") ?? "boot=1");
  const boot = Number(cpus.boot ?? "1");
  const memory = keyValues("memory", one("--memory") ?? "size=512M");
  const initramfs = one("--initramfs");
  const cmdline = one("--cmdline");
  const serial = one("--serial");
  const console = one("--console");
  const net = values(args, "--net");
  const config: Record<string, unknown> = {
    cpus: { boot_vcpus: boot, max_vcpus: boot },
    memory: { size: size("memory", memory.size) },
    payload: {
      ...(kernel === undefined ? {} : { kernel }),
      ...(firmware === undefined ? {} : { firmware }),
      ...(initramfs === undefined ? {} : { initramfs }),
      ...(cmdline === undefined ? {} : { cmdline }),
    },
    disks: values(args, "--disk").map((d) => {
      const kv = keyValues("disk", d);
      return { path: kv.path, readonly: kv.readonly === "on" };
    }),
    serial:
      serial?.startsWith("socket=") === true
        ? { mode: "Socket", socket: serial.slice("socket=".length) }
        : { mode: serial === "off" ? "Off" : "Null" },
    console: { mode: console === "off" ? "Off" : "Tty" },
    pvpanic: args.includes("--pvpanic"),
  };
  if (net.length > 0)
    config.net = net.map((n) => {
      const kv = keyValues("net", n);
      return { tap: kv.tap, mac: kv.mac };
    });
  return config;
}
