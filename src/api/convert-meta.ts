import { create } from "@bufbuild/protobuf";
import { ObjectMetaSchema, type ObjectMeta as PbObjectMeta } from "../gen/kcore/v1/meta_pb.js";
import type { ObjectMeta } from "../domain/meta.js";
import { parseLabels, parseName } from "../domain/names.js";

export function metaToProto(m: ObjectMeta): PbObjectMeta {
  return create(ObjectMetaSchema, {
    name: m.name,
    labels: { ...m.labels },
    uid: m.uid,
    generation: BigInt(m.generation),
    resourceVersion: BigInt(m.resourceVersion),
    creationTimestamp: m.creationTimestamp,
  });
}

/** Metadata the controller wrote, read back by kctl or an agent; the name is checked again. */
export function metaFromProtoTrusted(m: PbObjectMeta | undefined): ObjectMeta {
  return {
    name: parseName("metadata.name", m?.name ?? ""),
    labels: parseLabels("metadata.labels", m?.labels ?? {}),
    uid: m?.uid ?? "",
    generation: Number(m?.generation ?? 0n),
    resourceVersion: Number(m?.resourceVersion ?? 0n),
    creationTimestamp: m?.creationTimestamp ?? "",
  };
}
