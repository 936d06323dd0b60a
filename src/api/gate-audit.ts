import { status as Status } from "@grpc/grpc-js";
import { describeIdentity, type Identity } from "../domain/identity.js";
import { toGrpcStatus } from "./grpc-errors.js";

/**
 * What the gate tells the audit log about a call (the calls the authorisation table marks as
 * audited): who, which method, about which resource, and how it ended.
 */

/** One audited call, as the audit log records it. */
export interface AuditedCall {
  readonly identity: string;
  readonly role: string;
  readonly method: string;
  readonly resource: string;
}

/** Where audited calls are recorded (the controller's audit log). */
export interface GateAudit {
  /** Runs the call's handler, recording how it ended (or its first change). */
  record<T>(call: AuditedCall, fn: () => Promise<T>, codeOf: (e: unknown) => string): Promise<T>;
  /** Records a call refused before its handler ran. */
  refused(call: AuditedCall, code: string, message: string): void;
}

export const codeName = (e: unknown): string => Status[toGrpcStatus(e).code];

/** `Vm/web` from ApplyVm's request: the kind from the method, the name from the request. */
export function auditResource(method: string, request: unknown): string {
  const verb = method.slice(method.lastIndexOf("/") + 1);
  const kind = verb
    .replace(/^(Apply|Delete|Set|Sign|Register|Upload|Attach)/, "")
    .replace(/(State|Certificate)$/, "");
  const r = (typeof request === "object" && request !== null ? request : {}) as Record<
    string,
    unknown
  >;
  let name: unknown = r.name ?? r.nodeName;
  if (name === undefined)
    for (const v of Object.values(r)) {
      const meta = (v as { metadata?: { name?: unknown } } | null | undefined)?.metadata;
      if (typeof v === "object" && typeof meta?.name === "string") name = meta.name;
    }
  return typeof name === "string" && name !== "" ? `${kind}/${name.slice(0, 253)}` : kind;
}

export function auditedCall(
  method: string,
  identity: Identity | undefined,
  request: unknown,
): AuditedCall {
  return {
    identity: identity === undefined ? "" : describeIdentity(identity),
    role: identity === undefined || identity.kind === "unknown" ? "" : identity.kind,
    method,
    resource: auditResource(method, request),
  };
}
