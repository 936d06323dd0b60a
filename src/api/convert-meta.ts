import { create } from "@bufbuild/protobuf";
import { ObjectMetaSchema, type ObjectMeta as PbObjectMeta } from "../gen/kcore/v1/meta_pb.js";
import type { ObjectMeta } from "../domain/wasm-workload.js";

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
