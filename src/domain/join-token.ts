import { InvalidFieldError, showValue } from "./errors.js";

/**
 * A bootstrap token: `K10<sha256 of the root CA, hex>::<id>.<secret>`. The hash lets a joining
 * node trust the controller before it has the CA; the id names the token in the registry; the
 * secret is what proves the holder may join (stored only as its SHA-256).
 */
export interface JoinToken {
  readonly caSha256: string;
  readonly id: string;
  readonly secret: string;
}

const ID = /^[a-z0-9]{6}$/;
const SECRET = /^[a-z0-9]{32}$/;
const HASH = /^[0-9a-f]{64}$/;
/** Longest token text accepted before parsing (a real one is 109 characters). */
const MAX_TOKEN = 256;

export function formatJoinToken(t: JoinToken): string {
  return `K10${t.caSha256}::${t.id}.${t.secret}`;
}

/** Parses a token, naming `field` in the error; nothing else is accepted. */
export function parseJoinToken(field: string, text: string): JoinToken {
  const bad = (why: string): InvalidFieldError =>
    new InvalidFieldError(
      field,
      `${why}: expected K10<64 hex>::<6 chars>.<32 chars> from 'kctl node token create', got ${showValue(text)}`,
    );
  if (text.length > MAX_TOKEN) throw bad("too long");
  const m = /^K10([^:]*)::([^.]*)\.(.*)$/.exec(text.trim());
  if (!m) throw bad("not a join token");
  const [, caSha256 = "", id = "", secret = ""] = m;
  if (!HASH.test(caSha256)) throw bad("the CA hash is not 64 lower-case hex digits");
  if (!ID.test(id)) throw bad("the token id is not 6 of [a-z0-9]");
  if (!SECRET.test(secret)) throw bad("the secret is not 32 of [a-z0-9]");
  return { caSha256, id, secret };
}

/** Just the `<id>.<secret>` part, which is all the controller needs (it knows its CA). */
export function parseTokenCredential(field: string, text: string): { id: string; secret: string } {
  const m = /^(?:K10[0-9a-f]{64}::)?([a-z0-9]{6})\.([a-z0-9]{32})$/.exec(text);
  if (text.length > MAX_TOKEN || !m?.[1] || !m[2])
    throw new InvalidFieldError(field, "not a join token");
  return { id: m[1], secret: m[2] };
}

/** Longest and default token lifetimes. */
export const JOIN_TOKEN_TTL = { defaultMs: 3_600_000, maxMs: 30 * 86_400_000 } as const;
