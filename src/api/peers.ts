/** The part of an HTTP/2 session the gate needs: closing it, and knowing when it closed. */
export interface PeerSession {
  destroy(): void;
  once(event: "close", listener: () => void): unknown;
}

/**
 * Client certificates by serial: the serials refused (revoked) and the connections open with
 * each, so that a revocation closes them at once. Serials are lower-case hex without leading
 * zeros (see normalSerial).
 */
export class Peers {
  #revoked: ReadonlySet<string> = new Set();
  readonly #sessions = new Map<string, Set<PeerSession>>();

  /** Replaces the refused serials. */
  setRevoked(serials: Iterable<string>): void {
    this.#revoked = new Set(serials);
  }

  isRevoked(serial: string): boolean {
    return this.#revoked.has(serial);
  }

  /** Remembers that `session` authenticated with `serial`, until it closes. */
  track(serial: string, session: PeerSession): void {
    let set = this.#sessions.get(serial);
    if (!set) {
      set = new Set();
      this.#sessions.set(serial, set);
    }
    if (set.has(session)) return;
    set.add(session);
    const forget = set;
    session.once("close", () => {
      forget.delete(session);
      if (forget.size === 0 && this.#sessions.get(serial) === forget) this.#sessions.delete(serial);
    });
  }

  /** Closes every open connection made with one of `serials`; returns how many. */
  cut(serials: Iterable<string>): number {
    let n = 0;
    for (const serial of serials) {
      const set = this.#sessions.get(serial);
      if (!set) continue;
      this.#sessions.delete(serial);
      for (const s of set) {
        s.destroy();
        n++;
      }
    }
    return n;
  }

  /** Open connections by serial (for metrics and tests). */
  openCount(serial: string): number {
    return this.#sessions.get(serial)?.size ?? 0;
  }
}
