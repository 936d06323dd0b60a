import { KcoreError } from "../../domain/errors.js";
import { WatchEventType } from "../../gen/kcore/v1/meta_pb.js";
import type { GlobalFlags } from "../connect.js";
import { describeDocument, renderDocuments, table, type OutputFormat } from "../format.js";
import type { Kind } from "../kinds.js";
import { out } from "../output.js";
import { withView, type KindView } from "../views.js";

export async function get(
  kind: Kind,
  name: string | undefined,
  format: OutputFormat,
  watch: boolean,
  flags: GlobalFlags,
): Promise<void> {
  await withView(kind, flags, (v) => (watch ? watchKind(v, name, format) : list(v, name, format)));
}

async function list<T>(
  v: KindView<T>,
  name: string | undefined,
  format: OutputFormat,
): Promise<void> {
  const items = await v.fetch(name);
  const wide = format === "wide";
  if (format === "json" || format === "yaml")
    out.line(
      renderDocuments(
        items.map((i) => v.document(i)),
        format,
        name === undefined,
      ),
    );
  else if (items.length === 0) process.stderr.write("No resources found.\n");
  else out.line(table([v.header(wide), ...items.map((i) => v.row(i, wide))]));
}

async function watchKind<T>(
  v: KindView<T>,
  name: string | undefined,
  format: OutputFormat,
): Promise<void> {
  if (!v.watch)
    throw new KcoreError("InvalidArgument", "--watch is supported for wasm workloads and VMs");
  const wide = format === "wide";
  let printedHeader = false;
  for await (const e of v.watch(name)) {
    if (e.item === undefined) continue;
    if (format === "json")
      out.line(JSON.stringify({ type: WatchEventType[e.type], object: v.document(e.item) }));
    else if (format === "yaml")
      out.line(`---\n${renderDocuments([v.document(e.item)], "yaml", false)}`);
    else {
      const row = v.row(e.item, wide);
      if (e.type === WatchEventType.DELETED) row[1] = "Deleted";
      const text = table([v.header(wide), row]).split("\n");
      if (!printedHeader) out.line(text[0]);
      printedHeader = true;
      out.line(text[1]);
    }
  }
}

export async function describe(kind: Kind, name: string, flags: GlobalFlags): Promise<void> {
  await withView(kind, flags, async (v) => {
    for (const item of await v.fetch(name)) out.line(describeDocument(v.document(item)));
  });
}
