import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { BackoffPolicy } from "../../domain/backoff.js";
import { KcoreError, NotFoundError } from "../../domain/errors.js";
import { VM_LIMITS, type Vm, type VmStatus } from "../../domain/vm.js";
import type { NodeConsoleInput } from "../../gen/kcore/v1/agent_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConsoleOutputSchema } from "../../gen/kcore/v1/vm_pb.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import type { HypervisorDriver } from "../../vm/driver.js";
import type { Clock } from "../clock.js";
import { readConsoleLog } from "./console.js";
import { ImageCache } from "./images.js";
import { RUNTIME_WRITE, UUID } from "../records.js";
import { StatusBatcher } from "../status-batcher.js";
import { vmPaths, type VmPaths } from "./vm-layout.js";
import { provisionVm } from "./vm-provision.js";
import { VmSupervisor } from "./vm-supervisor.js";
import type { VmRecord, VmRunner } from "./vm-runner.js";
import type { NixosRealizer } from "../nixos/realizer.js";
import { NixosVmRunner } from "../nixos/nixos-vm-runner.js";

/** A VM assigned to this node, with the public keys of the SshKeys it names. */
export interface VmAssignmentOnNode {
  readonly vm: Vm;
  readonly sshPublicKeys: readonly string[];
}

export interface VmManagerOptions {
  readonly dataDir: string;
  readonly runDir: string;
  readonly driver: HypervisorDriver;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly backoff: BackoffPolicy;
  readonly stopTimeoutMs: number;
  readonly pollMs: number;
  readonly report: (items: { vm: Vm; status: VmStatus }[]) => Promise<unknown>;
  /** With the nixos realizer: systemd runs the hypervisors, as the rebuilt configuration says. */
  readonly realizer?: NixosRealizer;
}

/** The node's VMs: one supervisor each, started, updated and removed to match the assignment. */
export class VmManager {
  readonly #o: VmManagerOptions;
  readonly #log: Logger;
  readonly #images: ImageCache;
  readonly #sups = new Map<string, { sup: VmRunner; keys: readonly string[]; paths: VmPaths }>();
  /** Removals in progress, by VM name: a new VM of the same name waits for its sockets. */
  readonly #removing = new Map<string, Promise<void>>();
  readonly #reports: StatusBatcher<{ vm: Vm; status: VmStatus }>;
  #closed = false;

  constructor(o: VmManagerOptions) {
    this.#o = o;
    this.#log = o.logger;
    this.#images = new ImageCache(o.dataDir);
    this.#reports = new StatusBatcher(o.report, this.#log);
  }

