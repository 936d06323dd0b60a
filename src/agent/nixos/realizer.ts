import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { SafeName } from "../../domain/names.js";
import { nixText } from "../../domain/nix.js";
import { renderNixosModule, type NixosVm } from "../../domain/nixos-module.js";
import type { RebuildOutcome } from "../../domain/node.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { isSameProcess } from "../../util/processes.js";
import type { Clock } from "../clock.js";
import { runRebuild, type RebuildRun } from "./rebuild-command.js";

export interface NixosRealizerOptions {
  readonly node: SafeName;
  /** Where the rendered module goes (`/etc/nixos/kcore-vms.nix`); the host's configuration imports it. */
  readonly configFile: string;
  /** The rebuild command's argv prefix; `test` or `switch` is appended. */
  readonly rebuildCommand: readonly string[];
  /** `<data-dir>/nixos`: the realizer's record and the last good module. */
  readonly stateDir: string;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Quiet time after a change before a rebuild starts, so that a burst becomes one. Default 250 ms. */
  readonly debounceMs?: number;
  /** Longest a rebuild step may run. Default 1 h. */
  readonly timeoutMs?: number;
  /** A module that failed is tried again after this long, if nothing changes first. Default 10 min. */
  readonly retryFailedMs?: number;
  /** The NixOS system profile, read for the generation number after a switch. */
  readonly systemProfile?: string;
  /** Sends an outcome to the controller (retried by the caller's next report on failure). */
  report(outcome: RebuildOutcome): void;
}

/** Where one VM stands with the realizer, for its status. */
export type RealizedState =
  | { readonly kind: "applied"; readonly generation: number }
  | { readonly kind: "pending"; readonly applying: boolean }
  | { readonly kind: "failed"; readonly outcome: RebuildOutcome };

/** A rendered module and the VM entries it was rendered from (by uid, as JSON). */
interface Rendering {
  readonly sha256: string;
  readonly entries: Readonly<Record<string, string>>;
}

/** What survives an agent restart (`<state-dir>/realizer.json`). */
interface RealizerRecord {
  readonly generation: number;
  readonly applied?: Rendering | undefined;
  readonly failed?: (Rendering & { readonly outcome: RebuildOutcome }) | undefined;
  /** A rebuild that had started when the record was written. */
  readonly inProgress?: { readonly pid: number; readonly startTime: string } | undefined;
  readonly outcome?: RebuildOutcome | undefined;
}

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/**
 * The `nixos` realizer: the node's VMs as one rendered module, applied with `nixos-rebuild test`
 * and, only when that succeeds, `switch`. One rebuild at a time; changes that arrive meanwhile
 * (or within the debounce) are applied together by the next one. A failed rebuild puts the last
 * good module back, so that the host's own next rebuild is not broken by it.
 */
export class NixosRealizer {
  readonly #o: NixosRealizerOptions;
  readonly #log: Logger;
  /** VMs the node runs, by uid; `undefined` until the VM's first entry is ready. */
  readonly #members = new Map<string, NixosVm | undefined>();
  #record: RealizerRecord;
  #applying: Rendering | undefined;
  #timer: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #dirty = false;
  /** Rebuild even when the rendering is the applied one (an earlier rebuild's outcome is unknown). */
  #force = false;
  /** The failed module is due to be tried again. */
  #retryDue = false;
  #retryTimer: (() => void) | undefined;
  #closed = false;
  readonly #settled: (() => void)[] = [];

