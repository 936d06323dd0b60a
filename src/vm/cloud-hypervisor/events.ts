/** One event from CH's `--event-monitor` file. */
export interface ChEvent {
  readonly secs: number;
  readonly source: string;
  readonly event: string;
  readonly properties: Readonly<Record<string, string>> | null;
}

function asEvent(v: unknown): ChEvent | undefined {
  if (v === null || typeof v !== "object") return undefined;
  const o = v as Record<string, unknown>;
  const ts = o.timestamp as { secs?: unknown } | null | undefined;
  if (typeof o.source !== "string" || typeof o.event !== "string") return undefined;
  const props = o.properties;
  const properties =
    props !== null && typeof props === "object"
      ? Object.fromEntries(
          Object.entries(props as Record<string, unknown>).map(([k, x]) => [k, String(x)]),
        )
      : null;
  return {
    secs: typeof ts?.secs === "number" ? ts.secs : 0,
    source: o.source,
    event: o.event,
    properties,
  };
}

/**
 * Splits the event file's text into events. CH writes each event as pretty-printed JSON followed
 * by a blank line (not JSON Lines). A trailing event still being written (no blank line yet) is
 * left in `rest` for the next read; anything unparsable between separators is skipped.
 */
export function parseChEvents(text: string): { events: ChEvent[]; rest: string } {
  const parts = text.split(/\r?\n\r?\n/);
  const rest = parts.pop() ?? "";
  const events: ChEvent[] = [];
  for (const p of parts) {
    if (p.trim() === "") continue;
    try {
      const e = asEvent(JSON.parse(p));
      if (e) events.push(e);
    } catch {
      // a torn or foreign block: skip it
    }
  }
  return { events, rest };
}