  #paths(vm: Vm): VmPaths {
    return vmPaths(
      this.#o.dataDir,
      this.#o.runDir,
      vm.metadata.name,
      vm.metadata.uid,
      this.#o.driver.kind,
    );
  }

  /** Re-attaches to every VM recorded on disk, before the controller is reachable. */
  adoptFromDisk(): void {
    this.#adopt();
    this.#o.realizer?.start();
  }

  #adopt(): void {
    const dir = join(this.#o.dataDir, "vms");
    if (!existsSync(dir)) return;
    for (const uid of readdirSync(dir)) {
      if (!UUID.test(uid)) continue;
      try {
        const a = JSON.parse(readFileSync(join(dir, uid, "vm.json"), "utf8")) as VmAssignmentOnNode;
        const rec = JSON.parse(readFileSync(join(dir, uid, "record.json"), "utf8")) as VmRecord;
        this.#supervise(a, rec);
      } catch (e) {
        this.#log.warn(
          { err: e instanceof Error ? e.message : String(e), uid },
          "cannot read VM record; it will be reconciled",
        );
      }
    }
  }

  #supervise(a: VmAssignmentOnNode, record?: VmRecord): void {
    const { vm } = a;
    const paths = this.#paths(vm);
    for (const d of [paths.stateDir, paths.logDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    writeFileAtomic(paths.assignment, JSON.stringify(a), 0o600, RUNTIME_WRITE);
    const uid = vm.metadata.uid;
    const common = {
      paths,
      clock: this.#o.clock,
      logger: this.#log.child({ vm: vm.metadata.name, uid: vm.metadata.uid }),
      backoff: this.#o.backoff,
      pollMs: this.#o.pollMs,
      provision: (cur: Vm, progress: (message: string) => void) =>
        // The keys of the newest assignment: they can change without a new generation.
        provisionVm(cur, this.#sups.get(uid)?.keys ?? a.sshPublicKeys, paths, {
          dataDir: this.#o.dataDir,
          images: this.#images,
          progress,
        }),
      persist: (rec: VmRecord) => {
        writeFileAtomic(paths.record, JSON.stringify(rec), 0o600, RUNTIME_WRITE);
      },
      report: (cur: Vm, status: VmStatus) => {
        this.#queue(cur, status);
      },
    };
    const realizer = this.#o.realizer;
    const sup: VmRunner = realizer
      ? new NixosVmRunner(vm, { ...common, realizer, startGraceMs: 15_000 })
      : new VmSupervisor(vm, {
          ...common,
          driver: this.#o.driver,
          stopTimeoutMs: this.#o.stopTimeoutMs,
        });
    this.#sups.set(uid, { sup, keys: a.sshPublicKeys, paths });
    sup.start(record);
  }

  /** Converges on the assigned set: starts what is new, updates what changed, removes the rest. */
  reconcile(assigned: readonly VmAssignmentOnNode[]): void {
    if (this.#closed) return;
    const want = new Map(assigned.map((a) => [a.vm.metadata.uid, a]));
    for (const [uid, e] of this.#sups) if (!want.has(uid)) this.#remove(uid, e.sup);
    for (const a of assigned) {
      const e = this.#sups.get(a.vm.metadata.uid);
      if (e) {
        const keysChanged = JSON.stringify(e.keys) !== JSON.stringify(a.sshPublicKeys);
        if (e.sup.vm.metadata.generation !== a.vm.metadata.generation || keysChanged) {
          e.keys = a.sshPublicKeys;
          writeFileAtomic(e.paths.assignment, JSON.stringify(a), 0o600, RUNTIME_WRITE);
          e.sup.update(a.vm);
        }
        continue;
      }
      const removing = this.#removing.get(a.vm.metadata.name);
      if (removing) {
        void removing.then(() => {
          if (!this.#sups.has(a.vm.metadata.uid) && !this.#closed) this.#supervise(a);
        });
        continue;
      }
      try {
        this.#supervise(a);
      } catch (e) {
        this.#queue(a.vm, {
          ...a.vm.status,
          state: "Failed",
          message: e instanceof Error ? e.message : String(e),
          lastTransitionTime: new Date(this.#o.clock.now()).toISOString(),
        });
      }
    }
  }

  #remove(uid: string, sup: VmRunner): void {
    const vm = sup.vm;
    const name = vm.metadata.name;
    if (this.#removing.has(name)) return;
    this.#log.info({ vm: name, uid }, "removing deleted VM");
    const paths = this.#paths(vm);
    const p = sup
      .delete()
      .then(() => {
        this.#sups.delete(uid);
        this.#reports.forget(uid);
        const kept = vm.spec.disks.filter((d) => d.keep);
        for (const d of vm.spec.disks)
          if (!d.keep) rmSync(join(paths.diskDir, `${d.name}.qcow2`), { force: true });
        if (kept.length === 0) rmSync(paths.diskDir, { recursive: true, force: true });
        else
          this.#log.info(
            { vm: name, dir: paths.diskDir, disks: kept.map((d) => d.name) },
            "kept disks of deleted VM",
          );
        rmSync(paths.stateDir, { recursive: true, force: true });
        rmSync(paths.logDir, { recursive: true, force: true });
      })
      .catch((e: unknown) => {
        this.#log.error({ err: e, vm: name }, "removing VM failed");
      })
      .finally(() => this.#removing.delete(name));
    this.#removing.set(name, p);
  }

  #find(name: string, uid: string): { sup: VmRunner; paths: VmPaths } {
    if (!UUID.test(uid)) throw new KcoreError("InvalidArgument", "vmUid: not a UUID");
    const e = this.#sups.get(uid);
    if (e?.sup.vm.metadata.name !== name) throw new NotFoundError("VM", name);
    return e;
  }

  readConsole(
    name: string,
    uid: string,
    opts: { follow: boolean; tailLines?: number; signal: AbortSignal },
  ): AsyncGenerator<Buffer> {
    return readConsoleLog(this.#find(name, uid).paths.consoleLog, opts);
  }

  /** An interactive console: the first message names the VM; later ones are keystrokes. */
  async attachConsole(
    requests: AsyncIterable<NodeConsoleInput>,
    signal: AbortSignal,
    send: (m: MessageInitShape<typeof ConsoleOutputSchema>) => void,
  ): Promise<void> {
    const it = requests[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done === true) return;
    const { sup } = this.#find(first.value.vmName, first.value.vmUid);
    const relay = sup.relay;
    if (!relay)
      throw new KcoreError("FailedPrecondition", `VM '${first.value.vmName}' is not running`);
    const session = relay.attach((d) => {
      send({ data: d });
    });
    try {
      if (first.value.data.length > 0) session.input(first.value.data);
      const ended = new Promise<void>((resolve) => {
        signal.addEventListener(
          "abort",
          () => {
            resolve();
          },
          { once: true },
        );
      });
      for (;;) {
        const next = await Promise.race([it.next(), ended.then(() => undefined)]);
        if (next === undefined || next.done === true) break;
        if (next.value.data.length > VM_LIMITS.maxConsoleInput)
          throw new KcoreError(
            "InvalidArgument",
            `data: at most ${VM_LIMITS.maxConsoleInput} bytes per message`,
          );
        session.input(next.value.data);
      }
    } finally {
      session.detach();
    }
  }

  #queue(vm: Vm, status: VmStatus): void {
    this.#reports.queue(vm.metadata.uid, { vm, status });
  }

  /** Reports every VM's status again (after a reconnect, and periodically). */
  reportAll(): void {
    for (const { sup } of this.#sups.values()) this.#queue(sup.vm, sup.status());
  }

  /** Stops supervising; hypervisors keep running (fail-static). */
  close(): void {
    this.#closed = true;
    this.#reports.close();
    for (const { sup } of this.#sups.values()) sup.close();
  }
}