  constructor(o: NixosRealizerOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: "nixos-realizer" });
    mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
    this.#record = this.#load();
  }

  get #recordFile(): string {
    return join(this.#o.stateDir, "realizer.json");
  }

  get #lastGoodFile(): string {
    return join(this.#o.stateDir, "last-good.nix");
  }

  #load(): RealizerRecord {
    try {
      return JSON.parse(readFileSync(this.#recordFile, "utf8")) as RealizerRecord;
    } catch {
      return { generation: 0 };
    }
  }

  #save(r: RealizerRecord): void {
    this.#record = r;
    writeFileAtomic(this.#recordFile, JSON.stringify(r), 0o600);
  }

  /** The last outcome, to report again after a reconnect. */
  lastOutcome(): RebuildOutcome | undefined {
    return this.#record.outcome;
  }

  /**
   * Starts applying, once the VMs recorded on the node have joined: a rebuild an earlier agent
   * process left unfinished is waited for and done again.
   */
  start(): void {
    if (this.#record.inProgress) this.#changed();
  }

  /** A VM joins the node: until its entry is ready, the applied one (if any) stays. */
  join(uid: string): void {
    if (!this.#members.has(uid)) this.#members.set(uid, undefined);
  }

  /** The VM's entry for its current spec is ready. */
  set(uid: string, vm: NixosVm): void {
    this.#members.set(uid, vm);
    this.#changed();
  }

  /** The VM leaves the node: the next rebuild removes its unit, which stops it. */
  leave(uid: string): void {
    if (this.#members.delete(uid)) this.#changed();
  }

  /** Where the VM's current entry stands. */
  stateOf(uid: string): RealizedState {
    const want = this.#members.get(uid);
    const json = want === undefined ? undefined : JSON.stringify(want);
    const r = this.#record;
    if (json !== undefined && r.applied?.entries[uid] === json)
      return { kind: "applied", generation: r.generation };
    if (json !== undefined && r.failed?.entries[uid] === json)
      return { kind: "failed", outcome: r.failed.outcome };
    return {
      kind: "pending",
      applying: json !== undefined && this.#applying?.entries[uid] === json,
    };
  }

  /** Whether no unit for `uid` is in the applied configuration (its removal has been applied). */
  isGone(uid: string): boolean {
    return this.#record.applied?.entries[uid] === undefined;
  }

  /** Resolves when no rebuild is running or waiting. */
  settled(): Promise<void> {
    if (!this.#running && !this.#dirty && !this.#timer) return Promise.resolve();
    return new Promise((resolve) => this.#settled.push(resolve));
  }

  /** The module as it would be written now. */
  render(): { text: string; rendering: Rendering } {
    const vms: NixosVm[] = [];
    const entries: Record<string, string> = {};
    for (const [uid, want] of this.#members) {
      const json = want === undefined ? this.#record.applied?.entries[uid] : JSON.stringify(want);
      if (json === undefined) continue;
      entries[uid] = json;
      vms.push(JSON.parse(json) as NixosVm);
    }
    const text = nixText(renderNixosModule(this.#o.node, vms));
    return { text, rendering: { sha256: sha256(text), entries } };
  }

  #changed(): void {
    if (this.#closed) return;
    this.#dirty = true;
    if (this.#running) return; // the running rebuild looks again when it ends
    this.#timer?.();
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#loop().finally(() => {
        this.#running = undefined;
        if (this.#dirty) this.#changed();
        else for (const s of this.#settled.splice(0)) s();
      });
    }, this.#o.debounceMs ?? 250);
  }

  async #loop(): Promise<void> {
    await this.#waitForLeftover();
    while (this.#dirty && !this.#closed) {
      this.#dirty = false;
      const { text, rendering } = this.render();
      const r = this.#record;
      if (!this.#force) {
        if (rendering.sha256 === r.applied?.sha256) {
          if (r.failed) this.#save({ ...r, failed: undefined });
          continue;
        }
        // The same module failed: tried again when the retry is due, not on every change.
        if (rendering.sha256 === r.failed?.sha256 && !this.#retryDue) continue;
      }
      this.#force = false;
      this.#retryDue = false;
      await this.#rebuild(text, rendering);
    }
  }

  /** A rebuild started by an earlier agent process may still run: never start a second one. */
  async #waitForLeftover(): Promise<void> {
    const left = this.#record.inProgress;
    if (!left) return;
    if (isSameProcess(left.pid, left.startTime)) {
      this.#log.info({ pid: left.pid }, "waiting for the rebuild an earlier agent started");
      while (isSameProcess(left.pid, left.startTime) && !this.#closed)
        await new Promise((r) => setTimeout(r, 200));
    }
    // Its outcome is unknown: the module is rendered and applied again.
    this.#save({ ...this.#record, inProgress: undefined });
    this.#force = true;
    this.#dirty = true;
  }

  async #rebuild(text: string, rendering: Rendering): Promise<void> {
    const startedAt = new Date(this.#o.clock.now()).toISOString();
    const base = {
      generation: this.#record.generation,
      systemGeneration: this.#systemGeneration(),
      configSha256: rendering.sha256,
      startedAt,
      finishedAt: "",
      outputTail: "",
    };
    this.#applying = rendering;
    this.#o.report({
      ...base,
      state: "Applying",
      phase: "test",
      message: "nixos-rebuild test",
    });
    this.#log.info({ sha256: rendering.sha256 }, "applying the rendered module");
    writeFileAtomic(this.#o.configFile, text, 0o644);
    const test = await this.#run("test");
    const sw = test.ok ? await this.#run("switch") : undefined;
    this.#applying = undefined;
    const finishedAt = new Date(this.#o.clock.now()).toISOString();
    if (sw?.ok === true) {
      writeFileAtomic(this.#lastGoodFile, text, 0o600);
      const generation = this.#record.generation + 1;
      const outcome: RebuildOutcome = {
        ...base,
        generation,
        systemGeneration: this.#systemGeneration(),
        state: "Succeeded",
        phase: "switch",
        message: `applied ${Object.keys(rendering.entries).length} VMs`,
        outputTail: sw.tail,
        finishedAt,
      };
      this.#save({ generation, applied: rendering, outcome });
      this.#log.info({ generation }, "rebuild succeeded");
      this.#o.report(outcome);
      return;
    }
    const failedRun: RebuildRun = sw ?? test;
    const phase = sw ? "switch" : "test";
    this.#restoreLastGood();
    const outcome: RebuildOutcome = {
      ...base,
      state: "Failed",
      phase,
      message: `nixos-rebuild ${phase} ${failedRun.how}; the last good configuration (generation ${base.generation}) was kept`,
      outputTail: failedRun.tail,
      finishedAt,
    };
    this.#save({
      ...this.#record,
      failed: { ...rendering, outcome },
      inProgress: undefined,
      outcome,
    });
    this.#log.warn({ phase, how: failedRun.how }, "rebuild failed");
    this.#retryTimer?.();
    this.#retryTimer = this.#o.clock.setTimeout(() => {
      this.#retryDue = true;
      this.#changed();
    }, this.#o.retryFailedMs ?? 600_000);
    this.#o.report(outcome);
  }

  #run(phase: "test" | "switch"): Promise<RebuildRun> {
    return runRebuild(
      [...this.#o.rebuildCommand, phase],
      this.#o.timeoutMs ?? 3_600_000,
      (pid, startTime) => {
        this.#save({ ...this.#record, inProgress: { pid, startTime } });
      },
    );
  }

  /** Puts the last applied module back (an empty VM set if none was ever applied). */
  #restoreLastGood(): void {
    const text = existsSync(this.#lastGoodFile)
      ? readFileSync(this.#lastGoodFile, "utf8")
      : nixText(renderNixosModule(this.#o.node, []));
    writeFileAtomic(this.#o.configFile, text, 0o644);
  }

  /** `system-42-link` → 42; 0 when the profile is not there (not NixOS, or a test). */
  #systemGeneration(): number {
    try {
      const link = readlinkSync(this.#o.systemProfile ?? "/nix/var/nix/profiles/system");
      const m = /-(\d+)-link$/.exec(link);
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Stops starting rebuilds; one that runs is left to finish (it is recorded, see above). */
  close(): void {
    this.#closed = true;
    this.#timer?.();
    this.#timer = undefined;
    this.#retryTimer?.();
  }
}
