/**
 * Admission, the gate's first step: who is calling (from the connection's client certificate,
 * cached per HTTP/2 session), whether that certificate is revoked or expired, and what the
 * authorisation table says. Every call of every daemon passes here before its handler.
 */
import { authorize } from "../domain/authz.js";
import { KcoreError, PermissionDeniedError } from "../domain/errors.js";
import { describeIdentity, identityFromCommonName, type Identity } from "../domain/identity.js";
import { normalSerial } from "../pki/serial.js";
import type { Peers, PeerSession } from "./peers.js";

export type AnyCall = {
  getAuthContext(): {
    sslPeerCertificate?: { subject: { CN?: unknown }; serialNumber?: unknown; valid_to?: unknown };
  } | null;
  request?: unknown;
};

/** Who is calling, from the certificate of the connection the call arrived on. */
export interface Peer {
  readonly identity: Identity;
  /** The client certificate's serial (lower-case hex, no leading zeros). */
  readonly serial: string;
  /** The serial of the CA that signed it (an intermediate), when the connection tells. */
  readonly issuerSerial: string;
  readonly notAfter: Date;
}

/** Peers by HTTP/2 session: a connection's client certificate is fixed once it is up. */
const sessionPeers = new WeakMap<object, Peer>();

type Session = PeerSession & object;

/**
 * The HTTP/2 session a call arrived on. grpc-js does not expose it, so this looks along its
 * internal fields and gives up (returning undefined) if they change: the peer is then read from
 * the certificate on every call, which is correct, only slower (and revocation then refuses the
 * calls of open connections instead of closing them).
 */
function sessionOf(call: AnyCall): Session | undefined {
  type Stream = { stream?: { session?: unknown } };
  const inner = (call as { call?: Stream & { nextCall?: Stream } }).call;
  const session = inner?.nextCall?.stream?.session ?? inner?.stream?.session;
  return typeof session === "object" &&
    session !== null &&
    typeof (session as Partial<Session>).destroy === "function" &&
    typeof (session as Partial<Session>).once === "function"
    ? (session as Session)
    : undefined;
}

function callPeer(call: AnyCall, peers: Peers | undefined): Peer | undefined {
  // getPeerCertificate builds a JavaScript object from the certificate each time it is called:
  // measured at about 70 µs, the largest single cost of a small call. A peer cannot change its
  // certificate within a session without renegotiation, and renegotiation can only present
  // another certificate the same peer holds.
  const session = sessionOf(call);
  const cached = session === undefined ? undefined : sessionPeers.get(session);
  if (cached) return cached;
  const cert = call.getAuthContext()?.sslPeerCertificate;
  const cn = cert?.subject.CN;
  if (typeof cn !== "string") return undefined;
  const peer: Peer = {
    identity: identityFromCommonName(cn),
    serial: typeof cert?.serialNumber === "string" ? normalSerial(cert.serialNumber) : "",
    issuerSerial: session === undefined ? "" : issuerSerialOf(session),
    notAfter: new Date(typeof cert?.valid_to === "string" ? cert.valid_to : 0),
  };
  if (session !== undefined) {
    sessionPeers.set(session, peer);
    // Revoking the leaf or the intermediate that signed it closes the connection.
    peers?.track(peer.serial, session);
    if (peer.issuerSerial !== "") peers?.track(peer.issuerSerial, session);
  }
  return peer;
}

/** The serial of the CA above the client's certificate in the verified chain, once per session. */
function issuerSerialOf(session: object): string {
  const socket = (session as { socket?: { getPeerCertificate?: (detailed: boolean) => unknown } })
    .socket;
  if (typeof socket?.getPeerCertificate !== "function") return "";
  const detailed = socket.getPeerCertificate(true) as {
    issuerCertificate?: { serialNumber?: unknown };
  };
  const s = detailed.issuerCertificate?.serialNumber;
  return typeof s === "string" ? normalSerial(s) : "";
}

export function peerIdentity(call: AnyCall): Identity | undefined {
  return callPeer(call, undefined)?.identity;
}

const ANONYMOUS: Peer = {
  identity: { kind: "anonymous" },
  serial: "",
  issuerSerial: "",
  notAfter: new Date(0),
};

/** A caller without a certificate: only for the methods the table opens to anonymous callers. */
function anonymousPeer(method: string): Peer {
  if (authorize(method, ANONYMOUS.identity).kind !== "allow")
    throw new KcoreError("Unauthenticated", "a client certificate is required");
  return ANONYMOUS;
}

/**
 * The one gate every call passes: identity from the peer certificate, not revoked, the
 * authorisation table, a node acting only as itself, and errors mapped to gRPC codes without
 * stack traces.
 */
export function admit(method: string, call: AnyCall, peers: Peers | undefined): Peer {
  const peer = callPeer(call, peers) ?? anonymousPeer(method);
  // The handshake already refuses a revoked certificate; this covers a connection opened
  // before the revocation, in the moment before it is closed.
  if (peers?.isRevoked(peer.serial))
    throw new KcoreError(
      "Unauthenticated",
      `certificate ${peer.serial} (${describeIdentity(peer.identity)}) has been revoked`,
    );
  if (peer.issuerSerial !== "" && peers?.isRevoked(peer.issuerSerial))
    throw new KcoreError(
      "Unauthenticated",
      `certificate ${peer.serial} (${describeIdentity(peer.identity)}) was signed by revoked CA ${peer.issuerSerial}`,
    );
  // A connection outlives nothing: one opened before its certificate expired is refused after.
  if (peer.serial !== "" && peer.notAfter.getTime() < Date.now())
    throw new KcoreError(
      "Unauthenticated",
      `certificate ${peer.serial} (${describeIdentity(peer.identity)}) expired at ${peer.notAfter.toISOString()}`,
    );
  const identity = peer.identity;
  const decision = authorize(method, identity);
  switch (decision.kind) {
    case "allow":
      return peer;
    case "allow-as-node": {
      const req = (call.request ?? {}) as { nodeName?: unknown };
      if (typeof req.nodeName === "string" && req.nodeName !== decision.nodeName) {
        throw new PermissionDeniedError(
          `${describeIdentity(identity)} may act only as node '${decision.nodeName}', not '${req.nodeName}'`,
        );
      }
      return peer;
    }
    case "deny":
      throw new PermissionDeniedError(`${describeIdentity(identity)}: ${decision.reason}`);
  }
}

/**
 * Whose budget a call spends (rate and streams): the identity, or for callers without a
 * certificate (the join port) their address, so that one flood of joins does not stop others.
 */
export function limitKey(identity: Identity, call: { getPeer(): string }): string {
  if (identity.kind !== "anonymous") return describeIdentity(identity);
  const peer = call.getPeer();
  return `anonymous@${peer.replace(/^ipv[46]:/, "").replace(/:\d+$/, "")}`;
}
