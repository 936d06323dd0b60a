/**
 * Nix rendering: the time to render a node's module for 10, 100 and 1,000 VMs, against
 * `nix-instantiate --eval --strict` of the same output, in the same run.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseName } from "../src/domain/names.js";
import { nixText } from "../src/domain/nix.js";
import { renderNixosModule, type NixosVm } from "../src/domain/nixos-module.js";
import { typicalNixosVm } from "../test/helpers/nixos-vm.js";
import { fmt, percentile } from "./lib.js";

/** N VMs, each with its own command line, two disks and a seed. */
function vms(n: number): NixosVm[] {
  return Array.from({ length: n }, (_, i) =>
    typicalNixosVm(`vm-${i}`, {
      boot: {
        kind: "kernel",
        kernel: "/var/lib/images/vmlinuz",
        initrd: "/var/lib/images/initrd.img",
        cmdline: `console=ttyS0 root=/dev/vda1 kcore.vm=vm-${i}`,
      },
      disks: [
        { path: `/var/lib/kcore/disks/vm-${i}/root.qcow2`, format: "qcow2", readOnly: false },
        { path: `/var/lib/kcore/disks/vm-${i}/data.qcow2`, format: "qcow2", readOnly: false },
      ],
    }),
  );
}

const median = (xs: number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

export function nixRender(counts: readonly number[], runs: number): string {
  const dir = mkdtempSync(join(tmpdir(), "kcore-bench-nix-"));
  const rows: string[] = [];
  try {
    const node = parseName("node", "bench");
    for (const n of counts) {
      const input = vms(n);
      const render: number[] = [];
      const evaluate: number[] = [];
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        const text = nixText(renderNixosModule(node, input));
        render.push(performance.now() - t0);
        const file = join(dir, `m${n}.nix`);
        writeFileSync(file, text);
        const t1 = performance.now();
        execFileSync("nix-instantiate", ["--eval", "--strict", "-E", `(import ${file} { })`], {
          stdio: ["ignore", "ignore", "inherit"],
        });
        evaluate.push(performance.now() - t1);
      }
      const [r, e] = [median(render), median(evaluate)];
      rows.push(`| ${n} | ${fmt(r, 3)} | ${fmt(e, 1)} | ${fmt((r / e) * 100, 2)} % |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return [
    `Nix rendering: a node's module for N VMs (two disks, a seed and a kernel each), median of ${runs} runs, against nix-instantiate --eval --strict of the same file (process start included)`,
    "",
    "| VMs | render ms | nix-instantiate ms | render / evaluation |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
}
