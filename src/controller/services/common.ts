import { KcoreError } from "../../domain/errors.js";
import { isReady, type Node } from "../../domain/node.js";
import { untilAborted } from "../../api/gate.js";
import { ApplyOutcome, WatchEventType } from "../../gen/kcore/v1/meta_pb.js";
import type { Resource, ResourceEvent, ResourceStore } from "../../store/resource-store.js";
import type { ControllerContext } from "../context.js";

/** What every resource service shares: outcomes and watch events on the wire, watches, node lookup. */
export const OUTCOME = {
  created: ApplyOutcome.CREATED,
  configured: ApplyOutcome.CONFIGURED,
  unchanged: ApplyOutcome.UNCHANGED,
} as const;

export const EVENT = {
  ADDED: WatchEventType.ADDED,
  MODIFIED: WatchEventType.MODIFIED,
  DELETED: WatchEventType.DELETED,
} as const;

/**
 * Streams a store's changes until `signal` aborts: first every current resource as ADDED, then
 * each durable change. With `only`, just that resource.
 */
export async function watchStore<Spec, Status>(
  store: ResourceStore<Spec, Status>,
  only: string | undefined,
  signal: AbortSignal,
  send: (type: WatchEventType, r: Resource<Spec, Status>) => void,
): Promise<void> {
  const onChange = (e: ResourceEvent<Resource<Spec, Status>>): void => {
    if (only === undefined || e.resource.metadata.name === only) send(EVENT[e.type], e.resource);
  };
  store.events.on("change", onChange);
  try {
    for (const r of store.list())
      if (only === undefined || r.metadata.name === only) send(WatchEventType.ADDED, r);
    await untilAborted(signal);
  } finally {
    store.events.off("change", onChange);
  }
}

/** The ready node a resource runs on, for calls that go through to its agent (logs, console). */
export function readyNodeOf(
  c: ControllerContext,
  kind: string,
  name: string,
  nodeName: string,
): Node {
  if (nodeName === "")
    throw new KcoreError(
      "FailedPrecondition",
      `${kind} '${name}' has not been placed on a node yet`,
    );
  const node = c.nodes.get(nodeName);
  if (!node)
    throw new KcoreError(
      "FailedPrecondition",
      `node '${nodeName}' of ${kind} '${name}' is not registered`,
    );
  if (!isReady(node, c.now().getTime()))
    throw new KcoreError("Unavailable", `node '${nodeName}' is not ready`);
  return node;
}
