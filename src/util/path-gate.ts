import { lstatSync, mkdirSync, realpathSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { KcoreError } from "../domain/errors.js";

declare const rooted: unique symbol;
/** A path proven to lie inside a root directory, symlinks resolved. */
export type RootedPath = string & { readonly [rooted]: true };

function inside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * The file-system half of the path gate: joins `parts` under `root`, refuses NUL, traversal and
 * any existing symlink on the way that leads outside `root`. Optionally creates the directory.
 */
export function gatePath(
  root: string,
  parts: readonly string[],
  opts: { mkdir?: boolean } = {},
): RootedPath {
  for (const p of parts) {
    if (p.includes("\0"))
      throw new KcoreError("InvalidArgument", `path segment ${JSON.stringify(p)} contains NUL`);
    if (p === "" || p === "." || p === ".." || p.includes("/"))
      throw new KcoreError(
        "InvalidArgument",
        `path segment ${JSON.stringify(p)} is not a plain name`,
      );
  }
  const realRoot = realpathSync(root);
  const target = resolve(realRoot, ...parts);
  if (!inside(realRoot, target))
    throw new KcoreError("InvalidArgument", `path ${JSON.stringify(target)} escapes ${realRoot}`);
  if (opts.mkdir === true) mkdirSync(target, { recursive: true, mode: 0o750 });
  // Every existing component must resolve inside the root.
  let cur = realRoot;
  for (const p of parts) {
    cur = resolve(cur, p);
    try {
      lstatSync(cur);
    } catch {
      break; // does not exist yet: nothing to follow
    }
    const real = realpathSync(cur);
    if (!inside(realRoot, real))
      throw new KcoreError(
        "InvalidArgument",
        `path ${JSON.stringify(cur)} resolves to ${JSON.stringify(real)}, outside ${realRoot}`,
      );
  }
  return target as RootedPath;
}

/**
 * Resolves an operator-given path on the node (a hostPath volume, a VM's kernel or disk): it
 * must exist, be of the expected type after resolving symlinks, and lie outside every
 * `forbidden` tree (the agent's own data). `what` names it in errors ("hostPath", "spec.boot.kernel").
 */
export function gateHostPath(
  what: string,
  path: string,
  type: "directory" | "file",
  forbidden: readonly string[],
): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new KcoreError(
      "FailedPrecondition",
      `${what} ${JSON.stringify(path)} does not exist on this node`,
    );
  }
  const st = lstatSync(real);
  const ok = type === "directory" ? st.isDirectory() : st.isFile() || st.isBlockDevice();
  if (!ok)
    throw new KcoreError(
      "FailedPrecondition",
      `${what} ${JSON.stringify(path)} is not a ${type === "directory" ? "directory" : "file or block device"}`,
    );
  for (const f of forbidden) {
    let realF: string;
    try {
      realF = realpathSync(f);
    } catch {
      continue;
    }
    if (inside(realF, real) || inside(real, realF)) {
      throw new KcoreError(
        "PermissionDenied",
        `${what} ${JSON.stringify(path)} overlaps the kcore data directory ${realF}`,
      );
    }
  }
  return real;
}

/** A hostPath volume's directory: see gateHostPath. */
export function gateHostDirectory(path: string, forbidden: readonly string[]): string {
  return gateHostPath("hostPath", path, "directory", forbidden);
}
